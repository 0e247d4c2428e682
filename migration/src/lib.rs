//! Schema migrations of atsd. Every migration runs unchanged on SQLite and PostgreSQL.
#![allow(clippy::disallowed_methods)] // reads and writes tables on purpose; the wall (clippy.toml) is for src/

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261126_000002_scheduler;
mod m20261126_000003_api;
mod m20261126_000004_events;
mod m20261126_000005_board;
mod m20261202_000006_exact_email;
mod m20261203_000007_teams;
mod m20261203_000008_interviews;
mod m20261203_000009_inbound;
mod m20261207_000010_hostile_mail;
mod m20261207_000011_quarantine;
mod m20261207_000012_data_requests;
mod m20261207_000013_request_links;
mod m20261207_000014_careers;
mod m20261207_000015_structured_interviews;
mod m20261207_000016_stage_totals;
mod m20261208_000017_board_kept;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261126_000002_scheduler::Migration),
            Box::new(m20261126_000003_api::Migration),
            Box::new(m20261126_000004_events::Migration),
            Box::new(m20261126_000005_board::Migration),
            Box::new(m20261202_000006_exact_email::Migration),
            Box::new(m20261203_000007_teams::Migration),
            Box::new(m20261203_000008_interviews::Migration),
            Box::new(m20261203_000009_inbound::Migration),
            Box::new(m20261207_000010_hostile_mail::Migration),
            Box::new(m20261207_000011_quarantine::Migration),
            Box::new(m20261207_000012_data_requests::Migration),
            Box::new(m20261207_000013_request_links::Migration),
            Box::new(m20261207_000014_careers::Migration),
            Box::new(m20261207_000015_structured_interviews::Migration),
            Box::new(m20261207_000016_stage_totals::Migration),
            Box::new(m20261208_000017_board_kept::Migration),
        ]
    }
}
