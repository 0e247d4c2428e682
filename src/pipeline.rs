//! The pipeline state machine (SPEC §1 "Pipeline"). Pure: no I/O.
//!
//! Active stages are ordered; `hired`, `rejected` and `withdrawn` are terminal.
//! Allowed moves: to the next active stage, from the last active stage to
//! `hired`, from any active stage to `rejected` or `withdrawn`, plus the
//! configured extra moves. Terminal stages have no way out unless an extra move
//! gives one.

use std::collections::BTreeSet;
use std::fmt;

pub const TERMINAL: [&str; 3] = ["hired", "rejected", "withdrawn"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    active: Vec<String>,
    moves: BTreeSet<(String, String)>,
}

/// Why a pipeline could not be built from its configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("pipeline.stages is empty: at least one active stage is needed")]
    NoStages,
    #[error("pipeline.stages: `{0}` is not a valid stage name (use a-z, 0-9, _ and -)")]
    BadName(String),
    #[error("pipeline.stages: stage `{0}` is listed twice")]
    Duplicate(String),
    #[error("pipeline.stages: `{0}` is a terminal stage; list only active stages")]
    TerminalListed(String),
    #[error("pipeline.extra_moves: `{0}` is not written `from -> to`")]
    BadMove(String),
    #[error("pipeline.extra_moves: `{spec}` names unknown stage `{stage}` (known: {known})")]
    UnknownStage {
        spec: String,
        stage: String,
        known: String,
    },
    #[error("pipeline.extra_moves: `{0}` moves a stage to itself")]
    SelfMove(String),
}

/// Why a requested move was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("unknown stage `{stage}` (stages: {known})")]
    UnknownStage { stage: String, known: String },
    #[error("the application is already in stage `{0}`")]
    SameStage(String),
    #[error("cannot move from `{from}` to `{to}`: {}", AllowedList(.allowed))]
    NotAllowed {
        from: String,
        to: String,
        allowed: Vec<String>,
    },
}

struct AllowedList<'a>(&'a [String]);

