//! Snapshots of every built-in template in every locale, rendered with the
//! fixed sample data (`cargo insta review` after a deliberate change).

use atsd::templates::{Renderer, sample_for};

#[test]
fn every_template_in_every_locale() {
    let r = Renderer::new(None);
    for name in r.names() {
        for locale in r.locales() {
            let out = r
                .render(&name, &locale, "en", &sample_for(&locale))
                .expect("renders");
            assert_eq!(out.locale, locale, "{name} exists in {locale}");
            insta::assert_snapshot!(
                format!("{name}-{locale}"),
                format!(
                    "Subject: {}\n\n{}\n----- html -----\n{}",
                    out.subject, out.text, out.html
                )
            );
        }
    }
}
