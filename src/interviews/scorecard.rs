//! Scorecards, as Greenhouse structures them: a posting's attributes in
//! categories (its defaults are Details, Qualifications, Skills and
//! Personality traits), a rating per attribute from each interviewer
//! (`definitely_not|no|mixed|yes|strong_yes`), key take-aways, private
//! notes, and an overall recommendation
//! (`definitely_not|no|yes|strong_yes|no_decision`).
//!
//! A posting's scorecard comes from `atsd posting scorecard` (kept in its
//! row) or else from its front matter:
//!
//! ```yaml
//! scorecard:
//!   Skills: [Knife skills, Sauces]
//!   Personality traits: [Calm under pressure]
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The ratings of an attribute, worst first.
pub const RATINGS: [&str; 5] = ["definitely_not", "no", "mixed", "yes", "strong_yes"];

/// The overall recommendations, worst first, then `no_decision`.
pub const RECOMMENDATIONS: [&str; 5] = ["definitely_not", "no", "yes", "strong_yes", "no_decision"];

/// Greenhouse's default categories, in its order.
pub const DEFAULT_CATEGORIES: [&str; 4] =
    ["Details", "Qualifications", "Skills", "Personality traits"];

const MAX_ATTRIBUTES: usize = 60;
const NAME_CHARS: usize = 100;

/// A recommendation as given (`strong_no`, atsd's older name for
/// `definitely_not`, is still understood): its stored value.
pub fn recommendation(given: &str) -> Result<&'static str> {
    let given = given.trim();
    if given == "strong_no" {
        return Ok("definitely_not");
    }
    RECOMMENDATIONS
        .iter()
        .find(|r| **r == given)
        .copied()
        .ok_or_else(|| {
            Error::input(format!(
                "--recommendation: `{given}` is not one of {}",
                RECOMMENDATIONS.join(", ")
            ))
        })
}

/// A category of attributes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Category {
    pub category: String,
    pub attributes: Vec<String>,
}

/// A posting's scorecard: its categories in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Scorecard(pub Vec<Category>);

impl Scorecard {
    /// Built from `Category: attribute, attribute` lines (`--attribute`);
    /// a line without a category goes to Skills.
    pub fn from_specs(specs: &[String]) -> Result<Scorecard> {
        let mut card = Scorecard::default();
        for spec in specs {
            let (cat, attrs) = match spec.split_once(':') {
                Some((c, a)) => (c.trim(), a),
                None => ("Skills", spec.as_str()),
            };
            for a in attrs.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                card.add(cat, a)
                    .map_err(|e| Error::input(format!("--attribute `{spec}`: {e}")))?;
            }
        }
        Ok(card)
    }

    /// Read from a front matter's `scorecard:` (a mapping of category to a
    /// list of attributes), Greenhouse's categories first; the error names
    /// the field.
    pub fn from_front_matter(raw: &Json) -> std::result::Result<Option<Scorecard>, String> {
        let v = match raw.get("scorecard") {
            None | Some(Json::Null) => return Ok(None),
            Some(v) => v,
        };
        let Json::Object(m) = v else {
            return Err(format!(
                "field `scorecard`: {v} is not a mapping of category to attributes"
            ));
        };
        let mut card = Scorecard::default();
        for (cat, attrs) in m {
            let list: Vec<&Json> = match attrs {
                Json::Array(a) => a.iter().collect(),
                Json::String(_) => vec![attrs],
                other => {
                    return Err(format!(
                        "field `scorecard.{cat}`: {other} is not a list of attributes"
                    ));
                }
            };
            for a in list {
                let Some(a) = a.as_str() else {
                    return Err(format!("field `scorecard.{cat}`: {a} is not a text"));
                };
                card.add(cat, a)
                    .map_err(|e| format!("field `scorecard.{cat}`: {e}"))?;
            }
        }
        // a mapping has no order: Greenhouse's categories in its order, the
        // others after them
        card.0.sort_by_key(|c| {
            DEFAULT_CATEGORIES
                .iter()
                .position(|d| *d == c.category)
                .unwrap_or(DEFAULT_CATEGORIES.len())
        });
        Ok(Some(card))
    }

    /// Read from its row's JSON text.
    pub fn from_stored(text: &str) -> Result<Scorecard> {
        serde_json::from_str(text)
            .map_err(|e| Error::Integrity(format!("a stored scorecard is not readable: {e}")))
    }

    fn add(&mut self, category: &str, attribute: &str) -> std::result::Result<(), String> {
        let (category, attribute) = (category.trim(), attribute.trim());
        for (what, v) in [("category", category), ("attribute", attribute)] {
            if v.is_empty() || v.chars().count() > NAME_CHARS || v.chars().any(char::is_control) {
                return Err(format!(
                    "`{v}` is not a {what} name (1 to {NAME_CHARS} characters, no control characters)"
                ));
            }
        }
        if self.category_of(attribute).is_some() {
            return Err(format!("`{attribute}` is named twice"));
        }
        if self.attributes().count() >= MAX_ATTRIBUTES {
            return Err(format!("at most {MAX_ATTRIBUTES} attributes"));
        }
        match self.0.iter_mut().find(|c| c.category == category) {
            Some(c) => c.attributes.push(attribute.to_string()),
            None => self.0.push(Category {
                category: category.to_string(),
                attributes: vec![attribute.to_string()],
            }),
        }
        Ok(())
    }

    /// Every attribute's name, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|c| c.attributes.iter().map(String::as_str))
    }

    /// The category of an attribute, if it is on the card.
    pub fn category_of(&self, attribute: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|c| c.attributes.iter().any(|a| a == attribute))
            .map(|c| c.category.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|c| c.attributes.is_empty())
    }

    /// The attributes named (`--focus`), each on the card; the error names
    /// those that are not.
    pub fn check_focus(&self, focus: &[String]) -> Result<Vec<String>> {
        let unknown: Vec<&str> = focus
            .iter()
            .map(|f| f.trim())
            .filter(|f| self.category_of(f).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(Error::input(format!(
                "--focus: {} not on the posting's scorecard ({})",
                unknown.join(", "),
                self.names_or_none()
            )));
        }
        let mut out: Vec<String> = Vec::new();
        for f in focus.iter().map(|f| f.trim().to_string()) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Ratings as given (`attribute=rating`), checked against the card:
    /// every attribute on it, every rating one of [`RATINGS`] (an empty one
    /// is no rating).
    pub fn check_ratings(&self, given: &[(String, String)]) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut errs = Vec::new();
        for (attr, rating) in given {
            let (attr, rating) = (attr.trim(), rating.trim());
            if rating.is_empty() {
                continue;
            }
            if self.category_of(attr).is_none() {
                errs.push(format!(
                    "`{attr}` is not on the posting's scorecard ({})",
                    self.names_or_none()
                ));
            } else if !RATINGS.contains(&rating) {
                errs.push(format!(
                    "`{attr}`: `{rating}` is not one of {}",
                    RATINGS.join(", ")
                ));
            } else {
                out.insert(attr.to_string(), rating.to_string());
            }
        }
        if !errs.is_empty() {
            return Err(Error::input(format!("--rate: {}", errs.join("; "))));
        }
        Ok(out)
    }

    fn names_or_none(&self) -> String {
        if self.is_empty() {
            "it has none".into()
        } else {
            self.attributes().collect::<Vec<_>>().join(", ")
        }
    }
}

