//! The candidate's privacy pages: what the link in every email to them
//! opens ("see what we hold about you", "delete my data"), and the page of
//! the download link an access request sends. Words in the locales atsd
//! ships (else English); plain HTML forms, no script.

use super::shell;

/// The privacy pages' words.
pub struct Words {
    pub lang: &'static str,
    pub title: &'static str,
    /// `{org}`
    pub intro: &'static str,
    pub access: &'static str,
    pub access_hint: &'static str,
    pub erasure: &'static str,
    pub erasure_hint: &'static str,
    /// `{email}`
    pub opened_access: &'static str,
    /// `{due}`
    pub opened_erasure: &'static str,
    pub download_intro: &'static str,
    pub download: &'static str,
    pub invalid: &'static str,
    pub expired: &'static str,
    pub used: &'static str,
    pub gone: &'static str,
    pub cross_site: &'static str,
    pub missing: &'static str,
    /// The line every email to a candidate ends with, before its link.
    pub footer: &'static str,
}

pub fn words(locale: &str) -> &'static Words {
    match locale.split(['-', '_']).next().unwrap_or("en") {
        "de" => &DE,
        "es" => &ES,
        _ => &EN,
    }
}

static EN: Words = Words {
    lang: "en",
    title: "Your data",
    intro: "{org} holds the personal data you gave with your application and what came of it. You may see all of it, or have it deleted.",
    access: "See what we hold about you",
    access_hint: "We email you a link to download it as one file; the link works once, for 7 days.",
    erasure: "Delete my data",
    erasure_hint: "A recruiter confirms the deletion (the law may oblige us to keep some of it for a while); we email you when it is done.",
    opened_access: "Your request is recorded. We have sent a download link to {email}: it works once, for 7 days.",
    opened_erasure: "Your request is recorded. We will delete your data by {due} at the latest, and email you when it is done.",
    download_intro: "Everything we hold about you, as one JSON file.",
    download: "Download my data",
    invalid: "This link is not valid.",
    expired: "This link has expired. Every email we send you carries a new one; or reply to one of our emails.",
    used: "This link has already been used. Every email we send you carries a new one.",
    gone: "We no longer hold personal data about you.",
    cross_site: "Nothing was done: the form was sent from another site.",
    missing: "Nothing was done: choose one of the two buttons.",
    footer: "See what we hold about you, or have it deleted",
};

static DE: Words = Words {
    lang: "de",
    title: "Ihre Daten",
    intro: "{org} speichert die persönlichen Daten, die Sie mit Ihrer Bewerbung angegeben haben, und was daraus wurde. Sie können alles einsehen oder löschen lassen.",
    access: "Sehen, was wir über Sie speichern",
    access_hint: "Wir senden Ihnen einen Link, über den Sie alles als eine Datei herunterladen; er gilt einmal, 7 Tage lang.",
    erasure: "Meine Daten löschen",
    erasure_hint: "Eine Recruiterin oder ein Recruiter bestätigt die Löschung (manches müssen wir von Gesetzes wegen eine Zeit lang aufbewahren); wir schreiben Ihnen, wenn sie erledigt ist.",
    opened_access: "Ihre Anfrage ist erfasst. Wir haben einen Download-Link an {email} gesendet: Er gilt einmal, 7 Tage lang.",
    opened_erasure: "Ihre Anfrage ist erfasst. Wir löschen Ihre Daten spätestens bis {due} und schreiben Ihnen, wenn es erledigt ist.",
    download_intro: "Alles, was wir über Sie speichern, als eine JSON-Datei.",
    download: "Meine Daten herunterladen",
    invalid: "Dieser Link ist ungültig.",
    expired: "Dieser Link ist abgelaufen. Jede E-Mail von uns enthält einen neuen; oder antworten Sie auf eine unserer E-Mails.",
    used: "Dieser Link wurde bereits verwendet. Jede E-Mail von uns enthält einen neuen.",
    gone: "Wir speichern keine persönlichen Daten mehr über Sie.",
    cross_site: "Nichts wurde getan: Das Formular kam von einer anderen Website.",
    missing: "Nichts wurde getan: Bitte wählen Sie eine der beiden Schaltflächen.",
    footer: "Sehen, was wir über Sie speichern, oder es löschen lassen",
};

