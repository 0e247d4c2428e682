//! The application page's scorecard matrix: the posting's attributes (by
//! category) down, the interviewers who submitted across, each cell their
//! rating, and their overall recommendations under. A viewer who
//! interviews the candidate and has not submitted their own scorecard sees
//! none of it (blind review); private notes are never on the board.

use super::pages::Ctx;
use crate::error::Result;
use crate::interviews::scorecard::{self, Scorecard};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Matrix {
    /// The interviewers, in the order they submitted.
    pub people: Vec<Column>,
    pub rows: Vec<Row>,
    /// Each interviewer's overall recommendation, in words.
    pub overall: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Column {
    pub name: String,
    /// "entered by <coordinator>", when a coordinator submitted it.
    pub entered_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub category: String,
    /// The first row of its category (the category's name shows there).
    pub first: bool,
    pub attribute: String,
    /// Each interviewer's rating: the value (`yes`, …; empty: not rated)
    /// and its words.
    pub cells: Vec<(String, String)>,
}

/// The matrix of an application, if there is something to show to this
/// viewer: at least one submitted scorecard, and the viewer not blind.
pub async fn matrix(c: &Ctx<'_>, application_id: i64, card: &Scorecard) -> Result<Option<Matrix>> {
    let conn = c.store.conn();
    if let Some(me) = c.viewer
        && !crate::store::interviews::blind_applications(conn, me, &[application_id])
            .await?
            .is_empty()
    {
        return Ok(None);
    }
    let given = crate::store::interviews::submitted(conn, Some(application_id)).await?;
    if given.is_empty() {
        return Ok(None);
    }
    let ratings: Vec<_> = given
        .iter()
        .map(|x| scorecard::stored_ratings(x.row.ratings.as_deref()))
        .collect();
    let mut rows = Vec::new();
    for cat in &card.0 {
        for (i, attr) in cat.attributes.iter().enumerate() {
            rows.push(Row {
                category: cat.category.clone(),
                first: i == 0,
                attribute: attr.clone(),
                cells: ratings
                    .iter()
                    .map(|r| match r.get(attr) {
                        Some(v) => (v.clone(), c.w(&format!("rating_{v}"))),
                        None => (String::new(), c.w("not_rated")),
                    })
                    .collect(),
            });
        }
    }
    Ok(Some(Matrix {
        people: given
            .iter()
            .map(|x| Column {
                name: x.person.name.clone(),
                entered_by: x
                    .entered_by
                    .as_ref()
                    .map(|by| super::i18n::fill(&c.w("entered_by"), &[("name", by.name.clone())])),
            })
            .collect(),
        rows,
        overall: given
            .iter()
            .map(|x| {
                c.w(&format!(
                    "rec_{}",
                    x.row.recommendation.as_deref().unwrap_or("")
                ))
            })
            .collect(),
    }))
}
