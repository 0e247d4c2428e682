//! `/board/requests`: the open data-subject requests.

use super::*;

/// `/board/requests`: the open data-subject requests, soonest due first.
#[derive(Debug, Serialize)]
pub struct RequestsPage {
    pub rows: Vec<RequestView>,
}

/// One open request as the page shows it.
#[derive(Debug, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub kind: String,
    pub law: String,
    pub email: String,
    pub received: String,
    pub due: String,
    pub acknowledge_by: Option<String>,
    /// `open`, `due_soon` or `overdue`
    pub urgency: &'static str,
    /// The urgency in the page's language.
    pub urgency_word: String,
}

pub async fn requests_page(c: &Ctx<'_>) -> Result<RequestsPage> {
    let rows = crate::store::requests::list(c.store.conn(), false, None).await?;
    Ok(RequestsPage {
        rows: rows
            .into_iter()
            .map(|r| {
                let urgency = crate::requests::urgency(r.due_at, c.now);
                RequestView {
                    id: r.id,
                    kind: r.kind,
                    law: r.law.to_uppercase(),
                    email: r.email,
                    received: c.time(&r.received_at),
                    due: c.time(&r.due_at),
                    acknowledge_by: r.acknowledge_by.map(|a| c.time(&a)),
                    urgency,
                    urgency_word: c.w(&format!("request_{urgency}")),
                }
            })
            .collect(),
    })
}
