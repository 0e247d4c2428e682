//! What a delivery report that is not RFC 3464 says in words: most of a
//! real mail stream (qmail's "failure notice", Exchange's and GroupWise's
//! "Undeliverable", old Postfix and Sendmail, Yahoo, Domino, MDaemon, the
//! webmail providers). Read on the text that came back to an email's VERP
//! address, or that quotes one of atsd's Message-IDs, so the question is
//! only whether the failure is final.
//!
//! In order, the first that speaks decides:
//! 1. an enhanced status code of a failure (RFC 3463: `5.1.1`, `4.4.7`);
//! 2. the class of an SMTP reply quoted in it (`550 …` → `5.0.0`);
//! 3. words for a dead address (`user unknown`, `no such user`, …) → 5;
//! 4. words of a delay, a warning or a retry → 4 (a warning that "could not
//!    be delivered yet" is not a failure);
//! 5. words of a final failure of the message (`could not be delivered`,
//!    `permanent error`, `Undeliverable`, qmail's `failure notice`) → 5.
//!
//! Each family's wording was learnt from the reports of flufl.bounce's
//! corpus and Sisimai's set of emails; each has its sample in the tests
//! below and the corpora are read whole by tests/it/inbound.rs.

use super::dsn::failure_code;

/// Words for an address that does not exist (or no longer accepts mail).
const DEAD: [&str; 34] = [
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "does not exist",
    "doesn't exist",
    "n'existe pas",
    "mailbox unavailable",
    "mailbox not found",
    "invalid mailbox",
    "invalid recipient",
    "invalid final delivery",
    "recipient address rejected",
    "account has been disabled",
    "account is disabled",
    "not a valid mailbox",
    "unknown recipient",
    "no mailbox here",
    "user not known",
    "user not found",
    "no user by that name",
    "not listed in",
    "no longer valid",
    "doesn't have a",
    "does not have a final email delivery point",
    "could not find a gateway",
    "no valid recipients",
    "unknown local part",
    "unrouteable address",
    "host not found",
    "host unknown",
    "name service error",
    "domain not found",
    "no such domain",
];

/// Words of a delay: the message is still on its way.
const LATER: [&str; 12] = [
    "will retry",
    "will be retried",
    "will continue to try",
    "will keep trying",
    "will try again",
    "still trying",
    "still being attempted",
    "has been delayed",
    "delivery is delayed",
    "not yet been delivered",
    "this is only a warning",
    "delivery attempts will continue",
];

/// Words of a final failure of the message.
const FINAL: [&str; 37] = [
    "permanent error",
    "notification (failure)",
    "permanent failure",
    "failed permanently",
    "permanently failed",
    "i've given up",
    "could not be delivered",
    "couldn't be delivered",
    "cannot be delivered",
    "can't be delivered",
    "not be delivered",
    "was not delivered",
    "were not delivered",
    "has not been delivered",
    "message not delivered",
    "mail not delivered",
    "unable to deliver",
    "not able to deliver",
    "could not deliver",
    "delivery failed",
    "delivery failure",
    "delivery has failed",
    "recipients failed",
    "recipient failed",
    "address(es) failed",
    "addresses failed",
    "failed addresses",
    "did not reach",
    "undeliverable",
    "undelivered mail",
    "returned mail",
    "mail failed",
    "failed mail",
    "failure notice",
    "automatically rejected",
    "not accepted",
    "error was detected",
];

/// What the free text of a report says of the failure, as a status:
/// its own code when it has one, else `5.0.0` (final) or `4.0.0` (a delay);
/// `None` when it says nothing of one. `subject` is read with the text
/// (Exchange, qmail and GroupWise say it there).
pub fn text_failure(subject: &str, text: &str) -> Option<String> {
    if let Some(code) = failure_code(text) {
        return Some(code);
    }
    if let Some(class) = smtp_reply(text) {
        return Some(class);
    }
    let lower = format!("{subject}\n{text}").to_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if says(&DEAD) {
        Some("5.0.0".into())
    } else if says(&LATER) {
        Some("4.0.0".into())
    } else if says(&FINAL) {
        Some("5.0.0".into())
    } else {
        None
    }
}

