//! `atsd person add|list|show|remove` and `atsd posting assign`: the hiring
//! side and the teams that own postings.

use super::env::Env;
use super::output::{opt, opt_time, print_json, print_table, table, time};
use super::{CmdResult, PersonCmd};
use crate::store::people::{self, PersonInput, TeamSpec};
use crate::store::postings;
use serde_json::json;

/// The locale a person's emails will really be in, when it is not the one
/// asked for (no templates in it): said at once, as for candidates.
fn locale_note(env: &Env, locale: Option<&str>) -> Option<String> {
    let asked = locale?;
    let default = &env.config().org.default_locale;
    let got = env
        .renderer
        .resolve_locale("recruiter_digest", asked, default)?;
    let language = asked.split('-').next().unwrap_or(asked);
    (got != asked && got != language).then(|| {
        format!("there are no templates in locale `{asked}`: their emails will be in `{got}`")
    })
}

// Stays whole: a dispatch, one arm per subcommand.
pub(super) async fn command(env: &Env, cmd: PersonCmd) -> CmdResult {
    let store = env.store().await?;
    match cmd {
        PersonCmd::Add {
            email,
            name,
            timezone,
            locale,
        } => {
            let p = people::add(
                &store,
                &PersonInput {
                    email,
                    name,
                    timezone,
                    locale,
                },
                env.now,
            )
            .await?;
            let note = locale_note(env, p.locale.as_deref());
            if env.json {
                return print_json(&json!({"person": p, "note": note}));
            }
            println!("{}", p.id);
            eprintln!(
                "person {} added: {} <{}>, time zone {}, locale {}",
                p.id,
                p.name,
                p.email,
                p.timezone.as_deref().unwrap_or(&format!(
                    "{} (the schedule's)",
                    env.config().schedule.timezone
                )),
                p.locale.as_deref().unwrap_or(&format!(
                    "{} (the default)",
                    env.config().org.default_locale
                )),
            );
            if let Some(n) = note {
                eprintln!("note: {n}");
            }
            Ok(())
        }
        PersonCmd::List { all } => {
            let list = people::list(&store, all).await?;
            if env.json {
                return print_json(&list);
            }
            let mut t = table(["ID", "EMAIL", "NAME", "TIME ZONE", "LOCALE", "ACTIVE"]);
            for p in &list {
                t.add_row(vec![
                    p.id.to_string(),
                    p.email.clone(),
                    p.name.clone(),
                    opt(&p.timezone),
                    opt(&p.locale),
                    if p.active {
                        "yes".into()
                    } else {
                        format!("removed {}", opt_time(&p.deactivated_at))
                    },
                ]);
            }
            print_table(&t);
            Ok(())
        }
        PersonCmd::Show { email } => {
            let Some(p) = people::find_any(store.conn(), &email).await? else {
                return Err(crate::Error::NotFound(format!(
                    "no person `{}`",
                    email.trim()
                )));
            };
            let ids = people::postings_of(store.conn(), p.id).await?;
            let teams = people::teams(store.conn(), &ids, false).await?;
            let found = postings::by_ids(store.conn(), &ids).await?;
            let mut owned = Vec::new();
            for post in &found {
                let id = &post.id;
                let roles: Vec<&str> = teams
                    .get(id)
                    .into_iter()
                    .flatten()
                    .filter(|(_, m)| m.id == p.id)
                    .map(|(r, _)| r.as_str())
                    .collect();
                owned.push(json!({"id": post.id, "title": post.title, "status": post.status, "roles": roles}));
            }
            if env.json {
                return print_json(&json!({"person": p, "postings": owned}));
            }
            for (k, v) in [
                ("id", p.id.to_string()),
                ("email", p.email.clone()),
                ("name", p.name.clone()),
                ("time zone", opt(&p.timezone)),
                ("locale", opt(&p.locale)),
                (
                    "active",
                    if p.active {
                        "yes".into()
                    } else {
                        format!("no, removed {}", opt_time(&p.deactivated_at))
                    },
                ),
                ("added", time(&p.created_at)),
            ] {
                println!("{k:<10} {v}");
            }
            println!();
            println!("postings:");
            let mut t = table(["ID", "ROLES", "STATUS", "TITLE"]);
            for o in &owned {
                t.add_row(vec![
                    o["id"].to_string(),
                    o["roles"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                    o["status"].as_str().unwrap_or_default().to_string(),
                    o["title"].as_str().unwrap_or_default().to_string(),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        PersonCmd::Availability {
            email,
            weekly,
            busy_feed,
            no_busy_feed,
            refresh,
        } => {
            super::availability::person(
                env,
                &email,
                &weekly,
                busy_feed.as_deref(),
                no_busy_feed,
                refresh,
            )
            .await
        }
        PersonCmd::Remove { email } => {
            let p = people::remove(&store, &email, env.now).await?;
            if env.json {
                return print_json(&p);
            }
            println!(
                "{} <{}> removed: their tokens no longer work, their postings fall back to [recruiters] emails",
                p.name, p.email
            );
            Ok(())
        }
    }
}

pub(super) async fn assign(env: &Env, posting: &str, team: &TeamSpec) -> CmdResult {
    let store = env.store().await?;
    let p = postings::find(store.conn(), posting).await?;
    let txn = store.begin_write().await?;
    let members =
        crate::workflow::audited::change_team(&txn, p.id, team, &super::actor(), env.now).await?;
    txn.commit().await?;
    if env.json {
        return print_json(&json!({"posting": p.id, "team": members}));
    }
    if members.is_empty() {
        println!(
            "posting {}: no team; its reminders and digest lines go to [recruiters] emails",
            p.id
        );
        return Ok(());
    }
    println!("posting {} ({}):", p.id, p.title);
    print_team(&members);
    Ok(())
}

pub(super) fn print_team(members: &[people::Member]) {
    let mut t = table(["ROLE", "EMAIL", "NAME"]);
    for m in members {
        t.add_row(vec![
            m.role.replace('_', " "),
            m.email.clone(),
            if m.active {
                m.name.clone()
            } else {
                format!("{} (removed)", m.name)
            },
        ]);
    }
    print_table(&t);
}
