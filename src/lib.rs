//! atsd — applicant tracking workflow daemon.
//!
//! One module per capability (the book's "Architecture" chapter in docs/ has one line for each);
//! `main.rs` only parses arguments and calls [`cli::main`].
//! The pure parts (pipeline, rules, URL recognition, cron, posting files,
//! candidate fields, events, backoff, report) do no I/O.

pub mod api;
pub mod backoff;
pub mod candidate_fields;
pub mod careers;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error;
pub mod events;
pub mod import;
pub mod inbound;
pub mod interviews;
pub mod jobs;
pub mod logging;
pub mod mail;
pub mod pipeline;
pub mod poll;
pub mod posting;
pub mod recruiter_board;
pub mod report;
pub mod requests;
pub mod rules;
pub mod schedule;
pub mod secret_file;
pub mod selfservice;
pub mod service;
pub mod store;
pub mod templates;
pub mod tls;
pub mod webhooks;
pub mod workflow;

pub use error::{Error, Result};