/// A 5xx or 4xx SMTP reply code in text (`said: 550 …`, `550-…`), as a
/// status class (`5.0.0`).
fn smtp_reply(text: &str) -> Option<String> {
    for w in text.split(|c: char| c.is_whitespace() || c == '(' || c == ':') {
        let w = w.trim_end_matches('-');
        if w.len() == 3 && w.chars().all(|c| c.is_ascii_digit()) {
            let d: u32 = w.parse().ok()?;
            if (421..=554).contains(&d) && matches!(d / 100, 4 | 5) {
                return Some(format!("{}.0.0", d / 100));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::text_failure;

    fn says(subject: &str, text: &str) -> Option<String> {
        text_failure(subject, text)
    }

    #[test]
    fn a_code_speaks_first_and_a_version_number_is_no_code() {
        assert_eq!(
            says("", "Remote said: 550 5.7.1 blocked").as_deref(),
            Some("5.7.1")
        );
        // bounce_03: "version 2.0.13" before the failure
        assert_eq!(
            says("", "Mercury 2.0.13 here\n550 user unknown").as_deref(),
            Some("5.0.0")
        );
        // simple_44: a temporary code stays temporary whatever the words
        assert_eq!(
            says(
                "Email Delivery Failure",
                "could not be delivered.\n-- 4.4.4 Temporary server error."
            )
            .as_deref(),
            Some("4.4.4")
        );
    }

    /// One sample per wording, from the corpora (the addresses made up):
    /// a dead address.
    #[test]
    fn the_words_for_a_dead_address() {
        let dead = [
            ("", "userx@example.net.py - no such user here."), // MDaemon
            (
                "",
                "User carlosr73 (userx@example.com) not listed in Domino Directory",
            ),
            (
                "",
                "This user doesn't have a sbcglobal.net account (userx@example.net)",
            ), // Yahoo
            ("", "Invalid final delivery userid: userx@example.ac.jp"),
            (
                "",
                "Local mailbox userx@example.ru is unavailable: user not found",
            ), // mail.ru
            (
                "",
                "L'adresse de messagerie référencée ci-dessus n'existe pas.",
            ),
            (
                "",
                "Routing: Could not find a gateway for userx@example.com",
            ),
            ("", "Does not have a final email delivery point,"),
            ("", " no valid recipients were found for this message"),
            (
                "",
                "<yyyyy@digicool.com>: Name service error for domain digicool.com",
            ), // Postfix
            ("", "this email address is wrong or no longer valid."),
            ("Delivery failure", "User not known"),
        ];
        for (subject, text) in dead {
            assert_eq!(says(subject, text).as_deref(), Some("5.0.0"), "{text}");
        }
    }

    /// A final failure of the message.
    #[test]
    fn the_words_of_a_final_failure() {
        let last = [
            (
                "failure notice",
                "Sorry, I wasn't able to establish an SMTP connection.",
            ), // qmail
            (
                "",
                "This is a permanent error; I've given up. Sorry it didn't work out.",
            ),
            (
                "Undeliverable: Hello",
                "Your message did not reach some or all of the intended recipients.",
            ), // Exchange
            (
                "Undelivered Mail Returned to Sender",
                "could not be delivered to one or more destinations.",
            ), // Postfix
            ("Mail not delivered", "Mail delivery failed."),
            (
                "",
                "Delivery to the following recipient failed permanently:",
            ), // Gmail
            (
                "",
                "Your message to <userx@example.com> was automatically rejected:",
            ),
            ("", "Message was not accepted -- try again never"),
            (
                "",
                "Unable to deliver message to the following address(es).",
            ),
            (
                "",
                "we were not able to deliver your message to the following address(es):",
            ),
            (
                "Undelivered mail",
                "An error was detected while processing the enclosed message.",
            ),
            ("", "Your message was not delivered within 2 days."),
            ("Delivery Status Notification (Failure)", "Google Groups"), // Google Groups
        ];
        for (subject, text) in last {
            assert_eq!(says(subject, text).as_deref(), Some("5.0.0"), "{text}");
        }
    }

    /// A delay, a warning: still on its way, however it words the failure.
    #[test]
    fn the_words_of_a_delay_and_of_no_failure() {
        let later = [
            (
                "Warning: could not send message for past 4 hours",
                "** THIS IS A WARNING MESSAGE ONLY **\nThe message has not yet been delivered.\nWill keep trying",
            ),
            (
                "Delivery Status Notification (Delay)",
                "Delivery to the following recipient has been delayed: it could not be delivered yet",
            ),
            (
                "",
                "This is only a warning; you do not need to resend your message. Delivery attempts will continue",
            ),
        ];
        for (subject, text) in later {
            assert_eq!(says(subject, text).as_deref(), Some("4.0.0"), "{text}");
        }
        assert_eq!(
            says("Re: your application", "Thanks, see you Monday!"),
            None
        );
    }
}
