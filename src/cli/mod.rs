//! The command line (SPEC §2). `main.rs` calls [`main`]; each subcommand is a
//! small function in `commands` that loads what it needs, calls the
//! library and prints a table, or JSON with `--json`.

mod applications;
mod availability;
mod candidates;
mod commands;
mod env;
mod events;
mod examples;
mod inbound;
mod interviews;
mod jobs;
mod mail;
mod output;
mod people;
mod postings;
mod requests;
mod tokens;

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "atsd", version, about = "Applicant tracking workflow daemon", long_about = None)]
pub struct Cli {
    /// Configuration file (else $ATSD_CONFIG, ./atsd.toml, /etc/atsd/atsd.toml, built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Database URL (else $ATSD_DATABASE_URL, the config, or atsd.db in $STATE_DIRECTORY or here).
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Machine-readable output on stdout (logs stay on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// The command's clock, RFC 3339 (for previews, replays and tests).
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_now(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{s}` is not an RFC 3339 time such as 2026-11-25T09:00:00Z ({e})"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented atsd.toml and create the database.
    Init {
        /// Folder for atsd.toml and the SQLite database (default: here).
        dir: Option<PathBuf>,
        /// Overwrite an existing atsd.toml.
        #[arg(long)]
        force: bool,
    },
    /// Apply pending migrations and print the schema version.
    Migrate,
    /// Validate the configuration: keys, pipeline, rules, cron expressions, templates.
    CheckConfig,
    /// Job postings.
    #[command(subcommand)]
    Posting(PostingCmd),
    /// A candidate applies to a posting (created in the first stage, with its email).
    Apply(ApplyArgs),
    /// Applications.
    #[command(subcommand)]
    Application(ApplicationCmd),
    /// Pipeline report per posting.
    Report(ReportArgs),
    /// Run jobs once, each for its latest scheduled occurrence (claimed like the daemon does).
    Tick {
        /// Jobs to run, in order (default: poll, advance, dispatch, digest, retention).
        jobs: Vec<String>,
        /// Print what would be done and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The daemon: every job on its schedule until SIGTERM or SIGINT.
    Run,
    /// Candidates: retention holds, and what atsd keeps about a person.
    #[command(subcommand)]
    Candidate(CandidateCmd),
    /// Data-subject requests (access, erasure, …) and their legal due dates.
    #[command(subcommand)]
    Request(RequestCmd),
    /// The email outbox.
    #[command(subcommand)]
    Mail(MailCmd),
    /// API tokens for the HTTP API.
    #[command(subcommand)]
    Token(TokenCmd),
    /// People on the hiring side: recruiters, hiring managers, coordinators.
    #[command(subcommand)]
    Person(PersonCmd),
    /// Interviews: scheduled with calendar invitations, moved, cancelled, with feedback.
    #[command(subcommand)]
    Interview(InterviewCmd),
    /// The event feed as JSON lines: transitions, email outcomes, posting status changes, failed job runs.
    Events {
        /// Only events after this id (the last one a reader saw); default: from the first.
        #[arg(long, value_name = "ID")]
        since: Option<i64>,
        /// Keep printing new events as they happen (until interrupted).
        #[arg(long)]
        follow: bool,
        /// Only this type (repeatable; application.* for a family).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
    },
    /// Outgoing webhooks: their deliveries, and sending dead ones again.
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Jobs, outbox, postings and applications at a glance.
    Status,
    /// A consistent copy of the live SQLite database (PostgreSQL: use pg_dump).
    Backup {
        /// The copy to write (must not exist yet).
        file: PathBuf,
    },
    /// Copy every row into another, empty database (SQLite → PostgreSQL, or back).
    CopyDatabase {
        /// The target database URL (migrated first; must hold no rows).
        to: String,
    },
    /// Shell completions on stdout (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page (roff) on stdout.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum PostingCmd {
    /// Add a posting by URL (idempotent) and print its id.
    Add {
        url: String,
        #[arg(long)]
        title: Option<String>,
    },
    /// Import posting files (Markdown with YAML front matter, Greenhouse JSON); folders recursively.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Poll now: the named postings, or every posting that is due.
    Poll {
        /// Posting ids (default: all due postings).
        ids: Vec<i64>,
    },
    /// List postings.
    List {
        #[arg(long, value_parser = ["unknown", "open", "closed"])]
        status: Option<String>,
        /// Only the postings on this person's team (any role).
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
    },
    /// Set a posting's hiring team (replaces it; with no option, clears it).
    Assign {
        /// Posting id or URL.
        posting: String,
        /// The posting's recruiter: their reminders and digest lines.
        #[arg(long, value_name = "EMAIL")]
        recruiter: Option<String>,
        /// A hiring manager (repeatable).
        #[arg(long = "hiring-manager", value_name = "EMAIL")]
        hiring_managers: Vec<String>,
        /// A coordinator, reminded with the recruiter (repeatable).
        #[arg(long = "coordinator", value_name = "EMAIL")]
        coordinators: Vec<String>,
    },
    /// Show one posting with its history.
    Show {
        /// Posting id or URL.
        posting: String,
    },
    /// Publish a posting on the careers board ([careers]): listed by
    /// /careers and Greenhouse's Job Board API, open to applications.
    Publish {
        /// Posting id or URL.
        posting: String,
    },
    /// Take a posting off the careers board.
    Unpublish {
        /// Posting id or URL.
        posting: String,
    },
    /// Show a posting's scorecard, or set it: the attributes interviewers
    /// rate, in categories (Greenhouse's: Details, Qualifications, Skills,
    /// Personality traits).
    Scorecard {
        /// Posting id or URL.
        posting: String,
        /// "Category: attribute, attribute" (no category: Skills); repeat
        /// for more. Replaces the scorecard.
        #[arg(long = "attribute", value_name = "CATEGORY: NAMES")]
        attributes: Vec<String>,
        /// Back to the front matter's scorecard (or none).
        #[arg(long, conflicts_with = "attributes")]
        clear: bool,
    },
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Posting id or URL.
    pub posting: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub email: String,
    /// BCP 47 locale of the candidate's emails (e.g. de-CH).
    #[arg(long)]
    pub locale: Option<String>,
    /// IANA time zone of the candidate (e.g. Europe/Zurich).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Queue no email.
    #[arg(long)]
    pub no_email: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApplicationCmd {
    /// Import applications from CSV: posting,name,email[,locale,timezone,stage,applied_at].
    Import {
        file: PathBuf,
        /// Queue the stage email for each imported application (default: none).
        #[arg(long)]
        send_emails: bool,
    },
    /// List applications.
    List {
        /// Posting id or URL.
        #[arg(long)]
        posting: Option<String>,
        #[arg(long)]
        stage: Option<String>,
    },
    /// Show one application with its transitions and emails.
    Show { id: i64 },
    /// Move an application to another stage.
    Move {
        id: i64,
        stage: String,
        #[arg(long)]
        reason: Option<String>,
        /// Queue no email for this move.
        #[arg(long)]
        no_email: bool,
        /// Move only if the application still has this version.
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<i32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CandidateCmd {
    /// Exempt a candidate from retention (anonymization).
    Hold {
        email: String,
        /// Why (kept with the hold).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Take a candidate off hold: retention applies again.
    Unhold { email: String },
    /// A candidate, their applications and when retention will anonymize them.
    Show { email: String },
    /// Correct a candidate's address (and the key they are found by):
    /// emails held for the old one (it bounced) go to the new one. Refused
    /// when the new address is another candidate's (see merge).
    SetEmail { email: String, new_email: String },
    /// Everything atsd holds about a candidate, as one JSON document (the
    /// answer to an access request; its JSON Schema:
    /// schemas/candidate-export.schema.json, or --schema).
    Export {
        /// The candidate's address (not needed with --schema).
        #[arg(required_unless_present = "schema")]
        email: Option<String>,
        /// Write it to this file (mode 0600) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the export's JSON Schema instead.
        #[arg(long, conflicts_with_all = ["email", "out"])]
        schema: bool,
    },
    /// Forget a candidate now, as retention would (the map of personal
    /// data): their interviews to come are cancelled for the interviewers,
    /// and `candidate.erased` tells downstream systems. Refused for a
    /// candidate on hold.
    Erase {
        email: String,
        /// The erasure request this answers: closed as done (or, when the
        /// candidate is on hold, as refused with the hold's reason).
        #[arg(long, value_name = "ID")]
        request: Option<i64>,
    },
    /// Make two candidates who are one person one: every application of
    /// OTHER (with its emails, replies and interviews) becomes KEEP's, and
    /// OTHER is gone. Refused when both applied to the same posting.
    Merge {
        /// The candidate who stays (their address and name).
        keep: String,
        /// The candidate merged into KEEP.
        other: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RequestCmd {
    /// Open a request; prints its id and due date (GDPR: the same date next
    /// month, off weekends; CCPA: 45 days, acknowledged within 10 business
    /// days), in [schedule] timezone.
    Open {
        /// The person's address (a candidate's, or someone atsd may hold).
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = crate::requests::KINDS)]
        kind: String,
        #[arg(long, value_parser = crate::requests::LAWS)]
        law: String,
        /// When it was received (RFC 3339 or a date); default now.
        #[arg(long, value_name = "TIME")]
        received_at: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Open requests, soonest due first.
    List {
        /// Only those due within this long (e.g. 7d).
        #[arg(long, value_name = "DURATION")]
        due_within: Option<humantime::Duration>,
        /// Only those past their due date.
        #[arg(long)]
        overdue: bool,
        /// Closed ones too.
        #[arg(long)]
        all: bool,
    },
    /// One request.
    Show { id: i64 },
    /// The one extension the law allows, before the due date, with a reason.
    Extend {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Close a request: done or refused, with the reason.
    Close {
        id: i64,
        #[arg(long, value_parser = ["done", "refused"])]
        outcome: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token and print it (the only time it is shown).
    Create {
        name: String,
        /// intake (create applications), recruiter (everything but privacy),
        /// read (read only), privacy (data requests and exports only).
        #[arg(long, value_parser = ["intake", "recruiter", "read", "privacy"])]
        scope: String,
        /// The person the token belongs to: moves made with it name them.
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
    },
    /// List tokens (names, scopes, prefixes, last use; never the tokens).
    List,
    /// Revoke a token: every request with it fails from now on.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum InterviewCmd {
    /// Schedule an interview; prints its id. The candidate and every interviewer get an invitation their calendar reads.
    Schedule {
        application: i64,
        /// Local start time, read in --timezone (or with an offset: 2030-10-27T02:30+01:00).
        #[arg(long, value_name = "TIME")]
        at: String,
        /// IANA time zone of --at (default: [schedule] timezone).
        #[arg(long)]
        timezone: Option<String>,
        /// How long: 45m, 1h, 1h 30m.
        #[arg(long, default_value = "45m")]
        duration: String,
        /// A person (atsd person add); repeat for more.
        #[arg(long = "interviewer", value_name = "EMAIL", required = true)]
        interviewers: Vec<String>,
        #[arg(long, conflicts_with = "video_url")]
        location: Option<String>,
        #[arg(long, value_name = "URL")]
        video_url: Option<String>,
        /// Default: "Interview: <posting title>".
        #[arg(long)]
        title: Option<String>,
        /// A scorecard attribute this interview focuses on; repeat for more.
        #[arg(long, value_name = "ATTRIBUTE")]
        focus: Vec<String>,
        /// Book interviewers who already have an interview at that time.
        #[arg(long)]
        allow_overlap: bool,
    },
    /// Move an interview: everyone gets the update (same UID, SEQUENCE + 1).
    Reschedule {
        id: i64,
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        duration: Option<String>,
        /// The interviewers from now on (repeat it; replaces the list): one
        /// left out gets a cancellation, one added an invitation.
        #[arg(long = "interviewer", value_name = "EMAIL")]
        interviewers: Vec<String>,
        #[arg(long)]
        allow_overlap: bool,
    },
    /// Cancel an interview: everyone who was invited gets the cancellation.
    Cancel {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List interviews, soonest first.
    List {
        #[arg(long)]
        application: Option<i64>,
        /// Only scheduled ones still to come.
        #[arg(long)]
        upcoming: bool,
    },
    /// One interview: when, where, who, the feedback, its emails.
    Show { id: i64 },
    /// Offer the candidate the slots in which every interviewer is free:
    /// an email with a signed link to book, move or cancel.
    Offer {
        /// The application.
        application: i64,
        /// A person with weekly windows (atsd person availability); repeat
        /// for a panel.
        #[arg(long = "interviewer", value_name = "EMAIL", required = true)]
        interviewers: Vec<String>,
        /// How long: 45m, 1h.
        #[arg(long, default_value = "45m")]
        duration: String,
        /// The days offered, DATE..DATE (inclusive, read in --timezone);
        /// default: the next 14 days.
        #[arg(long, value_name = "DATE..DATE")]
        between: Option<String>,
        /// IANA zone of --between's dates (default: the candidate's, else
        /// [schedule] timezone).
        #[arg(long)]
        timezone: Option<String>,
        /// Free time kept before and after other meetings.
        #[arg(long, default_value = "0m")]
        buffer: String,
        /// The least time between booking (or moving) and the interview.
        #[arg(long, default_value = "24h")]
        notice: String,
        #[arg(long, conflicts_with = "video_url")]
        location: Option<String>,
        #[arg(long, value_name = "URL")]
        video_url: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// A scorecard attribute the interview focuses on; repeat for more.
        #[arg(long, value_name = "ATTRIBUTE")]
        focus: Vec<String>,
    },
    /// The slots of an offer free now.
    Slots { offer: i64 },
    /// Record an interviewer's scorecard: the overall recommendation,
    /// ratings of the posting's attributes, key take-aways, private notes.
    Feedback {
        id: i64,
        /// The interviewer.
        #[arg(long, value_name = "EMAIL")]
        by: String,
        /// Overall (Greenhouse's values; strong_no is read as definitely_not).
        #[arg(long, value_parser = ["definitely_not", "no", "yes", "strong_yes", "no_decision", "strong_no"])]
        recommendation: String,
        /// A rating of a scorecard attribute: "Knife skills=strong_yes"
        /// (definitely_not|no|mixed|yes|strong_yes); repeat for more.
        #[arg(long, value_name = "ATTRIBUTE=RATING")]
        rate: Vec<String>,
        /// Key take-aways (shown on the board once others may see them).
        #[arg(long)]
        note: Option<String>,
        /// Private notes: kept, exported, never shown on the board.
        #[arg(long)]
        private_note: Option<String>,
        /// A coordinator entering the scorecard for the interviewer (a
        /// person's address; recorded).
        #[arg(long, value_name = "EMAIL")]
        coordinator: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PersonCmd {
    /// Add a person (or bring a removed one back).
    Add {
        email: String,
        #[arg(long)]
        name: String,
        /// IANA time zone: their digest comes at the digest's hour here (default: [schedule] timezone).
        #[arg(long)]
        timezone: Option<String>,
        /// BCP 47 locale of their emails and board (default: [org] default_locale).
        #[arg(long)]
        locale: Option<String>,
    },
    /// List people.
    List {
        /// Removed people too.
        #[arg(long)]
        all: bool,
    },
    /// A person, and the postings whose team they are on.
    Show { email: String },
    /// Remove a person: their tokens stop working and their postings fall back to [recruiters] emails.
    Remove { email: String },
    /// When a person can interview: weekly windows in their time zone and a
    /// private busy feed (iCalendar); shown when nothing is given.
    Availability {
        email: String,
        /// "Mon-Fri 09:00-17:00" in their time zone; repeat for more.
        /// Replaces the windows.
        #[arg(long, value_name = "DAYS HH:MM-HH:MM")]
        weekly: Vec<String>,
        /// A private iCalendar feed of their busy times (a calendar's
        /// secret address); kept as a secret, never shown back.
        #[arg(long, value_name = "URL", conflicts_with = "no_busy_feed")]
        busy_feed: Option<String>,
        /// Forget the busy feed.
        #[arg(long)]
        no_busy_feed: bool,
        /// Fetch the busy feed now.
        #[arg(long)]
        refresh: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// List deliveries, newest first.
    List {
        #[arg(long, value_parser = ["pending", "sending", "delivered", "dead"])]
        status: Option<String>,
        /// Only this endpoint (its name in [[webhooks.out]]).
        #[arg(long)]
        endpoint: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Send dead deliveries again (attempts start over).
    Retry {
        /// The delivery to send again.
        id: Option<i64>,
        /// Every dead delivery (of --endpoint, if given).
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Print a new random signing secret (whsec_…) for a secret_file.
    Secret,
}

#[derive(Debug, Subcommand)]
pub enum MailCmd {
    /// List outbox emails.
    List {
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            entity::outbox::Status::ALL.map(entity::outbox::Status::as_str)))]
        status: Option<String>,
    },
    /// Render a template: subject and text on stdout.
    Preview {
        template: String,
        /// Use this application's candidate, posting and stage (else sample data).
        #[arg(long)]
        application: Option<i64>,
        /// Locale to render (falls back like a real email).
        #[arg(long)]
        locale: Option<String>,
        /// Write the HTML part to this file.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Send a dead (or pending) email again, from a fresh attempt count.
    Retry { id: i64 },
    /// Take one RFC 5322 message on standard input (an MTA's pipe or alias:
    /// `| atsd mail receive`): a bounce, a reply, an auto-reply, or
    /// quarantined. Exit 0 when taken, 75 (EX_TEMPFAIL) when it cannot be
    /// stored now (the MTA tries again), 65 when it is over the size cap.
    Receive {
        /// The envelope recipient the MTA delivers to (Postfix: ${recipient});
        /// else the message's Delivered-To, X-Original-To, To and Cc.
        #[arg(long = "recipient", value_name = "ADDRESS")]
        recipients: Vec<String>,
        /// Read the message from this file instead of standard input.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Read one message on standard input and say what atsd reads in it (a
    /// delivery report's recipients and statuses, an auto-reply), changing
    /// nothing: for checking a bounce format before it arrives.
    Inspect {
        /// Read the message from this file instead of standard input.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Mail that came back: bounces, replies, auto-replies, quarantined.
    Inbound {
        #[arg(long, value_parser = ["bounce", "reply", "auto_reply", "quarantined"])]
        kind: Option<String>,
        #[arg(long)]
        application: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Messages kept in quarantine: never acted on until released.
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
    /// Addresses a permanent bounce marked undeliverable.
    #[command(subcommand)]
    Undeliverable(UndeliverableCmd),
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCmd {
    /// Quarantined messages, newest first.
    List,
    /// One message: why it was kept, its headers and text.
    Show { id: i64 },
    /// Read it again as if it just arrived (after the configuration changed,
    /// say): it is acted on if it now reads as a bounce or a reply.
    Release { id: i64 },
    /// Delete it.
    Drop { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum UndeliverableCmd {
    /// The marked addresses, with the bounce that marked each.
    List,
    /// Clear the mark: the held emails to it are sent.
    Clear { address: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    /// The board's posting page as one self-contained file (charts, tables,
    /// style sheet inline; nothing fetched): `atsd report --format html > report.html`.
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Posting id or URL.
    #[arg(long)]
    pub posting: Option<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Stale threshold for stages without a stale rule.
    #[arg(long, default_value = "14d", value_parser = parse_dur)]
    pub stale_after: crate::config::Dur,
    /// Only the postings on this person's team.
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
    /// With `--format html`: write the page to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

fn parse_dur(s: &str) -> std::result::Result<crate::config::Dur, String> {
    s.parse()
}

/// Runs the command line; returns the process exit code.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = examples::command()
        .try_get_matches_from(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if !matches!(cli.command, Command::Run) {
        // a command whose output goes to a pipe that closes (`| head -1`)
        // ends quietly, killed by SIGPIPE as Unix tools are (status 141 in
        // a shell), instead of panicking at its next print; the daemon
        // keeps ignoring it (its sockets answer EPIPE)
        #[cfg(unix)]
        // SAFETY: setting a signal's disposition to its default, before
        // any thread of ours starts
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // the daemon logs one line per job run (info) unless told otherwise
    let verbose = if matches!(cli.command, Command::Run) {
        cli.verbose.max(1)
    } else {
        cli.verbose
    };
    let json = cli.json;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(commands::dispatch(cli, verbose)) {
        Ok(()) => 0,
        Err(e) => {
            report_error(&e, json);
            e.exit_code()
        }
    }
}

fn report_error(e: &Error, json: bool) {
    if json && !matches!(e, Error::Reported(_)) {
        println!(
            "{}",
            serde_json::json!({"error": {"kind": e.kind(), "message": e.to_string()}})
        );
    }
    eprintln!("error: {e}");
}

/// `cli:<user>` for moves made from the command line.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty() && u.chars().all(|c| !c.is_control()))
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{user}")
}

pub(crate) fn now_or(cli_now: Option<DateTime<Utc>>) -> DateTime<Utc> {
    cli_now.unwrap_or_else(Utc::now)
}

pub(crate) type CmdResult = Result<()>;
