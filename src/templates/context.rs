//! What a template may read: the context of an email, typed.

use serde::Serialize;

/// The three parts of one email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The locale whose templates were used (after fallback).
    pub locale: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CandidateCtx {
    pub name: String,
    pub first_name: String,
    pub email: String,
    /// The candidate's signed privacy link ("see what we hold about you",
    /// "delete my data"): set only on emails to the candidate, and then
    /// added by [`Renderer::render`] at the end of every part, whatever the
    /// template (so that no email to a candidate goes without it).
    #[serde(skip)]
    pub privacy_url: Option<String>,
}

/// A data-subject request, in the emails that answer it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RequestCtx {
    pub id: i64,
    /// access or erasure
    pub kind: String,
    /// When it was received, in the recipient's locale and time zone.
    pub received: String,
    /// The download link of an access request's export (single use).
    pub download_url: Option<String>,
    /// Until when that link works, formatted likewise.
    pub expires: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PostingCtx {
    pub title: String,
    pub company: Option<String>,
    pub location: Option<String>,
    pub url: String,
}

impl PostingCtx {
    pub fn of(p: &entity::posting::Model) -> PostingCtx {
        PostingCtx {
            title: p.title.clone(),
            company: p.company.clone(),
            location: p.location.clone(),
            url: p.url.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplicationCtx {
    pub id: i64,
    pub stage: String,
    pub stage_label: String,
    pub previous_stage: Option<String>,
    /// The application date, formatted for the recipient's locale and time zone.
    pub applied_on: String,
    /// When it entered its stage, formatted likewise.
    pub stage_since: String,
    /// The candidate's signed link to withdraw (with `[http] public_url`,
    /// in an active stage).
    pub withdraw_url: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct OrgCtx {
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestApplication {
    pub candidate: String,
    pub posting: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestStale {
    pub stage: String,
    pub count: u64,
    /// The posting the count is for (a digest lists them per posting).
    pub posting: Option<String>,
}

/// A candidate's address that bounced for good since the last digest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestBounce {
    pub candidate: String,
    pub address: String,
    pub posting: String,
    /// The report's status code (e.g. 5.1.1), when it gave one.
    pub status: Option<String>,
    /// Emails to the address waiting, held, until it is corrected.
    pub held: u64,
}

/// Mail atsd did not trust since the last digest, when there was more of
/// it than usual: forged tags by the dozen, or a sender over the rate.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestQuarantine {
    /// Messages quarantined since.
    pub total: u64,
    /// Of them, with a tag that is not atsd's.
    pub forged: u64,
    /// Messages not kept: their senders were over the per-sender rate.
    pub refused: u64,
    /// Those senders, most refused first (at most [`DIGEST_LINES`]).
    pub senders: Vec<DigestSender>,
}

/// An open data-subject request due within 7 days, or overdue.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestRequest {
    pub id: i64,
    /// access, erasure, rectification, restriction, objection
    pub kind: String,
    /// GDPR or CCPA
    pub law: String,
    /// The due date in the recipient's locale and zone.
    pub due: String,
    pub overdue: bool,
}

/// A sender of mail not kept in quarantine.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestSender {
    pub sender: String,
    pub refused: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DigestCtx {
    pub period: String,
    /// At most [`DIGEST_LINES`] of them; `new_total` counts all.
    pub new_applications: Vec<DigestApplication>,
    pub new_total: u64,
    /// The lines left out of the section (0 when none were).
    pub new_more: u64,
    pub stale: Vec<DigestStale>,
    pub stale_total: u64,
    /// At most [`DIGEST_LINES`] of them; `closed_total` counts all.
    pub closed_postings: Vec<String>,
    pub closed_total: u64,
    pub closed_more: u64,
    /// Stale lines (posting and stage) left out.
    pub stale_more: u64,
    /// At most [`DIGEST_LINES`] of them; `bounced_total` counts all.
    pub bounced: Vec<DigestBounce>,
    pub bounced_total: u64,
    pub bounced_more: u64,
    /// The board's list of postings, where the lines left out are
    /// (with `[http] public_url`).
    pub board_url: Option<String>,
    /// A surge of mail that was not trusted, when there was one.
    pub quarantine: Option<DigestQuarantine>,
    /// Data-subject requests due within 7 days or overdue, soonest first.
    pub requests: Vec<DigestRequest>,
}

/// A posting's close, as its team's notice tells it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClosedCtx {
    /// When atsd confirmed the close, in the recipient's locale and zone.
    pub at: String,
    /// Its applications still in an active stage.
    pub active: u64,
    /// The posting's board page (with `[http] public_url`).
    pub board_url: Option<String>,
}

/// An interview, as its invitation, update, cancellation or reminder tells
/// it to one recipient.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InterviewCtx {
    pub title: String,
    /// The start in the recipient's locale and time zone, with the zone.
    pub when: String,
    pub minutes: i32,
    pub location: Option<String>,
    pub video_url: Option<String>,
    /// The interviewers' names.
    pub interviewers: Vec<String>,
    /// A change of an invitation sent before (rescheduled).
    pub update: bool,
    /// The email goes to an interviewer (else to the candidate).
    pub for_interviewer: bool,
    /// The recipient's name (an interviewer's).
    pub recipient: String,
    /// The application's board page (interviewers, with `[http] public_url`).
    pub board_url: Option<String>,
    /// The interview's id (for the command line).
    pub id: i64,
    /// The signed single-use feedback link (feedback requests, with
    /// `[http] public_url` and a link key).
    pub feedback_url: Option<String>,
    /// The signed booking link of slots offered to the candidate
    /// (`interview_slots`).
    pub booking_url: Option<String>,
    /// Until when the booking link works, in the recipient's locale and
    /// time zone.
    pub booking_until: String,
}

/// Most lines in each section of a digest.
pub const DIGEST_LINES: usize = 25;

/// Everything a template may use.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Context {
    pub candidate: CandidateCtx,
    pub posting: PostingCtx,
    pub application: ApplicationCtx,
    pub reason: String,
    pub org: OrgCtx,
    pub digest: DigestCtx,
    pub closed: ClosedCtx,
    pub interview: InterviewCtx,
    pub reply: ReplyCtx,
    pub request: RequestCtx,
}

/// A candidate's reply, forwarded to the posting's recruiter.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReplyCtx {
    /// The sender as the message gives it.
    pub from: String,
    /// The sender, when it is not the candidate's address on file (the
    /// forward's Reply-To is that address all the same).
    pub other_sender: Option<String>,
    /// The reply's own subject.
    pub subject: String,
    /// When it was written, in the recipient's locale and time zone.
    pub date: String,
    /// Its text (HTML turned into text), at most 64 KiB.
    pub text: String,
    /// Attachments, not kept: "name (size)".
    pub attachments: Vec<String>,
    /// The application's board page (with `[http] public_url`).
    pub board_url: Option<String>,
}
