//! sea-orm entities of atsd: one module per table. The application crate reaches
//! them only through its `store` module.

pub mod api_token;
pub mod application;
pub mod candidate;
pub mod idempotency_key;
pub mod job_run;
pub mod outbox;
pub mod outbox_body;
pub mod posting;
pub mod posting_history;
pub mod transition;
pub mod webhook_in;
