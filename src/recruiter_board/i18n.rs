//! The board's words (`templates/board/strings.toml`), per locale. The board
//! speaks `[org] default_locale`, as the recruiter emails do, falling back
//! `de-CH` → `de` → `en`; a word missing in a locale is taken from English.

use std::collections::BTreeMap;
use std::sync::OnceLock;

pub type Words = BTreeMap<String, String>;

const STRINGS: &str = include_str!("../../templates/board/strings.toml");

fn all() -> &'static BTreeMap<String, Words> {
    static ALL: OnceLock<BTreeMap<String, Words>> = OnceLock::new();
    // compiled in and checked by a test: a parse failure is a build defect
    ALL.get_or_init(|| toml::from_str(STRINGS).unwrap_or_default())
}

/// The locale the board uses for `wanted`, and its words.
pub fn words(wanted: &str) -> (String, Words) {
    let all = all();
    let base = wanted.split(['-', '_']).next().unwrap_or("en");
    let locale = [wanted, base]
        .into_iter()
        .find(|l| all.contains_key(*l))
        .unwrap_or("en");
    let mut w = all.get("en").cloned().unwrap_or_default();
    if let Some(own) = all.get(locale) {
        w.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    (locale.to_string(), w)
}

/// `template` with each `{name}` replaced by its value.
pub fn fill(template: &str, args: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in args {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_has_every_word_of_english() {
        let all = all();
        let en = &all["en"];
        assert!(en.len() > 50);
        for l in ["de", "es"] {
            let missing: Vec<&String> = en.keys().filter(|k| !all[l].contains_key(*k)).collect();
            assert!(missing.is_empty(), "{l} lacks {missing:?}");
        }
    }

    #[test]
    fn locales_fall_back_to_their_language_then_english() {
        assert_eq!(words("de-CH").0, "de");
        assert_eq!(words("es").1["stale"], "Estancadas");
        assert_eq!(words("fr").0, "en");
        assert_eq!(
            fill("{n} days in stage", &[("n", "3".into())]),
            "3 days in stage"
        );
    }
}
