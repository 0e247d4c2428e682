//! Validation of candidate-supplied text at intake (`apply`, CSV import):
//! names, email addresses, locales and time zones. Pure. Whatever passes here
//! may end up in an email header, so control characters (CR, LF, NUL and the
//! rest of C0/C1), bidi overrides and other invisible format characters are
//! refused, never stripped silently.

use std::str::FromStr;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_EMAIL_CHARS: usize = 254;

fn forbidden(c: char) -> Option<&'static str> {
    match c {
        '\r' => Some("a carriage return (CR)"),
        '\n' => Some("a line feed (LF)"),
        '\0' => Some("a NUL character"),
        c if c.is_control() => Some("a control character"),
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}' => Some("an invisible formatting character"),
        '\u{2028}' | '\u{2029}' => Some("a line separator"),
        _ => None,
    }
}

fn check_chars(field: &str, value: &str) -> Result<(), String> {
    if let Some((i, c, what)) = value
        .chars()
        .enumerate()
        .find_map(|(i, c)| forbidden(c).map(|w| (i, c, w)))
    {
        return Err(format!(
            "{field} contains {what} (U+{:04X}) at character {}",
            c as u32,
            i + 1
        ));
    }
    Ok(())
}

/// A candidate's display name: trimmed, 1-200 characters, no control or
/// invisible formatting characters.
pub fn name(value: &str) -> Result<String, String> {
    check_chars("name", value)?;
    // a mail program would decode `=?charset?q?…?=` into anything, line
    // breaks included, where the name is shown
    if let Some(at) = value.find("=?")
        && value[at + 2..].contains("?=")
    {
        return Err(format!(
            "name contains `=?…?=`, which mail programs decode as an RFC 2047 encoded word (at character {})",
            value[..at].chars().count() + 1
        ));
    }
    let v = value.trim();
    if v.is_empty() {
        return Err("name is empty".into());
    }
    let n = v.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(format!(
            "name is {n} characters long (at most {MAX_NAME_CHARS})"
        ));
    }
    Ok(v.to_string())
}

/// An email address (`local@domain`, no display name, no angle brackets).
pub fn email(value: &str) -> Result<String, String> {
    check_chars("email", value)?;
    let v = value.trim();
    if v.is_empty() {
        return Err("email is empty".into());
    }
    if v.len() > MAX_EMAIL_CHARS {
        return Err(format!("email is longer than {MAX_EMAIL_CHARS} bytes"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_whitespace() || "<>,;\"()[]\\".contains(*c))
    {
        return Err(format!("email `{v}` contains `{c}`"));
    }
    lettre::Address::from_str(v)
        .map(|a| a.to_string())
        .map_err(|e| format!("email `{v}` is not a valid address ({e})"))
}

/// The case-insensitive identity of an email address.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A BCP 47 language tag (`en`, `de-CH`, `zh-Hant-TW`, `es-419`), returned in
/// canonical case.
pub fn locale(value: &str) -> Result<String, String> {
    let v = value.trim().replace('_', "-");
    let bad =
        || format!("locale `{value}` is not a BCP 47 language tag such as en, de-CH or pt-BR");
    let mut parts = v.split('-');
    let lang = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = vec![lang.to_ascii_lowercase()];
    for p in parts {
        let ok_len = (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok_len {
            return Err(bad());
        }
        out.push(match p.len() {
            2 if p.chars().all(|c| c.is_ascii_alphabetic()) => p.to_ascii_uppercase(),
            4 if p.chars().all(|c| c.is_ascii_alphabetic()) => {
                let mut s = p.to_ascii_lowercase();
                s[..1].make_ascii_uppercase();
                s
            }
            _ => p.to_ascii_lowercase(),
        });
    }
    Ok(out.join("-"))
}

/// An IANA time zone name (`Europe/Zurich`, `UTC`).
pub fn timezone(value: &str) -> Result<String, String> {
    let v = value.trim();
    chrono_tz::Tz::from_str(v)
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            format!("time zone `{value}` is not an IANA time zone such as Europe/Zurich or UTC")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_header_injection_are_refused() {
        for bad in [
            "Eve\r\nBcc: x@evil.example",
            "Eve\nSubject: hi",
            "Eve\0",
            "Eve\u{7}",
            "Eve\u{85}",
            "\u{202E}evE",
            "Eve\u{2028}x",
        ] {
            assert!(name(bad).is_err(), "{bad:?} accepted");
        }
        let msg = name("Eve\r\nBcc: x").unwrap_err();
        assert!(
            msg.contains("carriage return") && msg.contains("character 4"),
            "{msg}"
        );
    }

    #[test]
    fn ordinary_names_pass_trimmed() {
        for good in [
            "Zoë Müller",
            "李雷",
            "Łukasz",
            "<script>alert(1)</script>",
            "Who =? Me",
        ] {
            assert_eq!(name(&format!("  {good} ")).unwrap(), good);
        }
        // lettre writes an ASCII display name as it is, and mail programs
        // decode an encoded word in it: line breaks and all
        let e = name("Eve =?utf-8?q?a=0D=0ABcc:_x@y?=").unwrap_err();
        assert!(e.contains("RFC 2047") && e.contains("character 5"), "{e}");
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(10_000)).unwrap_err().contains("10000"));
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(email(" ada@example.org ").unwrap(), "ada@example.org");
        for bad in [
            "a@b.org\r\nRCPT TO:<x@y>",
            "a@b.org>",
            "Ada <ada@example.org>",
            "no-at-sign",
            "a@b.org,c@d.org",
            "",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(email_key("Ada@Example.ORG"), "ada@example.org");
    }

    #[test]
    fn locales_are_canonicalised() {
        assert_eq!(locale("de-ch").unwrap(), "de-CH");
        assert_eq!(locale("zh_hant_tw").unwrap(), "zh-Hant-TW");
        assert_eq!(locale("es-419").unwrap(), "es-419");
        for bad in ["", "english", "d", "de-", "de CH"] {
            assert!(locale(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timezones_are_iana() {
        assert_eq!(timezone("Europe/Zurich").unwrap(), "Europe/Zurich");
        assert!(
            timezone("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
    }
}
