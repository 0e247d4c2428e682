//! Group commit for `POST /v1/applications`: a writer task takes the
//! requests waiting when it is free (up to [`MAX_GROUP`]) and writes them in
//! one transaction (one writer on SQLite, [`POSTGRES_WRITERS`] on PostgreSQL), each in a savepoint of its own, so that one refused
//! request (a second application, an unknown posting) takes nothing else
//! with it. Every request is answered after its transaction committed, never
//! before. Under load this turns many small transactions, each waiting for
//! the database's write lock (SQLite) or its own commit (PostgreSQL), into a
//! few large ones.

use crate::config::EmailChoice;
use crate::error::{Error, Result};
use crate::jobs::Runner;
use crate::store::Store;
use crate::store::candidates::CandidateInput;
use crate::workflow::{self, NewApplication};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most requests written in one transaction.
pub const MAX_GROUP: usize = 64;

/// One intake request, validated, waiting to be written.
pub struct Request {
    pub runner: Arc<Runner>,
    pub token_id: i64,
    pub actor: String,
    pub posting: String,
    pub input: CandidateInput,
    /// The `Idempotency-Key` and the request's hash, kept with the answer.
    pub key: Option<(String, String)>,
    /// What an application through the careers site or Greenhouse's Job
    /// Board API brought beside the candidate (its files already kept).
    pub form: Option<crate::store::careers::NewForm>,
}

type Job = (Request, oneshot::Sender<Result<String>>);

#[derive(Clone)]
pub struct Queue {
    tx: mpsc::Sender<Job>,
}

impl Queue {
    /// Starts the writers on `store`: one on SQLite, which takes one writer
    /// at a time anyway; on PostgreSQL several, since its transactions
    /// commit side by side and one writer would wait on each round trip.
    pub fn start(store: Store) -> Queue {
        let (tx, rx) = mpsc::channel(MAX_GROUP * 16);
        let writers = match store.backend() {
            sea_orm::DbBackend::Postgres => POSTGRES_WRITERS,
            _ => 1,
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..writers {
            tokio::spawn(writer(store.clone(), rx.clone()));
        }
        Queue { tx }
    }

    /// Writes `r` with the next group; its answer (the application as JSON),
    /// once committed.
    pub async fn submit(&self, r: Request) -> Result<String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((r, tx))
            .await
            .map_err(|_| Error::Other("the intake writer has stopped".into()))?;
        rx.await
            .map_err(|_| Error::Other("the intake writer dropped the request".into()))?
    }
}

/// Writers on PostgreSQL (its pool has 10 connections; the jobs keep the rest).
pub const POSTGRES_WRITERS: usize = 6;

async fn writer(store: Store, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        // the group is taken under the lock; it is written without it
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            group
        };
        write_group(&store, group).await;
    }
}

async fn write_group(store: &Store, group: Vec<Job>) {
    let now = chrono::Utc::now();
    let txn = match store.begin_write().await {
        Ok(t) => t,
        Err(e) => {
            let msg = e.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(Error::Other(msg.clone())));
            }
            return;
        }
    };
    let mut results: Vec<(oneshot::Sender<Result<String>>, Result<String>)> =
        Vec::with_capacity(group.len());
    for (r, reply) in group {
        let outcome = async {
            let sp = crate::store::savepoint(&txn).await?;
            let done = one(&sp, &r, now).await;
            match done {
                Ok(answer) => {
                    sp.commit().await?;
                    Ok(answer)
                }
                Err(e) => {
                    sp.rollback().await?;
                    Err(e)
                }
            }
        }
        .await;
        results.push((reply, outcome));
    }
    match txn.commit().await {
        Ok(()) => {
            for (reply, outcome) in results {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            let msg = format!("the transaction failed: {e}");
            for (reply, _) in results {
                let _ = reply.send(Err(Error::Other(msg.clone())));
            }
        }
    }
}

async fn one<C: sea_orm::ConnectionTrait>(
    c: &C,
    r: &Request,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let ctx = r.runner.ctx(now);
    let new = NewApplication {
        stage: None,
        applied_at: None,
        actor: r.actor.clone(),
        reason: None,
        email: EmailChoice::StageDefault,
    };
    let created = workflow::apply_in(c, &ctx, &r.posting, &r.input, &new).await?;
    if let Some(form) = &r.form {
        crate::store::careers::insert_form(c, created.application.id, form, now).await?;
    }
    let answer = serde_json::to_string(&created)
        .map_err(|e| Error::Other(format!("cannot write the answer: {e}")))?;
    if let Some((key, hash)) = &r.key {
        crate::store::idempotency::keep(c, r.token_id, key, hash, 201, &answer, now).await?;
    }
    Ok(answer)
}
