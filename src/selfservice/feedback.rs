//! The interviewer's feedback page: the scorecard of the posting (a rating
//! per attribute, the interview's focus attributes first), key take-aways,
//! private notes and the overall recommendation; once submitted, everyone's
//! submitted scorecards on the application (blind review: nobody else's
//! before).

use super::shell;
use crate::interviews::scorecard::{RATINGS, RECOMMENDATIONS, Scorecard};
use std::collections::BTreeMap;

/// The feedback page's words, in the locales atsd ships (else English).
pub struct FeedbackWords {
    pub lang: &'static str,
    pub title: &'static str,
    pub question: &'static str,
    pub recommendation: &'static str,
    /// [`RECOMMENDATIONS`]' labels, in their order.
    pub choices: [&'static str; 5],
    /// [`RATINGS`]' labels, in their order.
    pub ratings: [&'static str; 5],
    pub no_rating: &'static str,
    pub scorecard: &'static str,
    pub focus: &'static str,
    pub note: &'static str,
    pub private_note: &'static str,
    pub button: &'static str,
    pub done: &'static str,
    pub everyone: &'static str,
    pub missing: &'static str,
    pub too_long: &'static str,
    pub cancelled: &'static str,
    pub cross_site: &'static str,
    pub too_large: &'static str,
}

pub fn feedback_words(locale: &str) -> &'static FeedbackWords {
    match locale.split(['-', '_']).next().unwrap_or("en") {
        "de" => &FB_DE,
        "es" => &FB_ES,
        _ => &FB_EN,
    }
}

static FB_EN: FeedbackWords = FeedbackWords {
    lang: "en",
    title: "Interview feedback",
    question: "How did the interview with {candidate} for {posting} on {when} go?",
    recommendation: "Your overall recommendation",
    choices: ["Definitely not", "No", "Yes", "Strong yes", "No decision"],
    ratings: ["Definitely not", "No", "Mixed", "Yes", "Strong yes"],
    no_rating: "Not rated",
    scorecard: "Scorecard",
    focus: "focus of this interview",
    note: "Key take-aways (optional)",
    private_note: "Private notes (optional; never shown on the board)",
    button: "Send my feedback",
    done: "Thank you: your feedback on {candidate} is recorded.",
    everyone: "Everyone's feedback so far",
    missing: "Nothing was recorded: choose a recommendation.",
    too_long: "Nothing was recorded: a note is longer than 4000 characters.",
    cancelled: "This interview was cancelled; it takes no feedback.",
    cross_site: "Nothing was recorded: the form was sent from another site.",
    too_large: "Nothing was recorded: the form is too large.",
};

static FB_DE: FeedbackWords = FeedbackWords {
    lang: "de",
    title: "Rückmeldung zum Gespräch",
    question: "Wie war das Gespräch mit {candidate} für {posting} am {when}?",
    recommendation: "Ihre Gesamtempfehlung",
    choices: [
        "Auf keinen Fall",
        "Nein",
        "Ja",
        "Unbedingt ja",
        "Keine Entscheidung",
    ],
    ratings: ["Auf keinen Fall", "Nein", "Gemischt", "Ja", "Unbedingt ja"],
    no_rating: "Nicht bewertet",
    scorecard: "Bewertungsbogen",
    focus: "Schwerpunkt dieses Gesprächs",
    note: "Wichtigste Erkenntnisse (freiwillig)",
    private_note: "Private Notizen (freiwillig; nie auf dem Board sichtbar)",
    button: "Rückmeldung senden",
    done: "Vielen Dank: Ihre Rückmeldung zu {candidate} ist erfasst.",
    everyone: "Alle bisherigen Rückmeldungen",
    missing: "Nichts wurde erfasst: Bitte wählen Sie eine Empfehlung.",
    too_long: "Nichts wurde erfasst: Eine Notiz ist länger als 4000 Zeichen.",
    cancelled: "Dieses Gespräch wurde abgesagt; es nimmt keine Rückmeldung an.",
    cross_site: "Nichts wurde erfasst: Das Formular kam von einer anderen Website.",
    too_large: "Nichts wurde erfasst: Das Formular ist zu groß.",
};

static FB_ES: FeedbackWords = FeedbackWords {
    lang: "es",
    title: "Valoración de la entrevista",
    question: "¿Qué tal fue la entrevista con {candidate} para {posting} el {when}?",
    recommendation: "Tu recomendación general",
    choices: ["En absoluto", "No", "Sí", "Sí, sin duda", "Sin decisión"],
    ratings: ["En absoluto", "No", "Dudoso", "Sí", "Sí, sin duda"],
    no_rating: "Sin valorar",
    scorecard: "Hoja de evaluación",
    focus: "foco de esta entrevista",
    note: "Conclusiones clave (opcional)",
    private_note: "Notas privadas (opcional; nunca se muestran en el tablero)",
    button: "Enviar mi valoración",
    done: "Gracias: tu valoración de {candidate} ha quedado registrada.",
    everyone: "Todas las valoraciones hasta ahora",
    missing: "No se ha registrado nada: elige una recomendación.",
    too_long: "No se ha registrado nada: una nota tiene más de 4000 caracteres.",
    cancelled: "Esta entrevista se canceló; no admite valoraciones.",
    cross_site: "No se ha registrado nada: el formulario se envió desde otro sitio.",
    too_large: "No se ha registrado nada: el formulario es demasiado grande.",
};

/// The form's name of an attribute's rating field.
pub fn rating_field(attribute: &str) -> String {
    format!("rate.{attribute}")
}

/// The feedback form: where it posts, the posting's scorecard and the
/// interview's focus attributes.
pub struct FeedbackForm<'a> {
    pub action: &'a str,
    pub card: &'a Scorecard,
    pub focus: &'a [String],
}