impl fmt::Display for AllowedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("it is a terminal stage and no move out of it is configured")
        } else {
            write!(f, "allowed moves from here: {}", self.0.join(", "))
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Parses `"from -> to"`.
pub fn parse_move(spec: &str) -> Option<(String, String)> {
    let (a, b) = spec.split_once("->")?;
    let (a, b) = (a.trim(), b.trim());
    (!a.is_empty() && !b.is_empty()).then(|| (a.to_string(), b.to_string()))
}

impl Pipeline {
    /// Builds the pipeline from the active stages and `"from -> to"` extra moves.
    pub fn new<S: AsRef<str>, M: AsRef<str>>(
        stages: &[S],
        extra_moves: &[M],
    ) -> Result<Pipeline, ConfigError> {
        if stages.is_empty() {
            return Err(ConfigError::NoStages);
        }
        let mut active: Vec<String> = Vec::new();
        for s in stages {
            let s = s.as_ref().trim();
            if !valid_name(s) {
                return Err(ConfigError::BadName(s.to_string()));
            }
            if TERMINAL.contains(&s) {
                return Err(ConfigError::TerminalListed(s.to_string()));
            }
            if active.iter().any(|a| a == s) {
                return Err(ConfigError::Duplicate(s.to_string()));
            }
            active.push(s.to_string());
        }
        let mut moves = BTreeSet::new();
        for w in active.windows(2) {
            moves.insert((w[0].clone(), w[1].clone()));
        }
        if let Some(last) = active.last() {
            moves.insert((last.clone(), "hired".to_string()));
        }
        for a in &active {
            moves.insert((a.clone(), "rejected".to_string()));
            moves.insert((a.clone(), "withdrawn".to_string()));
        }
        let mut p = Pipeline { active, moves };
        for m in extra_moves {
            let spec = m.as_ref();
            let (from, to) =
                parse_move(spec).ok_or_else(|| ConfigError::BadMove(spec.to_string()))?;
            for stage in [&from, &to] {
                if !p.contains(stage) {
                    return Err(ConfigError::UnknownStage {
                        spec: spec.to_string(),
                        stage: stage.clone(),
                        known: p.stages().collect::<Vec<_>>().join(", "),
                    });
                }
            }
            if from == to {
                return Err(ConfigError::SelfMove(spec.to_string()));
            }
            p.moves.insert((from, to));
        }
        Ok(p)
    }

    /// The default pipeline of SPEC §1 without extra moves.
    pub fn default_stages() -> Pipeline {
        Pipeline::new(
            &["applied", "screening", "interview", "offer"],
            &[] as &[&str],
        )
        .expect("the built-in pipeline is valid")
    }

    /// The stage every new application starts in.
    pub fn first_stage(&self) -> &str {
        &self.active[0]
    }

    pub fn active(&self) -> &[String] {
        &self.active
    }

    /// Every stage: active ones in order, then the terminal ones.
    pub fn stages(&self) -> impl Iterator<Item = &str> {
        self.active
            .iter()
            .map(String::as_str)
            .chain(TERMINAL.iter().copied())
    }

    pub fn contains(&self, stage: &str) -> bool {
        self.stages().any(|s| s == stage)
    }

    pub fn is_terminal(&self, stage: &str) -> bool {
        TERMINAL.contains(&stage)
    }

    pub fn is_active(&self, stage: &str) -> bool {
        self.active.iter().any(|s| s == stage)
    }

    /// The stage after `stage` in the active order (the last one leads to `hired`).
    pub fn next(&self, stage: &str) -> Option<&str> {
        let i = self.active.iter().position(|s| s == stage)?;
        Some(
            self.active
                .get(i + 1)
                .map(String::as_str)
                .unwrap_or("hired"),
        )
    }

    /// The stages `from` may move to, in pipeline order.
    pub fn allowed_from(&self, from: &str) -> Vec<String> {
        self.stages()
            .filter(|to| self.moves.contains(&(from.to_string(), to.to_string())))
            .map(String::from)
            .collect()
    }

    /// Every allowed move, as `(from, to)`.
    pub fn moves(&self) -> impl Iterator<Item = (&str, &str)> {
        self.moves.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }

    fn unknown(&self, stage: &str) -> MoveError {
        MoveError::UnknownStage {
            stage: stage.to_string(),
            known: self.stages().collect::<Vec<_>>().join(", "),
        }
    }

    /// Checks a move; the error lists the moves that are allowed.
    pub fn check(&self, from: &str, to: &str) -> Result<(), MoveError> {
        if !self.contains(to) {
            return Err(self.unknown(to));
        }
        if !self.contains(from) {
            return Err(self.unknown(from));
        }
        if from == to {
            return Err(MoveError::SameStage(to.to_string()));
        }
        if self.moves.contains(&(from.to_string(), to.to_string())) {
            Ok(())
        } else {
            Err(MoveError::NotAllowed {
                from: from.to_string(),
                to: to.to_string(),
                allowed: self.allowed_from(from),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn default_with(extra: &[&str]) -> Pipeline {
        Pipeline::new(&["applied", "screening", "interview", "offer"], extra).unwrap()
    }

    #[test]
    fn default_moves_follow_the_spec() {
        let p = default_with(&[]);
        assert_eq!(p.first_stage(), "applied");
        for (a, b) in [
            ("applied", "screening"),
            ("screening", "interview"),
            ("interview", "offer"),
            ("offer", "hired"),
            ("applied", "rejected"),
            ("interview", "withdrawn"),
        ] {
            assert!(p.check(a, b).is_ok(), "{a} -> {b}");
        }
        for (a, b) in [
            ("applied", "interview"),
            ("screening", "applied"),
            ("applied", "hired"),
            ("rejected", "applied"),
            ("hired", "rejected"),
        ] {
            assert!(p.check(a, b).is_err(), "{a} -> {b}");
        }
    }

    #[test]
    fn refusal_lists_the_allowed_moves() {
        let p = default_with(&["screening -> offer"]);
        let msg = p.check("screening", "hired").unwrap_err().to_string();
        assert_eq!(
            msg,
            "cannot move from `screening` to `hired`: allowed moves from here: interview, offer, rejected, withdrawn"
        );
        let msg = p.check("rejected", "screening").unwrap_err().to_string();
        assert!(msg.contains("terminal stage"), "{msg}");
    }

    #[test]
    fn extra_moves_can_open_a_terminal_stage() {
        let p = default_with(&["rejected -> screening"]);
        assert!(p.check("rejected", "screening").is_ok());
        assert!(p.check("rejected", "applied").is_err());
    }

    #[test]
    fn bad_configs_are_refused_with_the_culprit() {
        let e = Pipeline::new(&["applied", "applied"], &[] as &[&str]).unwrap_err();
        assert_eq!(e, ConfigError::Duplicate("applied".into()));
        let e = Pipeline::new(&["applied", "hired"], &[] as &[&str]).unwrap_err();
        assert_eq!(e, ConfigError::TerminalListed("hired".into()));
        let e = Pipeline::new(&["applied"], &["applied -> nowhere"]).unwrap_err();
        assert!(e.to_string().contains("`nowhere`"), "{e}");
        let e = Pipeline::new(&["applied"], &["applied to hired"]).unwrap_err();
        assert!(matches!(e, ConfigError::BadMove(_)));
        let e = Pipeline::new(&[] as &[&str], &[] as &[&str]).unwrap_err();
        assert_eq!(e, ConfigError::NoStages);
        let e = Pipeline::new(&["Applied Now"], &[] as &[&str]).unwrap_err();
        assert!(matches!(e, ConfigError::BadName(_)));
    }

    #[test]
    fn unknown_target_is_named() {
        let p = default_with(&[]);
        let msg = p.check("applied", "phone_screen").unwrap_err().to_string();
        assert!(msg.contains("`phone_screen`") && msg.contains("applied, screening"));
    }

    /// The spec's rule, written independently of the implementation: is
    /// `from -> to` allowed for these active stages and extra moves?
    fn spec_allows(active: &[String], extra: &[(String, String)], from: &str, to: &str) -> bool {
        let pos = |s: &str| active.iter().position(|a| a == s);
        if extra.iter().any(|(a, b)| a == from && b == to) {
            return true;
        }
        match pos(from) {
            None => false, // terminal (or unknown): only extra moves lead out
            Some(i) => {
                to == "rejected"
                    || to == "withdrawn"
                    || (i + 1 < active.len() && active[i + 1] == to)
                    || (i + 1 == active.len() && to == "hired")
            }
        }
    }

    fn stage_pool() -> Vec<String> {
        [
            "applied",
            "screening",
            "phone",
            "interview",
            "onsite",
            "offer",
        ]
        .map(String::from)
        .to_vec()
    }

    proptest! {
        /// No random sequence of requested moves reaches a state the
        /// configuration forbids: every accepted move is one the spec allows,
        /// every refused move is one it forbids, and the stage is always known.
        #[test]
        fn random_moves_never_leave_the_configured_graph(
            mask in 1u8..64,
            extra_idx in proptest::collection::vec((0usize..9, 0usize..9), 0..4),
            requests in proptest::collection::vec(0usize..10, 0..60),
        ) {
            let pool = stage_pool();
            let active: Vec<String> = pool.iter().enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| s.clone()).collect();
            let all: Vec<String> = active.iter().cloned()
                .chain(TERMINAL.iter().map(|s| s.to_string())).collect();
            let extra: Vec<(String, String)> = extra_idx.iter()
                .map(|(a, b)| (all[a % all.len()].clone(), all[b % all.len()].clone()))
                .filter(|(a, b)| a != b).collect();
            let specs: Vec<String> = extra.iter().map(|(a, b)| format!("{a} -> {b}")).collect();
            let p = Pipeline::new(&active, &specs).unwrap();
            let targets: Vec<String> = all.iter().cloned().chain(["nowhere".to_string()]).collect();
            let mut cur = p.first_stage().to_string();
            for r in requests {
                let to = &targets[r % targets.len()];
                let spec_ok = to != &cur && all.contains(to) && spec_allows(&active, &extra, &cur, to);
                match p.check(&cur, to) {
                    Ok(()) => { prop_assert!(spec_ok, "{} -> {} accepted", cur, to); cur = to.clone(); }
                    Err(_) => prop_assert!(!spec_ok, "{} -> {} refused", cur, to),
                }
                prop_assert!(p.contains(&cur));
                if p.is_terminal(&cur) && !extra.iter().any(|(a, _)| a == &cur) {
                    prop_assert!(p.allowed_from(&cur).is_empty());
                }
            }
        }
    }
}
