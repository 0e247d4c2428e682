//! The careers pages: the open jobs (filterable by department, office and
//! a word), a job with its description and the apply form, the thank-you
//! page. Server-rendered, no script; every value escaped; each job page
//! carries schema.org `JobPosting` JSON-LD for search engines.

use super::{Job, questions::Question};
use crate::config::Config;
use chrono::SecondsFormat;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::collections::BTreeMap;

/// The pages' words.
pub struct Words {
    pub lang: &'static str,
    pub careers: &'static str,
    pub open_jobs: &'static str,
    pub none: &'static str,
    pub department: &'static str,
    pub office: &'static str,
    pub all: &'static str,
    pub search: &'static str,
    pub filter: &'static str,
    pub apply: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub resume: &'static str,
    pub cover_letter: &'static str,
    pub files_hint: &'static str,
    pub required: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub submit: &'static str,
    /// `{days}`, `{org}`
    pub consent: &'static str,
    pub fix: &'static str,
    pub thanks_title: &'static str,
    pub thanks: &'static str,
    pub back: &'static str,
    pub gone: &'static str,
    pub cross_site: &'static str,
    pub too_many: &'static str,
}

pub fn words(locale: &str) -> &'static Words {
    match locale.split(['-', '_']).next().unwrap_or("en") {
        "de" => &DE,
        "es" => &ES,
        _ => &EN,
    }
}

/// The locale of a request: the first of `Accept-Language` atsd has words
/// for, else the organisation's.
pub fn locale_of(accept: Option<&str>, default: &str) -> &'static str {
    for part in accept.unwrap_or("").split(',') {
        let tag = part.split(';').next().unwrap_or("").trim();
        match tag.split('-').next().unwrap_or("") {
            "de" => return "de",
            "es" => return "es",
            "en" => return "en",
            _ => {}
        }
    }
    words(default).lang
}

static EN: Words = Words {
    lang: "en",
    careers: "Careers",
    open_jobs: "Open positions",
    none: "No open positions match.",
    department: "Department",
    office: "Office",
    all: "All",
    search: "Search",
    filter: "Show",
    apply: "Apply for this job",
    first_name: "First name",
    last_name: "Last name",
    email: "Email",
    phone: "Phone",
    resume: "Resume/CV",
    cover_letter: "Cover letter",
    files_hint: "PDF, DOCX, ODT, RTF or plain text.",
    required: "required",
    yes: "Yes",
    no: "No",
    submit: "Submit application",
    consent: "{org} keeps your application and what you send with it while it is considered, and for {days} days after it is decided; then it is deleted. Every email we send you carries a link to see what we hold about you or to have it deleted.",
    fix: "Nothing was sent. Please correct:",
    thanks_title: "Thank you",
    thanks: "Your application has been received. We will email you shortly.",
    back: "All open positions",
    gone: "This position is no longer open.",
    cross_site: "Nothing was sent: the form came from another site.",
    too_many: "Too many applications from your address. Please try again later.",
};

static DE: Words = Words {
    lang: "de",
    careers: "Karriere",
    open_jobs: "Offene Stellen",
    none: "Keine offene Stelle passt.",
    department: "Abteilung",
    office: "Standort",
    all: "Alle",
    search: "Suche",
    filter: "Anzeigen",
    apply: "Auf diese Stelle bewerben",
    first_name: "Vorname",
    last_name: "Nachname",
    email: "E-Mail",
    phone: "Telefon",
    resume: "Lebenslauf",
    cover_letter: "Anschreiben",
    files_hint: "PDF, DOCX, ODT, RTF oder reiner Text.",
    required: "Pflichtfeld",
    yes: "Ja",
    no: "Nein",
    submit: "Bewerbung absenden",
    consent: "{org} bewahrt Ihre Bewerbung und was Sie mitsenden auf, solange sie geprüft wird, und {days} Tage nach der Entscheidung; dann wird sie gelöscht. Jede E-Mail von uns enthält einen Link, über den Sie sehen, was wir über Sie speichern, oder es löschen lassen.",
    fix: "Nichts wurde gesendet. Bitte korrigieren Sie:",
    thanks_title: "Vielen Dank",
    thanks: "Ihre Bewerbung ist eingegangen. Wir schreiben Ihnen in Kürze.",
    back: "Alle offenen Stellen",
    gone: "Diese Stelle ist nicht mehr offen.",
    cross_site: "Nichts wurde gesendet: Das Formular kam von einer anderen Website.",
    too_many: "Zu viele Bewerbungen von Ihrer Adresse. Bitte versuchen Sie es später erneut.",
};