static ES: Words = Words {
    lang: "es",
    title: "Tus datos",
    intro: "{org} guarda los datos personales que nos diste con tu candidatura y lo que resultó de ella. Puedes verlos todos o pedir que los borremos.",
    access: "Ver qué datos tenemos sobre ti",
    access_hint: "Te enviamos un enlace para descargarlos en un archivo; funciona una vez, durante 7 días.",
    erasure: "Borrar mis datos",
    erasure_hint: "Una persona de selección confirma el borrado (la ley puede obligarnos a guardar algo durante un tiempo); te escribimos cuando esté hecho.",
    opened_access: "Tu solicitud ha quedado registrada. Hemos enviado un enlace de descarga a {email}: funciona una vez, durante 7 días.",
    opened_erasure: "Tu solicitud ha quedado registrada. Borraremos tus datos a más tardar el {due} y te escribiremos cuando esté hecho.",
    download_intro: "Todo lo que guardamos sobre ti, en un archivo JSON.",
    download: "Descargar mis datos",
    invalid: "Este enlace no es válido.",
    expired: "Este enlace ha caducado. Cada correo que te enviamos lleva uno nuevo; o responde a uno de nuestros correos.",
    used: "Este enlace ya se ha utilizado. Cada correo que te enviamos lleva uno nuevo.",
    gone: "Ya no guardamos datos personales sobre ti.",
    cross_site: "No se ha hecho nada: el formulario se envió desde otro sitio.",
    missing: "No se ha hecho nada: elige uno de los dos botones.",
    footer: "Consulta qué datos tenemos sobre ti o pide que los borremos",
};

fn e(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn attr(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn notice(n: Option<&str>) -> String {
    n.map(|n| format!("<p role=\"status\"><strong>{}</strong></p>", e(n)))
        .unwrap_or_default()
}

/// The privacy page: the two choices, each a button of one form posted
/// back to `action` (none: only `text`, e.g. a refusal or the answer).
pub fn page(w: &Words, org: &str, text: &str, note: Option<&str>, action: Option<&str>) -> String {
    let form = action
        .map(|action| {
            format!(
                "<form method=\"post\" action=\"{}\">\
                 <p><button type=\"submit\" name=\"kind\" value=\"access\">{}</button><br>{}</p>\
                 <p><button type=\"submit\" name=\"kind\" value=\"erasure\">{}</button><br>{}</p>\
                 </form>",
                attr(action),
                e(w.access),
                e(w.access_hint),
                e(w.erasure),
                e(w.erasure_hint),
            )
        })
        .unwrap_or_default();
    shell(
        w.lang,
        w.title,
        org,
        &format!("{}<p>{}</p>{form}", notice(note), e(text)),
    )
}

/// The download page: one button that posts back to `action` and gets the
/// file (a `GET` changes nothing, so that mail scanners opening links
/// spend nothing).
pub fn download_page(w: &Words, org: &str, text: &str, action: Option<&str>) -> String {
    let form = action
        .map(|action| {
            format!(
                "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
                attr(action),
                e(w.download)
            )
        })
        .unwrap_or_default();
    shell(w.lang, w.title, org, &format!("<p>{}</p>{form}", e(text)))
}

/// The end of every email to a candidate, in its text part.
pub fn footer_text(locale: &str, url: &str) -> String {
    format!("\n\n--\n{}: {url}\n", words(locale).footer)
}

/// The end of every email to a candidate, in its HTML part.
pub fn footer_html(locale: &str, url: &str) -> String {
    format!(
        "<p style=\"font-size:13px;color:#57606a\"><a href=\"{}\">{}</a></p>\n",
        attr(url),
        e(words(locale).footer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show_and_post_back() {
        let w = words("de-CH");
        assert_eq!(w.lang, "de");
        let p = page(
            w,
            "<Org>",
            "a \"text\" <b>",
            Some("x"),
            Some("/self-service/privacy/p1.2.n.s"),
        );
        assert!(p.contains("<html lang=\"de\""));
        assert!(p.contains("&lt;Org&gt;"), "{p}");
        assert!(p.contains("a \"text\" &lt;b&gt;"), "{p}");
        assert!(p.contains("value=\"access\"") && p.contains("value=\"erasure\""));
        assert!(p.contains("action=\"/self-service/privacy/p1.2.n.s\""));
        assert!(!p.contains("<script"));
        let d = download_page(words("es"), "O", "t", None);
        assert!(!d.contains("<form"), "{d}");
        assert!(footer_html("en", "https://x/?a=1&b=\"2\"").contains("a=1&amp;b=&quot;2&quot;"));
    }
}
