//! `atsd interview schedule|reschedule|cancel|list|show|feedback`.

use super::env::Env;
use super::output::{clip, print_json, print_table, table};
use super::{CmdResult, InterviewCmd};
use crate::interviews;
use crate::store::interviews::{self as store_iv, Interviewer};
use crate::workflow::interviews::{self as wf, Outcome, RescheduleRequest, ScheduleRequest};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use entity::interview;
use serde_json::json;

// Stays whole: a dispatch, one arm per subcommand.
pub(super) async fn command(env: &Env, cmd: InterviewCmd) -> CmdResult {
    match cmd {
        InterviewCmd::Schedule {
            application,
            at,
            timezone,
            duration,
            interviewers,
            location,
            video_url,
            title,
            focus,
            allow_overlap,
        } => {
            let zone_name = timezone.unwrap_or_else(|| env.config().schedule.timezone.clone());
            let tz = interviews::zone(&zone_name)?;
            let req = ScheduleRequest {
                application_id: application,
                start: interviews::start_instant(&at, tz)?,
                timezone: tz.name().to_string(),
                minutes: i32::try_from(interviews::minutes(&duration)?).unwrap_or(i32::MAX),
                interviewers,
                location,
                video_url,
                title,
                focus,
                allow_overlap,
                actor: super::actor(),
            };
            let store = env.store().await?;
            let out = wf::schedule(&store, &env.ctx(), &req).await?;
            if env.json {
                return print_json(&out);
            }
            println!("{}", out.interview.id);
            eprintln!("{}", summary("scheduled", &out));
            Ok(())
        }
        InterviewCmd::Reschedule {
            id,
            at,
            timezone,
            duration,
            interviewers,
            allow_overlap,
        } => {
            let store = env.store().await?;
            let current = store_iv::find(store.conn(), id).await?;
            let zone_name = timezone.unwrap_or_else(|| current.timezone.clone());
            let tz = interviews::zone(&zone_name)?;
            let req = RescheduleRequest {
                start: at
                    .as_deref()
                    .map(|a| interviews::start_instant(a, tz))
                    .transpose()?,
                timezone: Some(tz.name().to_string()),
                minutes: duration
                    .as_deref()
                    .map(interviews::minutes)
                    .transpose()?
                    .map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
                interviewers: (!interviewers.is_empty()).then_some(interviewers),
                allow_overlap,
                actor: super::actor(),
            };
            let out = wf::reschedule(&store, &env.ctx(), id, &req).await?;
            if env.json {
                return print_json(&out);
            }
            println!("{}", summary("rescheduled", &out));
            Ok(())
        }
        InterviewCmd::Cancel { id, reason } => {
            let store = env.store().await?;
            let out =
                wf::cancel(&store, &env.ctx(), id, reason.as_deref(), &super::actor()).await?;
            if env.json {
                return print_json(&out);
            }
            println!("{}", summary("cancelled", &out));
            Ok(())
        }
        InterviewCmd::List {
            application,
            upcoming,
        } => {
            let store = env.store().await?;
            let rows =
                store_iv::list(store.conn(), application, upcoming.then_some(env.now)).await?;
            let rows = wf::with_interviewers(store.conn(), rows).await?;
            if env.json {
                let items: Vec<_> = rows
                    .iter()
                    .map(|(i, w)| json!({"interview": i, "status": wf::status_at(i, env.now), "interviewers": w}))
                    .collect();
                return print_json(&json!({ "items": items }));
            }
            let mut t = table([
                "ID",
                "APPLICATION",
                "STARTS",
                "MIN",
                "STATUS",
                "INTERVIEWERS",
                "TITLE",
            ]);
            for (i, w) in &rows {
                t.add_row(vec![
                    i.id.to_string(),
                    i.application_id.to_string(),
                    local(i),
                    i.minutes.to_string(),
                    wf::status_at(i, env.now).to_string(),
                    clip(&names(w), 40),
                    clip(&i.title, 40),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        InterviewCmd::Offer {
            application,
            interviewers,
            duration,
            between,
            timezone,
            buffer,
            notice,
            location,
            video_url,
            title,
            focus,
        } => {
            super::availability::offer(
                env,
                application,
                interviewers,
                &duration,
                between.as_deref(),
                timezone.as_deref(),
                &buffer,
                &notice,
                (location, video_url, title),
                focus,
            )
            .await
        }
        InterviewCmd::Slots { offer } => super::availability::slots(env, offer).await,
        InterviewCmd::Show { id } => {
            let store = env.store().await?;
            let i = store_iv::find(store.conn(), id).await?;
            let emails = store_iv::emails(store.conn(), id).await?;
            let w = store_iv::interviewers(store.conn(), &[id])
                .await?
                .remove(&id)
                .unwrap_or_default();
            if env.json {
                return print_json(
                    &json!({"interview": i, "status": wf::status_at(&i, env.now), "interviewers": w, "emails": emails}),
                );
            }
            for (k, v) in [
                ("interview", i.id.to_string()),
                ("application", i.application_id.to_string()),
                ("title", i.title.clone()),
                ("starts", local(&i)),
                ("utc", i.starts_at.format("%Y-%m-%d %H:%M UTC").to_string()),
                ("minutes", i.minutes.to_string()),
                ("where", where_(&i)),
                ("status", wf::status_at(&i, env.now).to_string()),
                ("uid", i.uid.clone()),
                ("sequence", i.sequence.to_string()),
            ] {
                println!("{k:<12} {v}");
            }
            if let Some(r) = &i.cancel_reason {
                println!("{:<12} {r}", "why");
            }
            println!("\ninterviewers:");
            let mut t = table(["EMAIL", "NAME", "RECOMMENDATION", "NOTE"]);
            for x in &w {
                t.add_row(vec![
                    x.person.email.clone(),
                    x.person.name.clone(),
                    x.recommendation.clone().unwrap_or_else(|| "-".into()),
                    clip(x.note.as_deref().unwrap_or("-"), 50),
                ]);
            }
            print_table(&t);
            println!("\nemails:");
            let mut t = table(["ID", "TEMPLATE", "TO", "STATUS", "SEND AFTER"]);
            for e in &emails {
                t.add_row(vec![
                    e.id.to_string(),
                    e.template.clone(),
                    e.recipient.clone(),
                    e.status.to_string(),
                    super::output::opt_time(&e.send_after),
                ]);
            }
            print_table(&t);
            Ok(())
        }
        InterviewCmd::Feedback {
            id,
            by,
            recommendation,
            rate,
            note,
            private_note,
            coordinator,
        } => {
            let f = wf::Feedback {
                recommendation: recommendation.clone(),
                ratings: rate
                    .iter()
                    .map(|r| crate::interviews::scorecard::parse_rate(r))
                    .collect::<crate::error::Result<_>>()?,
                note,
                private_note,
                on_behalf_by: coordinator,
            };
            let store = env.store().await?;
            let (i, w) = wf::feedback(&store, id, &by, &f, "cli", env.now).await?;
            if env.json {
                return print_json(&json!({"interview": i, "interviewers": w}));
            }
            println!(
                "interview {}: feedback from {} recorded ({recommendation}); {} of {} interviewer(s) have given theirs",
                i.id,
                by.trim(),
                w.iter().filter(|x| x.recommendation.is_some()).count(),
                w.len()
            );
            Ok(())
        }
    }
}

/// The start in the zone it was scheduled in.
fn local(i: &interview::Model) -> String {
    let tz: Tz = i.timezone.parse().unwrap_or(chrono_tz::UTC);
    i.starts_at
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn where_(i: &interview::Model) -> String {
    match (&i.location, &i.video_url) {
        (Some(l), _) => l.clone(),
        (None, Some(u)) => u.clone(),
        (None, None) => "-".into(),
    }
}

fn names(w: &[Interviewer]) -> String {
    w.iter()
        .map(|x| x.person.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn end(i: &interview::Model) -> DateTime<Utc> {
    i.starts_at + Duration::minutes(i.minutes.into())
}

fn summary(what: &str, o: &Outcome) -> String {
    let i = &o.interview;
    let mut s = format!(
        "interview {} {what}: {} to {} ({} min) for application {}, sequence {}; {} email(s) queued",
        i.id,
        local(i),
        end(i)
            .with_timezone(&i.timezone.parse::<Tz>().unwrap_or(chrono_tz::UTC))
            .format("%H:%M"),
        i.minutes,
        i.application_id,
        i.sequence,
        o.emails.len()
    );
    if o.cancelled_emails > 0 {
        s.push_str(&format!(", {} unsent cancelled", o.cancelled_emails));
    }
    if let Some(m) = &o.moved {
        s.push_str(&format!(
            "; application moved to {} (its stage email replaced by the invitation)",
            m.application.stage
        ));
    }
    s
}
