//! `atsd token create|list|revoke`: the HTTP API's tokens.

use super::env::Env;
use super::output::{opt_time, print_json, print_table, table, time};
use super::{CmdResult, TokenCmd};
use crate::store::tokens::{self, Scope};
use serde_json::json;

pub(super) async fn token(env: &Env, cmd: TokenCmd) -> CmdResult {
    let store = env.store().await?;
    match cmd {
        TokenCmd::Create {
            name,
            scope,
            person,
        } => {
            let scope = Scope::parse(&scope)?;
            let person = match &person {
                Some(email) => Some(crate::store::people::require(store.conn(), email).await?),
                None => None,
            };
            let (secret, t) =
                tokens::create_for(&store, &name, scope, person.as_ref().map(|p| p.id), env.now)
                    .await?;
            if env.json {
                return print_json(&json!({"token": secret, "name": t.name, "scope": t.scope,
                    "person": person.as_ref().map(|p| &p.email)}));
            }
            println!("{secret}");
            eprintln!(
                "token `{}` ({} scope{}) created; it is shown this once: keep it now",
                t.name,
                t.scope,
                person
                    .as_ref()
                    .map(|p| format!(", for {}", p.email))
                    .unwrap_or_default()
            );
            Ok(())
        }
        TokenCmd::List => {
            let rows = tokens::list(&store).await?;
            if env.json {
                return print_json(&rows);
            }
            let mut t = table(["NAME", "SCOPE", "PREFIX", "CREATED", "LAST USED", "REVOKED"]);
            for r in &rows {
                t.add_row(vec![
                    r.name.clone(),
                    r.scope.clone(),
                    format!("{}…", r.prefix),
                    time(&r.created_at),
                    opt_time(&r.last_used_at),
                    opt_time(&r.revoked_at),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        TokenCmd::Revoke { name } => {
            let t = tokens::revoke(&store, &name, env.now).await?;
            if env.json {
                return print_json(&t);
            }
            println!("token `{}` revoked", t.name);
            Ok(())
        }
    }
}
