//! atsd — applicant tracking workflow daemon.
//!
//! One module per capability; `main.rs` only parses arguments and calls [`cli::run`].
//! The pure parts (pipeline, URL recognition, cron, posting files, intake
//! validation, report) do no I/O.

pub mod api;
pub mod backoff;
pub mod board;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod error;
pub mod events;
pub mod import;
pub mod intake;
pub mod jobs;
pub mod logging;
pub mod mail;
pub mod pipeline;
pub mod poll;
pub mod posting;
pub mod report;
pub mod rules;
pub mod schedule;
pub mod selfservice;
pub mod service;
pub mod store;
pub mod templates;
pub mod tls;
pub mod webhooks;
pub mod workflow;

pub use error::{Error, Result};
