//! The variables a template may use, and fixed data for previews,
//! snapshots and `check-config`.

use super::*;
use std::collections::BTreeSet;

/// The variables a template may use, as `a` and `a.b`.
pub fn known_variables() -> BTreeSet<&'static str> {
    [
        "candidate",
        "candidate.name",
        "candidate.first_name",
        "candidate.email",
        "posting",
        "posting.title",
        "posting.company",
        "posting.location",
        "posting.url",
        "application",
        "application.id",
        "application.stage",
        "application.stage_label",
        "application.previous_stage",
        "application.applied_on",
        "application.stage_since",
        "application.withdraw_url",
        "reason",
        "org",
        "org.name",
        "locale",
        "subject",
        "digest",
        "digest.period",
        "digest.new_applications",
        "digest.stale",
        "digest.stale_total",
        "digest.closed_postings",
        "digest.new_total",
        "digest.new_more",
        "digest.closed_total",
        "digest.closed_more",
        "digest.stale_more",
        "digest.bounced",
        "digest.bounced_total",
        "digest.bounced_more",
        "digest.board_url",
        "digest.quarantine",
        "digest.requests",
        "closed",
        "closed.at",
        "closed.active",
        "closed.board_url",
        "interview",
        "interview.title",
        "interview.when",
        "interview.minutes",
        "interview.location",
        "interview.video_url",
        "interview.interviewers",
        "interview.update",
        "interview.for_interviewer",
        "interview.recipient",
        "interview.board_url",
        "interview.id",
        "interview.feedback_url",
        "interview.booking_url",
        "interview.booking_until",
        "reply",
        "reply.from",
        "reply.other_sender",
        "reply.subject",
        "reply.date",
        "reply.text",
        "reply.attachments",
        "reply.board_url",
        "request",
        "request.id",
        "request.kind",
        "request.received",
        "request.download_url",
        "request.expires",
    ]
    .into_iter()
    .collect()
}

/// Fixed data for previews, snapshots and `check-config`, with dates and
/// stage names as `locale` writes them.
pub fn sample_for(locale: &str) -> Context {
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    };
    let mut c = sample_context();
    c.application.applied_on =
        format_date(at("2026-11-02T10:00:00Z"), locale, Some("Europe/Berlin"));
    c.application.stage_since =
        format_date(at("2026-11-24T15:00:00Z"), locale, Some("Europe/Berlin"));
    c.application.stage_label = stage_label("interview", locale);
    c.digest.period = format_date(at("2026-11-25T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.closed.at = c.digest.period.clone();
    c.interview.when = format_time(at("2030-01-08T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.interview.booking_until =
        format_time(at("2030-01-06T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.request.received = format_date(at("2026-11-25T09:00:00Z"), locale, Some("Europe/Berlin"));
    c.request.expires = format_time(at("2026-12-02T09:00:00Z"), locale, Some("Europe/Berlin"));
    c
}

/// Fixed data for previews and `check-config`.
// Stays whole: fixed sample data, one field per line.
pub fn sample_context() -> Context {
    Context {
        candidate: CandidateCtx {
            name: "Zoë Müller".into(),
            first_name: "Zoë".into(),
            email: "zoe.mueller@example.net".into(),
            privacy_url: None,
        },
        posting: PostingCtx {
            title: "Senior Platform Engineer".into(),
            company: Some("Example Corp".into()),
            location: Some("Berlin".into()),
            url: "https://boards.greenhouse.io/examplecorp/jobs/4410021".into(),
        },
        application: ApplicationCtx {
            id: 42,
            stage: "interview".into(),
            stage_label: "interview".into(),
            previous_stage: Some("screening".into()),
            applied_on: "2 November 2026".into(),
            stage_since: "24 November 2026".into(),
            withdraw_url: Some("https://atsd.example.org/self-service/withdraw/7.1798790400.bm9uY2Vub25jZQ.c2lnbmF0dXJl".into()),
        },
        reason: "strong portfolio".into(),
        org: OrgCtx {
            name: "Example Org".into(),
        },
        digest: DigestCtx {
            period: "25 November 2026".into(),
            new_applications: vec![DigestApplication {
                candidate: "Łukasz Nowak".into(),
                posting: "Data Analyst, Growth".into(),
            }],
            stale: vec![DigestStale {
                stage: "screening".into(),
                count: 2,
                posting: Some("Data Analyst, Growth".into()),
            }],
            stale_total: 2,
            closed_postings: vec!["Customer Support Lead".into()],
            new_total: 27,
            new_more: 26,
            closed_total: 1,
            closed_more: 0,
            stale_more: 0,
            bounced: vec![DigestBounce {
                candidate: "María Gómez".into(),
                address: "maria@mail.example.net".into(),
                posting: "Data Analyst, Growth".into(),
                status: Some("5.1.1".into()),
                held: 1,
            }],
            bounced_total: 1,
            bounced_more: 0,
            board_url: Some("https://atsd.example.org/board".into()),
            requests: vec![DigestRequest {
                id: 3,
                kind: "access".into(),
                law: "GDPR".into(),
                due: "30 November 2026".into(),
                overdue: false,
            }],
            quarantine: Some(DigestQuarantine {
                total: 41,
                forged: 38,
                refused: 120,
                senders: vec![DigestSender {
                    sender: "mailer-daemon@mx.example.net".into(),
                    refused: 120,
                }],
            }),
        },
        closed: ClosedCtx {
            at: "25 November 2026".into(),
            active: 3,
            board_url: Some("https://atsd.example.org/board/postings/7".into()),
        },
        interview: InterviewCtx {
            title: "Interview: Senior Platform Engineer".into(),
            when: "8 January 2030, 10:00 CET".into(),
            minutes: 45,
            location: Some("Room 4, Example Corp, Berlin".into()),
            video_url: Some("https://meet.example.org/abc-defg".into()),
            interviewers: vec!["Ada Lovelace".into(), "Grace Hopper".into()],
            update: false,
            for_interviewer: false,
            recipient: "Ada Lovelace".into(),
            board_url: None,
            id: 1,
            feedback_url: Some(
                "https://atsd.example.org/self-service/feedback/f1-1.1893456000.bm9uY2U.c2ln".into(),
            ),
            booking_url: Some(
                "https://atsd.example.org/self-service/book/b1.1893456000.bm9uY2U.c2ln".into(),
            ),
            booking_until: String::new(),
        },
        reply: ReplyCtx {
            from: "Zoë Müller <zoe@example.org>".into(),
            other_sender: None,
            subject: "Re: Your application for Senior Platform Engineer".into(),
            date: "26 November 2026, 10:15 CET".into(),
            text: "Thank you! I am available on Tuesday.\n\n> earlier text".into(),
            attachments: vec!["cv.pdf (48 KiB)".into()],
            board_url: Some("https://atsd.example.org/board/applications/1".into()),
        },
        request: RequestCtx {
            id: 3,
            kind: "access".into(),
            received: "25 November 2026".into(),
            download_url: Some(
                "https://atsd.example.org/self-service/export/x3.1796202000.bm9uY2U.c2ln".into(),
            ),
            expires: "2 December 2026, 10:00 CET".into(),
        },
    }
}
