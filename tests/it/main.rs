//! Integration tests: the real `atsd` binary and the library against a fresh
//! database per test — a SQLite file, or PostgreSQL when
//! `ATSD_TEST_DATABASE_URL` is set (see the book's "Tests" chapter in docs/).
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

mod api;
mod applications;
mod blind_review;
mod board_actions;
mod board_counts;
mod booking;
mod bounce_corpora;
mod careers;
mod careers_client;
mod clock;
mod common;
mod config;
mod daemon;
mod events;
mod hostile_mail;
mod house;
mod inbound;
mod interviews;
mod job_board;
mod lease;
mod mail;
mod mail_faults;
mod manners;
mod moves;
mod openapi;
mod poll;
mod postfix;
mod postings;
mod privacy;
mod privacy_links;
mod quickstart;
mod recruiter_board;
mod recruiter_board_browser;
mod reliability;
mod report;
mod retention;
mod rules;
mod schedule;
mod scorecards;
mod selfservice;
mod service;
mod smtp;
mod soak;
mod store;
mod teams;
mod templates;
mod tools;
