//! The status rules (SPEC §1 "Polling"), as a pure function: given what a
//! posting's poll bookkeeping says and what the board answered, what changes.
//!
//! - A successful answer (found, or 304 unchanged) makes the posting open and
//!   resets the not-found count.
//! - *Not found* counts towards closing only when it comes at least
//!   `confirm_interval` after the last counted one; the posting closes at
//!   `close_after_not_found` counted answers, exactly once.
//! - A board that is gone flags the posting `board_missing` and closes nothing.
//! - Anything else (timeouts, connection errors, 429, 5xx, bodies that do not
//!   parse or are too large) changes no status: it is counted and backs off,
//!   exponentially with jitter, never sooner than `Retry-After`.

use crate::posting::Status;
use chrono::{DateTime, Duration, Utc};

/// What one poll learned about one posting.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The board describes the job.
    Found,
    /// 304: unchanged since the validators we sent.
    Unchanged,
    /// The job is gone from a board that still answers (404, 410, or absent from a good list).
    NotFound { detail: String },
    /// The board itself does not answer (unknown board): nothing can be concluded.
    BoardMissing { detail: String },
    /// Timeouts, connection errors, 429, 5xx, unparsable or oversize bodies.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// The poll bookkeeping of one posting.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub status: Status,
    pub consecutive_not_found: i32,
    pub last_not_found_at: Option<DateTime<Utc>>,
    pub consecutive_errors: i32,
    pub board_missing: bool,
}

#[derive(Clone, Debug)]
pub struct Rules {
    pub close_after_not_found: u32,
    pub confirm_interval: Duration,
    /// When an open or unknown posting is due again.
    pub poll_interval: Duration,
    /// When a closed posting is due again (to notice a reopening).
    pub closed_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            close_after_not_found: 2,
            confirm_interval: Duration::minutes(10),
            poll_interval: Duration::minutes(15),
            closed_interval: Duration::hours(24),
            backoff_base: Duration::minutes(1),
            backoff_max: Duration::hours(6),
        }
    }
}

/// What to write back, and what to say.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub state: State,
    pub next_poll_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// `open`, `not found 1/2`, `closed`, `unchanged (304)`, `error: …`, `board missing: …`.
    pub label: String,
    /// The posting was confirmed closed by this answer (emit `posting_closed` once).
    pub closed_now: bool,
    /// It was closed and answers again.
    pub reopened: bool,
}

/// The wait after the `errors`th consecutive failure.
pub fn backoff(rules: &Rules, errors: i32, seed: u64) -> Duration {
    crate::backoff::exponential(rules.backoff_base, rules.backoff_max, errors, seed)
}

