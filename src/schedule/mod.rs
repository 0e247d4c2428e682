//! Cron expressions with crontab's meaning and the daylight-saving rules
//! (pure), validated when the configuration loads. The jobs they schedule are
//! [`crate::jobs`]; the loop that runs them, [`crate::daemon`].

pub mod cron_expr;

pub use cron_expr::{CronExpr, parse as parse_cron};
