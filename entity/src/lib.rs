//! sea-orm entities of atsd: one module per table. The application crate reaches
//! them only through its `store` module.

pub mod api_token;
pub mod application;
pub mod application_file;
pub mod application_form;
pub mod availability;
pub mod board_session;
pub mod candidate;
pub mod data_request;
pub mod event;
pub mod idempotency_key;
pub mod inbound_message;
pub mod interview;
pub mod interview_offer;
pub mod interview_person;
pub mod job_run;
pub mod outbox;
pub mod outbox_body;
pub mod person;
pub mod posting;
pub mod posting_history;
pub mod posting_team;
pub mod quarantine_sender;
pub mod self_service_use;
pub mod transition;
pub mod undeliverable_address;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_in;
