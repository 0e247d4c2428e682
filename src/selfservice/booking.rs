//! The candidate's booking page: the slots in which every interviewer is
//! free, in the candidate's time zone with the zone's name and UTC offset
//! beside each time, a zone picker, and once booked the forms to move or
//! cancel until the notice period. Plain HTML, no script.

use super::shell;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub struct BookWords {
    pub lang: &'static str,
    pub title: &'static str,
    /// `{posting}`, `{minutes}`, `{people}`.
    pub intro: &'static str,
    pub zone: &'static str,
    pub show: &'static str,
    pub pick: &'static str,
    pub book: &'static str,
    pub none: &'static str,
    /// `{when}`.
    pub booked: &'static str,
    pub move_to: &'static str,
    pub move_button: &'static str,
    pub cancel_button: &'static str,
    pub cancelled: &'static str,
    pub too_late: &'static str,
    pub taken: &'static str,
    pub already: &'static str,
    pub closed: &'static str,
    pub cross_site: &'static str,
    pub missing: &'static str,
}

pub fn book_words(locale: &str) -> &'static BookWords {
    match locale.split(['-', '_']).next().unwrap_or("en") {
        "de" => &DE,
        "es" => &ES,
        _ => &EN,
    }
}

static EN: BookWords = BookWords {
    lang: "en",
    title: "Book your interview",
    intro: "{posting}: {minutes} minutes with {people}. Every time below suits all of them.",
    zone: "Time zone",
    show: "Show the times in this zone",
    pick: "Pick a time",
    book: "Book this time",
    none: "No time is free any more. Please reply to our email and we will find one.",
    booked: "Your interview is booked for {when}. A calendar invitation is on its way.",
    move_to: "Move it to another time",
    move_button: "Move my interview",
    cancel_button: "Cancel my interview",
    cancelled: "Your interview is cancelled.",
    too_late: "It is too close to the interview to change it here: please reply to our email.",
    taken: "That time has just been taken. Please pick another.",
    already: "This link has booked an interview already.",
    closed: "These times are no longer offered.",
    cross_site: "Nothing was booked: the form was sent from another site.",
    missing: "Nothing was booked: pick a time.",
};

static DE: BookWords = BookWords {
    lang: "de",
    title: "Gesprächstermin wählen",
    intro: "{posting}: {minutes} Minuten mit {people}. Jede Zeit unten passt allen.",
    zone: "Zeitzone",
    show: "Zeiten in dieser Zone zeigen",
    pick: "Wählen Sie eine Zeit",
    book: "Diese Zeit buchen",
    none: "Es ist keine Zeit mehr frei. Bitte antworten Sie auf unsere E-Mail, wir finden einen Termin.",
    booked: "Ihr Gespräch ist für {when} gebucht. Eine Kalendereinladung ist unterwegs.",
    move_to: "Auf eine andere Zeit verschieben",
    move_button: "Gespräch verschieben",
    cancel_button: "Gespräch absagen",
    cancelled: "Ihr Gespräch ist abgesagt.",
    too_late: "Das Gespräch ist zu nah, um es hier zu ändern: Bitte antworten Sie auf unsere E-Mail.",
    taken: "Diese Zeit wurde gerade vergeben. Bitte wählen Sie eine andere.",
    already: "Über diesen Link wurde bereits ein Gespräch gebucht.",
    closed: "Diese Zeiten werden nicht mehr angeboten.",
    cross_site: "Nichts wurde gebucht: Das Formular kam von einer anderen Website.",
    missing: "Nichts wurde gebucht: Bitte wählen Sie eine Zeit.",
};

static ES: BookWords = BookWords {
    lang: "es",
    title: "Reserva tu entrevista",
    intro: "{posting}: {minutes} minutos con {people}. Todas las horas de abajo les van bien a todos.",
    zone: "Zona horaria",
    show: "Mostrar las horas en esta zona",
    pick: "Elige una hora",
    book: "Reservar esta hora",
    none: "Ya no queda ninguna hora libre. Responde a nuestro correo y buscaremos una.",
    booked: "Tu entrevista está reservada para el {when}. Te llega una invitación de calendario.",
    move_to: "Cambiarla a otra hora",
    move_button: "Cambiar mi entrevista",
    cancel_button: "Cancelar mi entrevista",
    cancelled: "Tu entrevista está cancelada.",
    too_late: "Falta muy poco para la entrevista para cambiarla aquí: responde a nuestro correo.",
    taken: "Esa hora se acaba de ocupar. Elige otra, por favor.",
    already: "Con este enlace ya se reservó una entrevista.",
    closed: "Estas horas ya no se ofrecen.",
    cross_site: "No se ha reservado nada: el formulario se envió desde otro sitio.",
    missing: "No se ha reservado nada: elige una hora.",
};

