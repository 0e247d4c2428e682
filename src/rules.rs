//! The automation rules (`[[rules]]`, SPEC §1 "Automation rules") and what
//! they decide for one application at one time. Pure: the `advance` job
//! (`jobs::advance`) reads the stored rows, asks [`decide`], and writes.
//!
//! - **stale → move**: in stage S for at least `after` → `move_to`;
//! - **stale → remind**: in stage S for at least `after` → one
//!   `recruiter_reminder` per stage visit (the advance job knows whether this
//!   visit was reminded already);
//! - **posting closed**: the posting is `closed` (by a confirmed poll or a
//!   re-import marking it archived) and `grace` has passed since → `move_to`,
//!   for applications in an active stage that they entered before the close
//!   (an application reconsidered, or recorded, after the close is left to
//!   the recruiter).
//!
//! Rules are tried in the order written; the first rule that moves wins. A
//! reminder is sent only when no rule moves the application.

use crate::config::EmailChoice;
use crate::config::{Config, EmailSpec};
use crate::pipeline::Pipeline;
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    StaleMove {
        stage: String,
        after: Duration,
        to: String,
    },
    StaleRemind {
        stage: String,
        after: Duration,
    },
    PostingClosed {
        to: String,
        grace: Duration,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub kind: Kind,
    pub reason: Option<String>,
    /// The email of a move: the stage's, another template, or none (`email = ""`).
    pub email: EmailChoice,
}

impl Rule {
    /// `rule:NAME`, the actor of the moves this rule makes.
    pub fn actor(&self) -> String {
        format!("rule:{}", self.name)
    }

    pub fn moves(&self) -> bool {
        !matches!(self.kind, Kind::StaleRemind { .. })
    }
}

/// The rules of a configuration, in the order written. The configuration was
/// validated when it loaded; a rule that still makes no sense is skipped.
pub fn from_config(config: &Config) -> Vec<Rule> {
    config
        .rules
        .iter()
        .filter_map(|r| {
            let kind = match (r.on.as_deref(), &r.stage, r.after, &r.move_to, r.remind) {
                (Some("posting_closed"), _, _, Some(to), _) => Kind::PostingClosed {
                    to: to.clone(),
                    grace: r.grace.map(|g| g.chrono()).unwrap_or_else(Duration::zero),
                },
                (None, Some(stage), Some(after), Some(to), false) => Kind::StaleMove {
                    stage: stage.clone(),
                    after: after.chrono(),
                    to: to.clone(),
                },
                (None, Some(stage), Some(after), None, true) => Kind::StaleRemind {
                    stage: stage.clone(),
                    after: after.chrono(),
                },
                _ => return None,
            };
            let email = match &r.email {
                None => EmailChoice::StageDefault,
                Some(e) if e.is_none() => EmailChoice::None,
                Some(e) => EmailChoice::Template(EmailSpec {
                    template: e.template.clone(),
                    delay: e.delay,
                }),
            };
            Some(Rule {
                name: r.name.clone(),
                kind,
                reason: r.reason.clone(),
                email,
            })
        })
        .collect()
}

/// What the rules see of one application.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts<'a> {
    pub stage: &'a str,
    pub entered_stage_at: DateTime<Utc>,
    /// When its posting was closed, if it is closed.
    pub posting_closed_at: Option<DateTime<Utc>>,
    /// A reminder was already queued during this stage visit.
    pub reminded: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action<'r> {
    Move { rule: &'r Rule, to: &'r str },
    Remind { rule: &'r Rule },
}

/// What the rules do with an application at `now`, if anything.
pub fn decide<'r>(
    rules: &'r [Rule],
    pipeline: &Pipeline,
    f: &Facts<'_>,
    now: DateTime<Utc>,
) -> Option<Action<'r>> {
    if !pipeline.is_active(f.stage) {
        return None;
    }
    let movable = |to: &str| pipeline.check(f.stage, to).is_ok();
    for rule in rules {
        match &rule.kind {
            Kind::StaleMove { stage, after, to }
                if stage == f.stage && f.entered_stage_at + *after <= now && movable(to) =>
            {
                return Some(Action::Move { rule, to });
            }
            Kind::PostingClosed { to, grace } => {
                if let Some(closed) = f.posting_closed_at
                    && f.entered_stage_at <= closed
                    && closed + *grace <= now
                    && movable(to)
                {
                    return Some(Action::Move { rule, to });
                }
            }
            _ => {}
        }
    }
    if f.reminded {
        return None;
    }
    rules.iter().find_map(|rule| match &rule.kind {
        Kind::StaleRemind { stage, after }
            if stage == f.stage && f.entered_stage_at + *after <= now =>
        {
            Some(Action::Remind { rule })
        }
        _ => None,
    })
}