/// The scorecard of a posting: set by `atsd posting scorecard`, else its
/// front matter's, else none.
pub fn of_posting(p: &entity::posting::Model) -> Scorecard {
    if let Some(text) = p.scorecard.as_deref()
        && let Ok(card) = Scorecard::from_stored(text)
    {
        return card;
    }
    p.raw
        .as_ref()
        .and_then(|raw| Scorecard::from_front_matter(raw).ok().flatten())
        .unwrap_or_default()
}

/// `attribute=rating` as `--rate` gives it.
pub fn parse_rate(s: &str) -> Result<(String, String)> {
    s.rsplit_once('=')
        .map(|(a, r)| (a.trim().to_string(), r.trim().to_string()))
        .filter(|(a, _)| !a.is_empty())
        .ok_or_else(|| {
            Error::input(format!(
                "--rate: `{s}` is not ATTRIBUTE=RATING (e.g. \"Knife skills=strong_yes\")"
            ))
        })
}

/// Ratings as stored (a JSON object), empty when none.
pub fn stored_ratings(text: Option<&str>) -> BTreeMap<String, String> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

/// Focus attributes as stored (a JSON array), empty when none.
pub fn stored_focus(text: Option<&str>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_front_matter_scorecard_is_read_and_checked_by_field() {
        let card = Scorecard::from_front_matter(
            &json!({"scorecard": {"Skills": ["Knife skills", "Sauces"], "Details": "Weekends"}}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(card.category_of("Sauces"), Some("Skills"));
        assert_eq!(card.category_of("Weekends"), Some("Details"));
        for (bad, field) in [
            (json!({"scorecard": ["x"]}), "`scorecard`"),
            (json!({"scorecard": {"Skills": [1]}}), "`scorecard.Skills`"),
            (json!({"scorecard": {"Skills": ["A", "A"]}}), "named twice"),
            (json!({"scorecard": {"Skills": [""]}}), "`scorecard.Skills`"),
        ] {
            let e = Scorecard::from_front_matter(&bad).unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn ratings_and_focus_must_be_on_the_card() {
        let card = Scorecard::from_specs(&["Skills: Rust, SQL".into(), "Calm".into()]).unwrap();
        assert_eq!(card.category_of("Calm"), Some("Skills"));
        let ok = card
            .check_ratings(&[
                ("Rust".into(), "strong_yes".into()),
                ("SQL".into(), "".into()),
            ])
            .unwrap();
        assert_eq!(ok.len(), 1);
        let e = card
            .check_ratings(&[("Go".into(), "yes".into()), ("Rust".into(), "great".into())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`Go` is not on") && e.contains("`great` is not one of"),
            "{e}"
        );
        assert!(card.check_focus(&["Go".into()]).is_err());
        assert_eq!(
            card.check_focus(&["SQL".into(), "SQL".into()]).unwrap(),
            ["SQL"]
        );
    }

    #[test]
    fn strong_no_is_greenhouse_s_definitely_not() {
        assert_eq!(recommendation("strong_no").unwrap(), "definitely_not");
        assert_eq!(recommendation("no_decision").unwrap(), "no_decision");
        assert!(recommendation("maybe").is_err());
    }
}