static ES: Words = Words {
    lang: "es",
    careers: "Empleo",
    open_jobs: "Puestos abiertos",
    none: "Ningún puesto abierto coincide.",
    department: "Departamento",
    office: "Oficina",
    all: "Todos",
    search: "Buscar",
    filter: "Mostrar",
    apply: "Solicitar este puesto",
    first_name: "Nombre",
    last_name: "Apellidos",
    email: "Correo electrónico",
    phone: "Teléfono",
    resume: "Currículum",
    cover_letter: "Carta de presentación",
    files_hint: "PDF, DOCX, ODT, RTF o texto sin formato.",
    required: "obligatorio",
    yes: "Sí",
    no: "No",
    submit: "Enviar candidatura",
    consent: "{org} guarda tu candidatura y lo que envíes con ella mientras se considera y {days} días después de decidirla; después se borra. Cada correo que te enviamos lleva un enlace para ver qué datos tenemos sobre ti o pedir que los borremos.",
    fix: "No se ha enviado nada. Corrige:",
    thanks_title: "Gracias",
    thanks: "Hemos recibido tu candidatura. Te escribiremos en breve.",
    back: "Todos los puestos abiertos",
    gone: "Este puesto ya no está abierto.",
    cross_site: "No se ha enviado nada: el formulario llegó desde otro sitio.",
    too_many: "Demasiadas candidaturas desde tu dirección. Vuelve a intentarlo más tarde.",
};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;line-height:1.5;color:#1f2328}\
main{max-width:46rem;margin:0 auto;padding:1rem}\
a{color:#0b4a8f}\
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #0b4a8f;outline-offset:2px}\
label{display:block;font-weight:600;margin-top:.75rem}\
input,select,textarea{font:inherit;max-width:100%;box-sizing:border-box}\
input[type=text],input[type=email],input[type=tel],input[type=search],textarea,select{width:100%;padding:.4rem}\
fieldset{border:1px solid #8c959f;margin-top:.75rem}\
fieldset label{display:inline;font-weight:400}\
button{font:inherit;padding:.5rem 1rem;margin-top:1rem;background:#0b4a8f;color:#fff;border:0;border-radius:4px}\
ul.jobs{list-style:none;padding:0}ul.jobs li{padding:.5rem 0;border-bottom:1px solid #d0d7de}\
.meta{color:#57606a}\
[role=alert]{border:2px solid #a40e26;padding:.5rem;color:#a40e26}\
form.filter{display:grid;gap:.5rem;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));align-items:end}";

const ICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23234'/%3E%3C/svg%3E";

/// A page: `lang`, the title over `body` (HTML), `head` extra (JSON-LD).
fn shell(w: &Words, org: &str, title: &str, description: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"description\" content=\"{}\"><link rel=\"icon\" href=\"{ICON}\">\
         <title>{} · {}</title><style>{STYLE}</style>{head}</head>\
         <body><main>{body}</main></body></html>\n",
        w.lang,
        attr(description),
        text(title),
        text(org),
    )
}

/// The filters of the job list.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Filter {
    pub department: Option<String>,
    pub office: Option<String>,
    pub q: Option<String>,
}

impl Filter {
    fn keeps(&self, j: &Job) -> bool {
        fn want(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        if let Some(d) = want(&self.department)
            && !j.departments.iter().any(|x| x == d)
        {
            return false;
        }
        if let Some(o) = want(&self.office)
            && !j.offices.iter().any(|x| x == o)
        {
            return false;
        }
        if let Some(q) = want(&self.q) {
            let q = q.to_lowercase();
            let hay = format!(
                "{} {} {}",
                j.posting.title,
                j.posting.location.as_deref().unwrap_or(""),
                j.posting.description.as_deref().unwrap_or("")
            )
            .to_lowercase();
            return q.split_whitespace().all(|word| hay.contains(word));
        }
        true
    }
}

fn select(name: &str, label: &str, all: &str, options: &[String], picked: Option<&str>) -> String {
    let mut s = format!(
        "<div><label for=\"{name}\">{}</label><select id=\"{name}\" name=\"{name}\"><option value=\"\">{}</option>",
        text(label),
        text(all)
    );
    for o in options {
        let sel = if picked == Some(o.as_str()) {
            " selected"
        } else {
            ""
        };
        s.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            attr(o),
            text(o)
        ));
    }
    s.push_str("</select></div>");
    s
}

/// `/careers`: the open jobs.
pub fn list(config: &Config, w: &Words, live: &[Job], f: &Filter) -> String {
    let org = &config.org.name;
    let mut depts: Vec<String> = live.iter().flat_map(|j| j.departments.clone()).collect();
    depts.sort();
    depts.dedup();
    let mut offices: Vec<String> = live.iter().flat_map(|j| j.offices.clone()).collect();
    offices.sort();
    offices.dedup();
    let mut body = format!("<h1>{} · {}</h1>", text(w.careers), text(org));
    body.push_str(&format!(
        "<form class=\"filter\" method=\"get\" action=\"/careers\">{}{}<div><label for=\"q\">{}</label>\
         <input type=\"search\" id=\"q\" name=\"q\" value=\"{}\"></div><div><button type=\"submit\">{}</button></div></form>",
        select("department", w.department, w.all, &depts, f.department.as_deref()),
        select("office", w.office, w.all, &offices, f.office.as_deref()),
        text(w.search),
        attr(f.q.as_deref().unwrap_or("")),
        text(w.filter),
    ));
    body.push_str(&format!("<h2>{}</h2>", text(w.open_jobs)));
    let shown: Vec<&Job> = live.iter().filter(|j| f.keeps(j)).collect();
    if shown.is_empty() {
        body.push_str(&format!("<p>{}</p>", text(w.none)));
    } else {
        body.push_str("<ul class=\"jobs\">");
        for j in shown {
            let meta: Vec<String> = j
                .departments
                .iter()
                .chain(j.offices.iter())
                .cloned()
                .collect();
            body.push_str(&format!(
                "<li><a href=\"/careers/jobs/{}\">{}</a><br><span class=\"meta\">{}</span></li>",
                j.posting.id,
                text(&j.posting.title),
                text(&meta.join(" · "))
            ));
        }
        body.push_str("</ul>");
    }
    shell(
        w,
        org,
        w.careers,
        &format!("{} · {org}", w.open_jobs),
        "",
        &body,
    )
}

/// What the form was filled with, shown again beside its problems.
#[derive(Clone, Debug, Default)]
pub struct Refill {
    pub texts: BTreeMap<String, Vec<String>>,
    pub problems: Vec<(String, String)>,
    pub notice: Option<String>,
}

impl Refill {
    fn value(&self, field: &str) -> String {
        self.texts
            .get(field)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    }
    fn has(&self, field: &str, v: &str) -> bool {
        self.texts
            .get(field)
            .is_some_and(|all| all.iter().any(|x| x == v))
    }
}

fn input(
    field: &str,
    label: &str,
    kind: &str,
    required: bool,
    w: &Words,
    r: &Refill,
    auto: &str,
) -> String {
    let req = if required {
        format!(" <span class=\"meta\">({})</span>", text(w.required))
    } else {
        String::new()
    };
    format!(
        "<label for=\"{field}\">{}{req}</label><input type=\"{kind}\" id=\"{field}\" name=\"{field}\" value=\"{}\"{}{auto}>",
        text(label),
        attr(&r.value(field)),
        if required { " required" } else { "" },
    )
}

fn question(q: &Question, w: &Words, r: &Refill) -> String {
    let field = q.field();
    let req = if q.required {
        format!(" <span class=\"meta\">({})</span>", text(w.required))
    } else {
        String::new()
    };
    let required = if q.required { " required" } else { "" };
    let label = text(&q.label);
    let described = q
        .description
        .as_ref()
        .map(|d| format!("<p class=\"meta\" id=\"{field}-d\">{}</p>", text(d)))
        .unwrap_or_default();
    let aria = if q.description.is_some() {
        format!(" aria-describedby=\"{field}-d\"")
    } else {
        String::new()
    };
    match q.kind.as_str() {
        "long_text" => format!(
            "<label for=\"{field}\">{label}{req}</label>{described}<textarea id=\"{field}\" name=\"{field}\" rows=\"5\"{required}{aria}>{}</textarea>",
            text(&r.value(&field))
        ),
        "yes_no" | "single_select" | "multi_select" => {
            let (kind, name) = if q.kind == "multi_select" {
                ("checkbox", format!("{field}[]"))
            } else {
                ("radio", field.clone())
            };
            let options: Vec<(String, String)> = if q.kind == "yes_no" {
                vec![("1".into(), w.yes.into()), ("0".into(), w.no.into())]
            } else {
                q.options
                    .iter()
                    .enumerate()
                    .map(|(i, o)| ((i + 1).to_string(), o.clone()))
                    .collect()
            };
            let mut s = format!("<fieldset{aria}><legend>{label}{req}</legend>{described}");
            for (n, (v, l)) in options.iter().enumerate() {
                let checked = if r.has(&field, v) { " checked" } else { "" };
                let req = if q.required && kind == "radio" && n == 0 {
                    " required"
                } else {
                    ""
                };
                s.push_str(&format!(
                    "<div><input type=\"{kind}\" id=\"{field}-{v}\" name=\"{name}\" value=\"{v}\"{checked}{req}> <label for=\"{field}-{v}\">{}</label></div>",
                    text(l)
                ));
            }
            s.push_str("</fieldset>");
            s
        }
        "file" => format!(
            "<label for=\"{field}\">{label}{req}</label>{described}<input type=\"file\" id=\"{field}\" name=\"{field}\" accept=\".pdf,.docx,.odt,.rtf,.txt\"{required}{aria}>"
        ),
        _ => format!(
            "<label for=\"{field}\">{label}{req}</label>{described}<input type=\"text\" id=\"{field}\" name=\"{field}\" value=\"{}\" maxlength=\"500\"{required}{aria}>",
            attr(&r.value(&field))
        ),
    }
}

/// schema.org `JobPosting` JSON-LD, safe inside a `<script>` element.
pub fn json_ld(config: &Config, j: &Job) -> String {
    let p = &j.posting;
    let mut v = serde_json::json!({
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": p.title,
        "description": j.content_html(),
        "datePosted": p.first_published_at.or(p.posted_at).unwrap_or(p.created_at).to_rfc3339_opts(SecondsFormat::Secs, true),
        "hiringOrganization": {"@type": "Organization", "name": p.company.clone().unwrap_or_else(|| config.org.name.clone())},
        "identifier": {"@type": "PropertyValue", "name": config.org.name, "value": p.id.to_string()},
        "directApply": true,
        "url": format!("{}/careers/jobs/{}", super::greenhouse::public_base(config), p.id),
    });
    if let Some(l) = &p.location {
        v["jobLocation"] = serde_json::json!({"@type": "Place", "address": {"@type": "PostalAddress", "addressLocality": l}});
    }
    if let Some(t) = j.valid_through {
        v["validThrough"] = t.to_rfc3339_opts(SecondsFormat::Secs, true).into();
    }
    if let Some(e) = &j.employment_type {
        v["employmentType"] = e.clone().into();
    }
    // `</script>` cannot close the element early
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `/careers/jobs/{id}`: the description and the form.
// Stays whole: the job page's HTML in document order (head, JSON-LD, description, form).
pub fn job(config: &Config, w: &Words, j: &Job, r: &Refill) -> String {
    let org = &config.org.name;
    let p = &j.posting;
    let days = config.retention.anonymize_after.chrono().num_days();
    let mut body = format!(
        "<p><a href=\"/careers\">{}</a></p><h1>{}</h1>",
        text(w.back),
        text(&p.title)
    );
    let meta: Vec<String> = j
        .departments
        .iter()
        .chain(j.offices.iter())
        .cloned()
        .collect();
    if !meta.is_empty() {
        body.push_str(&format!(
            "<p class=\"meta\">{}</p>",
            text(&meta.join(" · "))
        ));
    }
    body.push_str(&format!("<div>{}</div>", j.content_html()));
    body.push_str(&format!("<h2 id=\"apply\">{}</h2>", text(w.apply)));
    if let Some(n) = &r.notice {
        body.push_str(&format!("<p role=\"alert\">{}</p>", text(n)));
    }
    if !r.problems.is_empty() {
        body.push_str(&format!("<div role=\"alert\"><p>{}</p><ul>", text(w.fix)));
        for (f, m) in &r.problems {
            body.push_str(&format!("<li>{}: {}</li>", text(f), text(m)));
        }
        body.push_str("</ul></div>");
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/careers/jobs/{}\" enctype=\"multipart/form-data\">",
        p.id
    ));
    body.push_str(&input(
        "first_name",
        w.first_name,
        "text",
        true,
        w,
        r,
        " autocomplete=\"given-name\"",
    ));
    body.push_str(&input(
        "last_name",
        w.last_name,
        "text",
        true,
        w,
        r,
        " autocomplete=\"family-name\"",
    ));
    body.push_str(&input(
        "email",
        w.email,
        "email",
        true,
        w,
        r,
        " autocomplete=\"email\"",
    ));
    body.push_str(&input(
        "phone",
        w.phone,
        "tel",
        false,
        w,
        r,
        " autocomplete=\"tel\"",
    ));
    for (field, label) in [("resume", w.resume), ("cover_letter", w.cover_letter)] {
        body.push_str(&format!(
            "<label for=\"{field}\">{}</label><p class=\"meta\" id=\"{field}-d\">{}</p>\
             <input type=\"file\" id=\"{field}\" name=\"{field}\" accept=\".pdf,.docx,.odt,.rtf,.txt\" aria-describedby=\"{field}-d\">",
            text(label),
            text(w.files_hint)
        ));
    }
    for q in &j.questions {
        body.push_str(&question(q, w, r));
    }
    // a person never sees this field; a bot that fills every field does
    body.push_str(&format!(
        "<div hidden><label for=\"{hp}\">{hp}</label><input type=\"text\" id=\"{hp}\" name=\"{hp}\" tabindex=\"-1\" autocomplete=\"off\"></div>",
        hp = super::apply::HONEYPOT
    ));
    body.push_str(&format!(
        "<p class=\"meta\">{}</p><button type=\"submit\">{}</button></form>",
        text(
            &w.consent
                .replace("{days}", &days.to_string())
                .replace("{org}", org)
        ),
        text(w.submit)
    ));
    let head = format!(
        "<script type=\"application/ld+json\">{}</script>",
        json_ld(config, j)
    );
    let description = j.content_text().chars().take(150).collect::<String>();
    shell(w, org, &p.title, &description, &head, &body)
}

/// A plain page: a heading, a paragraph and the way back.
pub fn message(config: &Config, w: &Words, title: &str, said: &str) -> String {
    shell(
        w,
        &config.org.name,
        title,
        said,
        "",
        &format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"/careers\">{}</a></p>",
            text(title),
            text(said),
            text(w.back)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_cannot_close_its_script() {
        let s = "</script><script>alert(1)</script>".replace('<', "\\u003c");
        assert!(!s.contains("</script"));
        assert_eq!(locale_of(Some("de-CH,de;q=0.9,en;q=0.8"), "en"), "de");
        assert_eq!(locale_of(Some("fr-FR"), "es"), "es");
        assert_eq!(locale_of(None, "en-GB"), "en");
    }
}