/// What the rules will do next with an application, and from when: the
/// first instant at which [`decide`] acts, among the instants at which a rule
/// becomes due. `None` if no rule ever will (as things stand).
pub fn next_action<'r>(
    rules: &'r [Rule],
    pipeline: &Pipeline,
    f: &Facts<'_>,
) -> Option<(Action<'r>, DateTime<Utc>)> {
    let mut due: Vec<DateTime<Utc>> = rules
        .iter()
        .filter_map(|r| match &r.kind {
            Kind::StaleMove { stage, after, .. } if stage == f.stage => {
                Some(f.entered_stage_at + *after)
            }
            Kind::StaleRemind { stage, after } if stage == f.stage && !f.reminded => {
                Some(f.entered_stage_at + *after)
            }
            Kind::PostingClosed { grace, .. } => f.posting_closed_at.map(|c| c + *grace),
            _ => None,
        })
        .collect();
    due.sort_unstable();
    due.into_iter()
        .find_map(|t| decide(rules, pipeline, f, t).map(|a| (a, t)))
}

/// The earliest `entered_stage_at` that a stale rule on `stage` acts on at
/// `now`: applications that entered later are not due. `None` if no rule
/// watches the stage.
pub fn stale_cutoff(rules: &[Rule], stage: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    rules
        .iter()
        .filter_map(|r| match &r.kind {
            Kind::StaleMove {
                stage: s, after, ..
            }
            | Kind::StaleRemind { stage: s, after }
                if s == stage =>
            {
                Some(now - *after)
            }
            _ => None,
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(rules: &str) -> Config {
        let c = Config::parse(rules, "test.toml").unwrap();
        c.validate().unwrap();
        c
    }

    #[test]
    fn the_next_action_is_the_first_rule_to_come_due() {
        let c = config(RULES);
        let rules = from_config(&c);
        let p = Pipeline::default_stages();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let f = Facts {
            stage: "applied",
            entered_stage_at: t0,
            posting_closed_at: None,
            reminded: false,
        };
        let (a, at) = next_action(&rules, &p, &f).unwrap();
        assert_eq!(at, t0 + Duration::days(30));
        assert!(matches!(a, Action::Move { to: "rejected", .. }));
        // a closed posting's rule comes due earlier
        let closed = Facts {
            posting_closed_at: Some(t0 + Duration::days(2)),
            ..f.clone()
        };
        let (_, at) = next_action(&rules, &p, &closed).unwrap();
        assert!(at < t0 + Duration::days(30));
        // no rule on a terminal stage
        let done = Facts {
            stage: "hired",
            ..f
        };
        assert_eq!(next_action(&rules, &p, &done), None);
    }

    const RULES: &str = r#"
[[rules]]
name = "stale-applied"
stage = "applied"
after = "30d"
move_to = "rejected"
reason = "no_response"

[[rules]]
name = "nudge-screening"
stage = "screening"
after = "5d"
remind = true

[[rules]]
name = "posting-closed"
on = "posting_closed"
move_to = "rejected"
reason = "posting_closed"
email = "posting_closed"
grace = "1d"
"#;

    fn t(days: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::days(days)
    }

    fn facts(stage: &str, entered: i64) -> Facts<'_> {
        Facts {
            stage,
            entered_stage_at: t(entered),
            posting_closed_at: None,
            reminded: false,
        }
    }

    #[test]
    fn rules_come_from_the_config_in_order() {
        let rules = from_config(&config(RULES));
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].actor(), "rule:stale-applied");
        assert_eq!(rules[0].email, EmailChoice::StageDefault);
        assert_eq!(
            rules[2].email,
            EmailChoice::Template(EmailSpec::new("posting_closed"))
        );
        let c = config(
            "[[rules]]\nname = \"quiet\"\nstage = \"applied\"\nafter = \"1d\"\nmove_to = \"rejected\"\nemail = \"\"\n",
        );
        assert_eq!(from_config(&c)[0].email, EmailChoice::None);
    }

    #[test]
    fn stale_applications_move_after_the_threshold() {
        let c = config(RULES);
        let (rules, p) = (from_config(&c), c.pipeline().unwrap());
        assert_eq!(decide(&rules, &p, &facts("applied", 0), t(29)), None);
        match decide(&rules, &p, &facts("applied", 0), t(30)) {
            Some(Action::Move { rule, to }) => {
                assert_eq!((rule.name.as_str(), to), ("stale-applied", "rejected"))
            }
            other => panic!("{other:?}"),
        }
        // terminal stages are never touched
        assert_eq!(decide(&rules, &p, &facts("rejected", 0), t(400)), None);
    }

    #[test]
    fn reminders_once_per_visit() {
        let c = config(RULES);
        let (rules, p) = (from_config(&c), c.pipeline().unwrap());
        assert_eq!(decide(&rules, &p, &facts("screening", 0), t(4)), None);
        assert!(matches!(
            decide(&rules, &p, &facts("screening", 0), t(5)),
            Some(Action::Remind { .. })
        ));
        let mut f = facts("screening", 0);
        f.reminded = true;
        assert_eq!(decide(&rules, &p, &f, t(50)), None);
    }

    #[test]
    fn a_closed_posting_moves_its_active_applications_after_the_grace() {
        let c = config(RULES);
        let (rules, p) = (from_config(&c), c.pipeline().unwrap());
        let mut f = facts("interview", 0);
        f.posting_closed_at = Some(t(10));
        assert_eq!(decide(&rules, &p, &f, t(10)), None, "grace of 1d");
        match decide(&rules, &p, &f, t(11)) {
            Some(Action::Move { rule, to }) => {
                assert_eq!((rule.name.as_str(), to), ("posting-closed", "rejected"))
            }
            other => panic!("{other:?}"),
        }
        // entered its stage after the close (reconsidered): left alone
        let mut f = facts("screening", 12);
        f.posting_closed_at = Some(t(10));
        assert_eq!(decide(&rules, &p, &f, t(13)), None);
        // terminal: untouched
        let mut f = facts("hired", 0);
        f.posting_closed_at = Some(t(10));
        assert_eq!(decide(&rules, &p, &f, t(20)), None);
    }

    #[test]
    fn cutoffs_are_the_latest_entry_a_rule_acts_on() {
        let rules = from_config(&config(RULES));
        assert_eq!(stale_cutoff(&rules, "applied", t(40)), Some(t(10)));
        assert_eq!(stale_cutoff(&rules, "screening", t(40)), Some(t(35)));
        assert_eq!(stale_cutoff(&rules, "offer", t(40)), None);
    }

    proptest! {
        /// Whatever the facts, a move is one the pipeline allows, never from a
        /// terminal stage, never before its threshold; a reminded visit gets
        /// no second reminder.
        #[test]
        fn decisions_respect_the_pipeline_and_the_clock(
            stage in prop::sample::select(vec!["applied", "screening", "interview", "offer", "hired", "rejected", "withdrawn"]),
            entered in 0i64..100, closed in prop::option::of(0i64..100), now in 0i64..200, reminded in any::<bool>(),
        ) {
            let c = config(RULES);
            let (rules, p) = (from_config(&c), c.pipeline().unwrap());
            let f = Facts { stage, entered_stage_at: t(entered), posting_closed_at: closed.map(t), reminded };
            match decide(&rules, &p, &f, t(now)) {
                None => {}
                Some(Action::Move { rule, to }) => {
                    prop_assert!(p.check(stage, to).is_ok());
                    match &rule.kind {
                        Kind::StaleMove { after, .. } => prop_assert!(t(entered) + *after <= t(now)),
                        Kind::PostingClosed { grace, .. } => {
                            let c = f.posting_closed_at.unwrap();
                            prop_assert!(c + *grace <= t(now) && t(entered) <= c);
                        }
                        Kind::StaleRemind { .. } => prop_assert!(false),
                    }
                }
                Some(Action::Remind { .. }) => {
                    prop_assert!(!reminded);
                    prop_assert!(p.is_active(stage));
                }
            }
        }
    }
}