/// A submitted scorecard shown after one's own: who, the overall
/// recommendation, the ratings and the key take-aways (never the private
/// notes).
pub struct Shared {
    pub name: String,
    pub recommendation: String,
    pub ratings: BTreeMap<String, String>,
    pub note: Option<String>,
}

fn label<'a>(values: &[&str], labels: &[&'a str; 5], v: &'a str) -> &'a str {
    values
        .iter()
        .position(|x| *x == v)
        .map(|i| labels[i])
        .unwrap_or(v)
}

/// The feedback page: the question, maybe a notice, the form (if any) and
/// the scorecards shared with the interviewer (after their own).
pub fn feedback_page(
    w: &FeedbackWords,
    org: &str,
    question: &str,
    notice: Option<&str>,
    form: Option<&FeedbackForm<'_>>,
    shared: &[Shared],
) -> String {
    let e = |s: &str| html_escape::encode_text(s).into_owned();
    let notice = notice
        .map(|n| format!("<p role=\"status\"><strong>{}</strong></p>", e(n)))
        .unwrap_or_default();
    let form = form.map(|f| form_html(w, f)).unwrap_or_default();
    let shared = if shared.is_empty() {
        String::new()
    } else {
        let items: String = shared
            .iter()
            .map(|s| {
                let ratings: String = s
                    .ratings
                    .iter()
                    .map(|(attr, r)| {
                        format!(
                            "<li>{}: {}</li>",
                            e(attr),
                            e(label(&RATINGS, &w.ratings, r))
                        )
                    })
                    .collect();
                format!(
                    "<li><strong>{}</strong>: {}<ul>{ratings}</ul>{}</li>",
                    e(&s.name),
                    e(label(&RECOMMENDATIONS, &w.choices, &s.recommendation)),
                    s.note
                        .as_deref()
                        .map(|n| format!("<p>{}</p>", e(n)))
                        .unwrap_or_default()
                )
            })
            .collect();
        format!("<h2>{}</h2><ul>{items}</ul>", e(w.everyone))
    };
    shell(
        w.lang,
        w.title,
        org,
        &format!("{notice}<p>{}</p>{form}{shared}", e(question)),
    )
}

fn form_html(w: &FeedbackWords, f: &FeedbackForm<'_>) -> String {
    let e = |s: &str| html_escape::encode_text(s).into_owned();
    let a = |s: &str| html_escape::encode_double_quoted_attribute(s).into_owned();
    let radios: String = RECOMMENDATIONS
        .iter()
        .zip(w.choices)
        .map(|(value, label)| {
            format!(
                "<label style=\"display:block\"><input type=\"radio\" name=\"recommendation\" \
                 value=\"{value}\" required> {}</label>",
                e(label)
            )
        })
        .collect();
    let mut card = String::new();
    if !f.card.is_empty() {
        let mut n = 0;
        let mut rows = String::new();
        for cat in &f.card.0 {
            rows.push_str(&format!("<h2>{}</h2>", e(&cat.category)));
            // the interview's focus attributes first
            let mut attrs: Vec<&String> = cat.attributes.iter().collect();
            attrs.sort_by_key(|x| !f.focus.contains(x));
            for attr in attrs {
                n += 1;
                let options: String =
                    std::iter::once(format!("<option value=\"\">{}</option>", e(w.no_rating)))
                        .chain(
                            RATINGS
                                .iter()
                                .zip(w.ratings)
                                .map(|(v, l)| format!("<option value=\"{v}\">{}</option>", e(l))),
                        )
                        .collect();
                let focus = if f.focus.contains(attr) {
                    format!(" <strong>({})</strong>", e(w.focus))
                } else {
                    String::new()
                };
                rows.push_str(&format!(
                    "<p><label for=\"r{n}\">{}{focus}</label><br>\
                     <select id=\"r{n}\" name=\"{}\">{options}</select></p>",
                    e(attr),
                    a(&rating_field(attr))
                ));
            }
        }
        card = format!(
            "<fieldset><legend>{}</legend>{rows}</fieldset>",
            e(w.scorecard)
        );
    }
    format!(
        "<form method=\"post\" action=\"{}\">{card}\
         <p><label for=\"note\">{}</label><br><textarea id=\"note\" name=\"note\" rows=\"5\" \
         maxlength=\"4000\" style=\"width:100%\"></textarea></p>\
         <p><label for=\"private_note\">{}</label><br><textarea id=\"private_note\" \
         name=\"private_note\" rows=\"3\" maxlength=\"4000\" style=\"width:100%\"></textarea></p>\
         <fieldset><legend>{}</legend>{radios}</fieldset>\
         <button type=\"submit\">{}</button></form>",
        a(f.action),
        e(w.note),
        e(w.private_note),
        e(w.recommendation),
        e(w.button)
    )
}