/// A slot as the page writes it: `10:00 (Europe/Berlin, UTC+01:00)`.
pub fn slot_label(t: DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    format!(
        "{} ({}, UTC{})",
        local.format("%H:%M"),
        tz.name(),
        local.format("%:z")
    )
}

/// What the page shows.
pub struct BookPage<'a> {
    pub words: &'static BookWords,
    pub org: &'a str,
    pub intro: String,
    pub notice: Option<&'a str>,
    pub tz: Tz,
    pub locale: &'a str,
    /// The interview booked, in words, if one is.
    pub booked: Option<String>,
    /// The slots to pick from (to book, or to move to), if any form shows.
    pub slots: Option<&'a [DateTime<Utc>]>,
    /// Whether the booking may be moved or cancelled now.
    pub changeable: bool,
    pub action: &'a str,
}

pub fn book_page(p: &BookPage<'_>) -> String {
    let w = p.words;
    let e = |s: &str| html_escape::encode_text(s).into_owned();
    let a = |s: &str| html_escape::encode_double_quoted_attribute(s).into_owned();
    let mut body = String::new();
    if let Some(n) = p.notice {
        body.push_str(&format!("<p role=\"status\"><strong>{}</strong></p>", e(n)));
    }
    body.push_str(&format!("<p>{}</p>", e(&p.intro)));
    if let Some(b) = &p.booked {
        body.push_str(&format!("<p>{}</p>", e(b)));
    }
    let zones: String = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| {
            format!(
                "<option{}>{}</option>",
                if *z == p.tz { " selected" } else { "" },
                z.name()
            )
        })
        .collect();
    body.push_str(&format!(
        "<form method=\"get\" action=\"{}\"><p><label for=\"tz\">{}</label><br>\
         <select id=\"tz\" name=\"tz\">{zones}</select> <button type=\"submit\">{}</button></p></form>",
        a(p.action),
        e(w.zone),
        e(w.show)
    ));
    if let Some(slots) = p.slots {
        if slots.is_empty() {
            body.push_str(&format!("<p>{}</p>", e(w.none)));
        } else {
            let (legend, action, button) = if p.booked.is_some() {
                (w.move_to, "move", w.move_button)
            } else {
                (w.pick, "book", w.book)
            };
            let mut days = String::new();
            let mut current = String::new();
            let mut n = 0;
            for s in slots {
                let day = crate::templates::format_date(*s, p.locale, Some(p.tz.name()));
                if day != current {
                    if !current.is_empty() {
                        days.push_str("</fieldset>");
                    }
                    days.push_str(&format!("<fieldset><legend>{}</legend>", e(&day)));
                    current = day;
                }
                n += 1;
                days.push_str(&format!(
                    "<label style=\"display:block\" for=\"s{n}\"><input type=\"radio\" id=\"s{n}\" \
                     name=\"slot\" value=\"{}\" required> {}</label>",
                    s.timestamp(),
                    e(&slot_label(*s, p.tz))
                ));
            }
            days.push_str("</fieldset>");
            body.push_str(&format!(
                "<form method=\"post\" action=\"{}\"><h2>{}</h2>\
                 <input type=\"hidden\" name=\"action\" value=\"{action}\">\
                 <input type=\"hidden\" name=\"tz\" value=\"{}\">{days}\
                 <p><button type=\"submit\">{}</button></p></form>",
                a(p.action),
                e(legend),
                a(p.tz.name()),
                e(button)
            ));
        }
    }
    if p.booked.is_some() && p.changeable {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"action\" value=\"cancel\">\
             <input type=\"hidden\" name=\"tz\" value=\"{}\"><p><button type=\"submit\">{}</button></p></form>",
            a(p.action),
            a(p.tz.name()),
            e(w.cancel_button)
        ));
    }
    shell(w.lang, w.title, p.org, &body)
}
