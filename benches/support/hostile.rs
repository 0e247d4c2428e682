//! Hostile inbound messages of a given size, as anyone on the internet can
//! send them to atsd's inbound domain: what made the first readers take
//! time quadratic in the message, and what other readers could trip on.
//! Shared by the benchmark `inbound_read` and the inbound tests.

/// The kinds of hostile message.
pub const KINDS: [&str; 6] = ["digits", "unclosed", "nested", "folded", "html", "plain"];

/// A message of `kind` about `size` bytes long (`plain` is an ordinary
/// text message: the reference the others are measured beside).
pub fn message(kind: &str, size: usize) -> Vec<u8> {
    let head = "From: MAILER-DAEMON@mx.example.net\r\n\
                To: jobs@example.org\r\n\
                Message-ID: <hostile@mx.example.net>\r\n\
                Subject: Undelivered Mail Returned to Sender\r\n\
                MIME-Version: 1.0\r\n";
    let mut m = String::with_capacity(size + 1024);
    m.push_str(head);
    match kind {
        // "5 5 5 …": every place a status code could start
        "digits" => {
            m.push_str("Content-Type: text/plain\r\n\r\n");
            fill(&mut m, size, "5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5 5\r\n");
        }
        // "<atsd.<atsd.…": ids that never close
        "unclosed" => {
            m.push_str("Content-Type: text/plain\r\n\r\n");
            fill(&mut m, size, "<atsd.<atsd.<atsd.<atsd.<atsd.<atsd.\r\n");
            m.push_str(">\r\n");
        }
        // multiparts inside multiparts, as deep as the size allows
        "nested" => {
            let depth = (size / 64).max(1);
            m.push_str("Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
            for d in 1..depth {
                m.push_str(&format!(
                    "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{d}\"\r\n\r\n",
                    d - 1
                ));
                if m.len() >= size {
                    break;
                }
            }
            m.push_str("Content-Type: text/plain\r\n\r\n5.1.1\r\n");
        }
        // one header folded over and over
        "folded" => {
            m.push_str("X-Long: start");
            fill(&mut m, size, "\r\n 5 <atsd.x");
            m.push_str("\r\nContent-Type: text/plain\r\n\r\nbody\r\n");
        }
        // HTML of unclosed tags and entities, no text part
        "html" => {
            m.push_str("Content-Type: text/html\r\n\r\n");
            fill(&mut m, size, "<div><b><i <a href=\"&amp;&#x35;&lt;");
        }
        _ => {
            m.push_str("Content-Type: text/plain\r\n\r\n");
            fill(
                &mut m,
                size,
                "The quick brown fox jumps over the lazy dog, again and again.\r\n",
            );
        }
    }
    m.into_bytes()
}

fn fill(m: &mut String, size: usize, unit: &str) {
    while m.len() < size {
        m.push_str(unit);
    }
}
