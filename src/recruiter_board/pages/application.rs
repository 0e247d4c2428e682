//! An application's page (`/board/applications/{id}`): its history, emails, mail, interviews, form and files, what the rules will do next.

use super::*;
use entity::inbound_message::{Kind, Status};

/// `/board/applications/{id}`.
#[derive(Debug, Serialize)]
pub struct ApplicationPage {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub stage: String,
    pub applied: String,
    pub posting: PostingView,
    pub transitions: Vec<TransitionView>,
    pub emails: Vec<EmailView>,
    /// What the rules will do next, and when.
    pub next_rule: Option<NextRule>,
    #[serde(flatten)]
    pub stay: Stay,
    /// The version the move form expects (a move made since is refused).
    pub version: i32,
    pub on_hold: bool,
    pub hold_reason: Option<String>,
    pub interviews: Vec<InterviewView>,
    /// The scorecard matrix (attributes × interviewers), when the viewer
    /// may see it.
    pub scorecards: Option<crate::recruiter_board::scorecards::Matrix>,
    /// Mail from the candidate's side: replies, auto-replies, bounces.
    pub mail: Vec<InboundView>,
    /// The candidate's address is marked undeliverable: since when, why.
    pub undeliverable: Option<String>,
    /// What it brought through the careers site or the Job Board API.
    pub form: Option<FormView>,
    /// The forms, for a viewer who may act.
    pub actions: Option<Actions>,
    /// What the viewer's last action did, or why it was refused.
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// An application's form: phone, source, answers by question, files.
#[derive(Debug, Serialize)]
pub struct FormView {
    pub phone: Option<String>,
    pub source: Option<String>,
    /// `(question, answer)`, answers of several choices joined.
    pub answers: Vec<(String, String)>,
    pub files: Vec<FileView>,
}

#[derive(Debug, Serialize)]
pub struct FileView {
    pub id: i64,
    pub field: String,
    pub name: String,
    pub media_type: String,
    pub size: String,
}

async fn form_view<C: sea_orm::ConnectionTrait>(conn: &C, id: i64) -> Result<Option<FormView>> {
    let Some(f) = crate::store::careers::form_of(conn, id).await? else {
        return Ok(None);
    };
    let answers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&f.answers).unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    Ok(Some(FormView {
        phone: f.phone,
        source: f.source,
        answers: answers.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        files: crate::store::careers::files_of(conn, id)
            .await?
            .into_iter()
            .map(|x| FileView {
                id: x.id,
                field: x.field,
                name: x.name,
                media_type: x.media_type,
                size: crate::config::Size(x.size.max(0) as u64).to_string(),
            })
            .collect(),
    }))
}

