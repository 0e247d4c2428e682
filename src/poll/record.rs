//! What one poll changes in a posting's row and its history (pure): the
//! status rules' decision, what the job board said of the job, and the
//! validators for the next conditional request. The poller gathers these and
//! the store writes them in bulk ([`crate::store::postings::record_polls`]).

use crate::store::postings::{PollUpdate, history_row, show_time};
use chrono::{DateTime, Utc};
use entity::{posting, posting_history};

/// What one poll changes: the status rules' decision, what the board said
/// about the job (title, location and posting date changes go to the
/// history), and the validators for the next conditional request. History
/// rows are pushed to `history` for the caller to write in bulk
/// (`store::postings::insert_history`); the update is written with others
/// by `store::postings::record_polls`.
pub fn poll_update(
    old: &posting::Model,
    d: &super::decide::Decision,
    info: Option<&super::job_boards::JobInfo>,
    validators: Option<(Option<String>, Option<String>)>,
    now: DateTime<Utc>,
    history: &mut Vec<posting_history::ActiveModel>,
) -> PollUpdate {
    let status = d.state.status.as_str();
    let note = format!("poll: {}", d.label);
    let mut u = PollUpdate {
        id: old.id,
        status: status.to_string(),
        status_changed_at: None,
        board_missing: d.state.board_missing,
        title: None,
        location: None,
        posted_at: None,
        company: None,
        description: None,
        validators,
        consecutive_not_found: d.state.consecutive_not_found,
        last_not_found_at: d.state.last_not_found_at,
        consecutive_errors: d.state.consecutive_errors,
        next_poll_at: d.next_poll_at,
        last_error: d.last_error.clone(),
    };
    if old.status != status {
        history.push(history_row(
            old.id,
            "status",
            Some(old.status.clone()),
            Some(status.to_string()),
            &note,
            now,
        ));
        u.status_changed_at = Some(now);
    }
    if old.board_missing != d.state.board_missing {
        history.push(history_row(
            old.id,
            "board_missing",
            Some(old.board_missing.to_string()),
            Some(d.state.board_missing.to_string()),
            &note,
            now,
        ));
    }
    if let Some(i) = info {
        if !i.title.is_empty() && i.title != old.title {
            history.push(history_row(
                old.id,
                "title",
                Some(old.title.clone()),
                Some(i.title.clone()),
                "poll",
                now,
            ));
            u.title = Some(i.title.clone());
        }
        if i.location.is_some() && i.location != old.location {
            history.push(history_row(
                old.id,
                "location",
                old.location.clone(),
                i.location.clone(),
                "poll",
                now,
            ));
            u.location = i.location.clone();
        }
        if i.posted_at.is_some() && i.posted_at != old.posted_at {
            history.push(history_row(
                old.id,
                "posted_at",
                show_time(&old.posted_at),
                show_time(&i.posted_at),
                "poll",
                now,
            ));
            u.posted_at = i.posted_at;
        }
        if i.company.is_some() && old.company.is_none() {
            u.company = i.company.clone();
        }
        if i.description.is_some() && i.description != old.description {
            u.description = i.description.clone();
        }
    }
    u
}