// Stays whole: the status rules as one table of cases (what the board said against what was known), one arm per rule.
pub fn decide(
    state: &State,
    answer: &Answer,
    now: DateTime<Utc>,
    rules: &Rules,
    seed: u64,
) -> Decision {
    let mut s = state.clone();
    match answer {
        Answer::Found | Answer::Unchanged => {
            let reopened = state.status == Status::Closed;
            s.status = Status::Open;
            s.consecutive_not_found = 0;
            s.last_not_found_at = None;
            s.consecutive_errors = 0;
            s.board_missing = false;
            Decision {
                state: s,
                next_poll_at: now + rules.poll_interval,
                last_error: None,
                label: match (answer, reopened) {
                    (_, true) => "open (reopened)".into(),
                    (Answer::Unchanged, _) => "unchanged (304)".into(),
                    _ => "open".into(),
                },
                closed_now: false,
                reopened,
            }
        }
        Answer::NotFound { detail } => {
            s.consecutive_errors = 0;
            s.board_missing = false;
            let n = rules.close_after_not_found.max(1) as i32;
            if state.status == Status::Closed {
                s.consecutive_not_found = state.consecutive_not_found.max(n);
                return Decision {
                    state: s,
                    next_poll_at: now + rules.closed_interval,
                    last_error: None,
                    label: "closed".into(),
                    closed_now: false,
                    reopened: false,
                };
            }
            let counted = match state.last_not_found_at {
                Some(last) if state.consecutive_not_found > 0 => {
                    now - last >= rules.confirm_interval
                }
                _ => true,
            };
            if counted {
                s.consecutive_not_found = state.consecutive_not_found + 1;
                s.last_not_found_at = Some(now);
            }
            if s.consecutive_not_found >= n {
                s.status = Status::Closed;
                return Decision {
                    state: s,
                    next_poll_at: now + rules.closed_interval,
                    last_error: None,
                    label: "closed".into(),
                    closed_now: true,
                    reopened: false,
                };
            }
            let confirm_at = s.last_not_found_at.unwrap_or(now) + rules.confirm_interval;
            Decision {
                next_poll_at: confirm_at.max(now + Duration::seconds(1)),
                label: if counted {
                    format!("not found {}/{n} ({detail})", s.consecutive_not_found)
                } else {
                    format!(
                        "not found {}/{n} ({detail}; too soon to confirm, next check from {})",
                        s.consecutive_not_found,
                        confirm_at.format("%Y-%m-%d %H:%M:%S")
                    )
                },
                state: s,
                last_error: None,
                closed_now: false,
                reopened: false,
            }
        }
        Answer::BoardMissing { detail } => {
            s.board_missing = true;
            s.consecutive_errors = state.consecutive_errors + 1;
            let wait = backoff(rules, s.consecutive_errors, seed).max(rules.poll_interval);
            Decision {
                state: s,
                next_poll_at: now + wait,
                last_error: Some(format!("board missing: {detail}")),
                label: format!("board missing: {detail}"),
                closed_now: false,
                reopened: false,
            }
        }
        Answer::Transient {
            reason,
            retry_after,
        } => {
            s.consecutive_errors = state.consecutive_errors + 1;
            let mut wait = backoff(rules, s.consecutive_errors, seed);
            if let Some(ra) = retry_after {
                wait = wait.max(*ra);
            }
            Decision {
                state: s,
                next_poll_at: now + wait,
                last_error: Some(reason.clone()),
                label: format!("error: {reason}"),
                closed_now: false,
                reopened: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(min)
    }

    fn open() -> State {
        State {
            status: Status::Open,
            consecutive_not_found: 0,
            last_not_found_at: None,
            consecutive_errors: 0,
            board_missing: false,
        }
    }

    fn nf() -> Answer {
        Answer::NotFound {
            detail: "404".into(),
        }
    }

    fn run(answers: &[(i64, Answer)]) -> (State, Vec<Decision>) {
        let rules = Rules::default();
        let mut s = open();
        let mut out = Vec::new();
        for (m, a) in answers {
            let d = decide(&s, a, t(*m), &rules, 7);
            s = d.state.clone();
            out.push(d);
        }
        (s, out)
    }

    #[test]
    fn two_not_found_far_enough_apart_close_exactly_once() {
        let (s, d) = run(&[(0, nf()), (10, nf()), (20, nf())]);
        assert_eq!(d[0].label, "not found 1/2 (404)");
        assert!(d[1].closed_now);
        assert_eq!(s.status, Status::Closed);
        assert!(!d[2].closed_now, "closing is reported once");
    }

    #[test]
    fn not_found_too_soon_does_not_count() {
        let (s, d) = run(&[(0, nf()), (5, nf())]);
        assert_eq!(s.status, Status::Open);
        assert_eq!(s.consecutive_not_found, 1);
        assert!(d[1].label.contains("too soon"), "{}", d[1].label);
        assert_eq!(d[1].next_poll_at, t(10));
    }

    #[test]
    fn a_success_resets_the_count() {
        let (s, _) = run(&[(0, nf()), (10, Answer::Found), (20, nf())]);
        assert_eq!(s.status, Status::Open);
        assert_eq!(s.consecutive_not_found, 1);
    }

    #[test]
    fn transient_errors_never_change_status_and_back_off() {
        let tr = || Answer::Transient {
            reason: "HTTP 503".into(),
            retry_after: None,
        };
        let (s, d) = run(&[(0, tr()), (1, tr()), (3, tr()), (8, tr())]);
        assert_eq!(s.status, Status::Open);
        assert_eq!(s.consecutive_errors, 4);
        let waits: Vec<i64> = d
            .iter()
            .zip([0, 1, 3, 8])
            .map(|(d, m)| (d.next_poll_at - t(m)).num_seconds())
            .collect();
        assert!(waits.windows(2).all(|w| w[1] > w[0]), "{waits:?}");
    }

    #[test]
    fn retry_after_is_a_floor() {
        let a = Answer::Transient {
            reason: "HTTP 429".into(),
            retry_after: Some(Duration::seconds(7200)),
        };
        let d = decide(&open(), &a, t(0), &Rules::default(), 1);
        assert!(d.next_poll_at >= t(120));
    }

    #[test]
    fn board_missing_flags_and_closes_nothing() {
        let bm = || Answer::BoardMissing {
            detail: "board list 404".into(),
        };
        let (s, d) = run(&[(0, bm()), (30, bm()), (60, bm())]);
        assert_eq!(s.status, Status::Open);
        assert!(s.board_missing);
        assert!(d.iter().all(|d| !d.closed_now));
    }

    #[test]
    fn a_closed_posting_that_answers_reopens() {
        let (s, d) = run(&[(0, nf()), (10, nf()), (60, Answer::Found)]);
        assert_eq!(s.status, Status::Open);
        assert!(d[2].reopened);
    }

    proptest! {
        /// No sequence without `close_after_not_found` counted not-founds
        /// closes a posting; transient and board-missing answers never do.
        #[test]
        fn only_confirmed_not_found_closes(steps in proptest::collection::vec((0u8..4, 1i64..30), 1..40)) {
            let rules = Rules::default();
            let mut s = open();
            let mut now = t(0);
            for (kind, gap) in steps {
                now += Duration::minutes(gap);
                let a = match kind {
                    0 => Answer::Found,
                    1 => nf(),
                    2 => Answer::Transient { reason: "x".into(), retry_after: None },
                    _ => Answer::BoardMissing { detail: "x".into() },
                };
                let before = s.clone();
                let d = decide(&s, &a, now, &rules, 3);
                if d.state.status == Status::Closed && before.status != Status::Closed {
                    let was_not_found = matches!(a, Answer::NotFound { .. });
                    prop_assert!(was_not_found);
                    prop_assert!(before.consecutive_not_found + 1 >= rules.close_after_not_found as i32);
                    prop_assert!(d.closed_now);
                }
                let decisive = matches!(a, Answer::NotFound { .. } | Answer::Found);
                if !decisive {
                    prop_assert_eq!(d.state.status, before.status);
                }
                prop_assert!(d.next_poll_at > now);
                s = d.state;
            }
        }
    }
}