/// What a viewer who may act can do on an application page.
#[derive(Debug, Serialize)]
pub struct Actions {
    pub form_token: String,
    /// The stages the pipeline allows a move to from here.
    pub moves: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TransitionView {
    pub at: String,
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NextRule {
    pub text: String,
    /// Already due (the next run of the advance job acts).
    pub due: bool,
}

/// An email as the application page and the outbox list show it.
#[derive(Debug, Serialize)]
pub struct EmailView {
    pub id: i64,
    pub created: String,
    pub recipient: String,
    pub template: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub application_href: Option<String>,
    pub application_id: Option<i64>,
}

impl EmailView {
    pub(super) fn new(c: &Ctx<'_>, e: &outbox::Model) -> EmailView {
        EmailView {
            id: e.id,
            created: c.time(&e.created_at),
            recipient: e.recipient.clone(),
            template: e.template.clone(),
            status: e.status.to_string(),
            attempts: e.attempts,
            last_error: e.last_error.clone(),
            application_href: e.application_id.map(|a| format!("/board/applications/{a}")),
            application_id: e.application_id,
        }
    }
}

/// `/board/applications/{id}`: the history, the emails and the next rule.
// Stays whole: the page's fields in the order its template shows them.
pub async fn application_page(c: &Ctx<'_>, id: i64) -> Result<ApplicationPage> {
    let conn = c.store.conn();
    let h = q::application_history(conn, id).await?;
    let a = &h.application;
    let p = q::posting(conn, a.posting_id).await?;
    // read as the advance job reads them
    let (posting_closed_at, reminded) = crate::store::applications::rule_facts(conn, a.id).await?;
    let rules = rules::from_config(c.config);
    let facts = Facts {
        stage: &a.stage,
        entered_stage_at: a.entered_stage_at,
        posting_closed_at,
        reminded,
    };
    let next_rule = rules::next_action(&rules, c.pipeline, &facts).map(|(act, at)| {
        let when = c.time(&at);
        let text = match act {
            Action::Move { rule, to } => fill(
                &c.w("next_rule_move"),
                &[
                    ("rule", rule.name.clone()),
                    ("stage", to.to_string()),
                    ("at", when),
                ],
            ),
            Action::Remind { rule } => fill(
                &c.w("next_rule_remind"),
                &[("rule", rule.name.clone()), ("at", when)],
            ),
        };
        NextRule {
            text,
            due: at <= c.now,
        }
    });
    let th = c.thresholds();
    Ok(ApplicationPage {
        id: a.id,
        name: h
            .candidate
            .as_ref()
            .map(|x| x.name.clone())
            .unwrap_or_default(),
        email: h
            .candidate
            .as_ref()
            .map(|x| x.email.clone())
            .unwrap_or_default(),
        stage: a.stage.clone(),
        applied: c.time(&a.applied_at),
        posting: PostingView::new(c, &p),
        transitions: h
            .transitions
            .iter()
            .map(|t| TransitionView {
                at: c.time(&t.at),
                from: t.from_stage.clone(),
                to: t.to_stage.clone(),
                actor: t.actor.clone(),
                reason: t.reason.clone(),
            })
            .collect(),
        emails: h.emails.iter().map(|e| EmailView::new(c, e)).collect(),
        next_rule,
        stay: c.stay(&th, &a.stage, a.entered_stage_at),
        version: a.version,
        on_hold: h.candidate.as_ref().is_some_and(|x| x.on_hold),
        hold_reason: h.candidate.as_ref().and_then(|x| x.hold_reason.clone()),
        interviews: interview_views(
            c,
            crate::store::interviews::of_application(conn, a.id).await?,
        )
        .await?,
        scorecards: crate::recruiter_board::scorecards::matrix(
            c,
            a.id,
            &crate::interviews::scorecard::of_posting(&p),
        )
        .await?,
        mail: crate::store::inbound::list(conn, None, Some(a.id), 100)
            .await?
            .into_iter()
            .rev()
            .map(|m| InboundView::new(c, m, h.candidate.as_ref().map(|x| x.email.as_str())))
            .collect(),
        undeliverable: match &h.candidate {
            Some(cand) => crate::store::inbound::undeliverable(conn, &cand.email)
                .await?
                .map(|u| {
                    fill(
                        &c.w("undeliverable_since"),
                        &[
                            ("since", c.time(&u.since)),
                            (
                                "why",
                                [u.dsn_status.clone(), u.diagnostic.clone()]
                                    .into_iter()
                                    .flatten()
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ),
                        ],
                    )
                }),
            None => None,
        },
        form: form_view(conn, a.id).await?,
        actions: None,
        notice: None,
        error: None,
    })
}

/// A message that came back about an application, as the board shows it.
#[derive(Debug, Serialize)]
pub struct InboundView {
    pub received: String,
    pub kind: Kind,
    pub kind_text: String,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    /// "cv.pdf (48 bytes)", not kept.
    pub attachments: Vec<String>,
    /// A bounce's status and diagnostic.
    pub detail: Option<String>,
    pub unread: bool,
    /// A reply sent from another address than the candidate's on file.
    pub other_sender: bool,
}

impl InboundView {
    fn new(c: &Ctx<'_>, m: entity::inbound_message::Model, on_file: Option<&str>) -> InboundView {
        // "Name <address>" or the address alone, as the reply was stored
        let other_sender = m.kind == Kind::Reply
            && m.status != Status::Calendar
            && match (m.sender.as_deref(), on_file) {
                (Some(s), Some(file)) => {
                    let a = s
                        .rsplit_once('<')
                        .map_or(s, |(_, a)| a.trim_end_matches('>'))
                        .trim();
                    !a.eq_ignore_ascii_case(file)
                }
                _ => false,
            };
        let attachments = m
            .attachments
            .as_deref()
            .and_then(|a| serde_json::from_str::<Vec<serde_json::Value>>(a).ok())
            .unwrap_or_default()
            .iter()
            .map(crate::inbound::receive::attachment_line)
            .collect();
        let detail = (m.kind == Kind::Bounce).then(|| {
            [
                m.status.to_string(),
                m.dsn_status.clone().unwrap_or_default(),
                m.diagnostic.clone().unwrap_or_default(),
            ]
            .join(" ")
            .trim()
            .to_string()
        });
        InboundView {
            received: c.time(&m.received_at),
            kind_text: c.w(&format!("inbound_{}", m.kind.as_str())),
            kind: m.kind,
            from: m.sender,
            subject: m.subject,
            text: m.body_text,
            attachments,
            detail,
            unread: m.read_at.is_none(),
            other_sender,
        }
    }
}
