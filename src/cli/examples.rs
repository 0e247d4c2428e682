//! An example for every command's `--help` (and its man page): the
//! command line a user would type first. Added to the clap definitions at
//! start ([`command`]); a test keeps every command covered.

use clap::CommandFactory;

/// (the command's path, its example lines).
const EXAMPLES: &[(&str, &str)] = &[
    ("init", "atsd init /srv/atsd"),
    ("migrate", "atsd migrate --database postgres://atsd@db/atsd"),
    (
        "check-config",
        "atsd check-config --config /etc/atsd/atsd.toml",
    ),
    (
        "posting add",
        "atsd posting add https://boards.greenhouse.io/acme/jobs/4410021",
    ),
    (
        "posting import",
        "atsd posting import postings/          # Markdown files with a YAML front matter",
    ),
    ("posting poll", "atsd posting poll 1"),
    ("posting list", "atsd posting list --status open --json"),
    (
        "posting assign",
        "atsd posting assign 1 --recruiter rae@example.org --hiring-manager hal@example.org",
    ),
    ("posting show", "atsd posting show 1"),
    ("posting publish", "atsd posting publish 1"),
    ("posting unpublish", "atsd posting unpublish 1"),
    (
        "posting scorecard",
        "atsd posting scorecard 1 --attribute \"Skills: Rust, SQL\" --attribute \"Personality traits: Calm\"",
    ),
    (
        "apply",
        "atsd apply 1 --name \"Ada Lovelace\" --email ada@example.org --timezone Europe/London",
    ),
    (
        "application import",
        "atsd application import applications.csv",
    ),
    (
        "application list",
        "atsd application list --posting 1 --stage screening",
    ),
    ("application show", "atsd application show 42"),
    (
        "application move",
        "atsd application move 42 interview --reason \"strong screening call\"",
    ),
    ("report", "atsd report --format html > report.html"),
    (
        "tick",
        "atsd tick poll dispatch      # run these jobs once, now",
    ),
    (
        "run",
        "atsd run                    # the daemon (systemd: atsd.service)",
    ),
    (
        "candidate hold",
        "atsd candidate hold ada@example.org --reason \"litigation hold\"",
    ),
    ("candidate unhold", "atsd candidate unhold ada@example.org"),
    ("candidate show", "atsd candidate show ada@example.org"),
    (
        "candidate set-email",
        "atsd candidate set-email ada@example.org ada@new.example.org",
    ),
    (
        "candidate export",
        "atsd candidate export ada@example.org --out ada.json",
    ),
    (
        "candidate erase",
        "atsd candidate erase ada@example.org --request 3",
    ),
    (
        "candidate merge",
        "atsd candidate merge ada@old.example.org ada@example.org",
    ),
    (
        "request open",
        "atsd request open --email ada@example.org --kind access --law gdpr",
    ),
    ("request list", "atsd request list --due-within 7d"),
    ("request show", "atsd request show 3"),
    (
        "request extend",
        "atsd request extend 3 --reason \"many systems to search\"",
    ),
    (
        "request close",
        "atsd request close 3 --outcome done --reason \"export sent\"",
    ),
    ("mail list", "atsd mail list --status dead"),
    ("mail preview", "atsd mail preview rejection --locale de"),
    ("mail retry", "atsd mail retry 17"),
    (
        "mail receive",
        "atsd mail receive < message.eml   # what an MTA's pipe runs",
    ),
    ("mail inspect", "atsd mail inspect --file message.eml"),
    ("mail inbound", "atsd mail inbound --application 42"),
    ("mail quarantine list", "atsd mail quarantine list"),
    ("mail quarantine show", "atsd mail quarantine show 5"),
    ("mail quarantine release", "atsd mail quarantine release 5"),
    ("mail quarantine drop", "atsd mail quarantine drop 5"),
    ("mail undeliverable list", "atsd mail undeliverable list"),
    (
        "mail undeliverable clear",
        "atsd mail undeliverable clear maria@example.net",
    ),
    (
        "token create",
        "atsd token create careers-site --scope intake",
    ),
    ("token list", "atsd token list"),
    ("token revoke", "atsd token revoke careers-site"),
    (
        "person add",
        "atsd person add rae@example.org --name \"Rae Recruiter\" --timezone America/New_York",
    ),
    ("person list", "atsd person list --all"),
    ("person show", "atsd person show rae@example.org"),
    ("person remove", "atsd person remove rae@example.org"),
    (
        "person availability",
        "atsd person availability sam@example.org --weekly \"Mon-Fri 09:00-17:00\" --busy-feed https://calendar.example.org/private/basic.ics",
    ),
    (
        "interview schedule",
        "atsd interview schedule 42 --at 2030-01-08T10:00 --timezone Europe/Berlin --interviewer sam@example.org",
    ),
    (
        "interview reschedule",
        "atsd interview reschedule 7 --at 2030-01-08T11:00",
    ),
    (
        "interview cancel",
        "atsd interview cancel 7 --reason \"slot taken\"",
    ),
    ("interview list", "atsd interview list --upcoming"),
    ("interview show", "atsd interview show 7"),
    (
        "interview offer",
        "atsd interview offer 42 --interviewer sam@example.org --interviewer lena@example.org --duration 45m --between 2030-03-25..2030-04-05",
    ),
    ("interview slots", "atsd interview slots 3"),
    (
        "interview feedback",
        "atsd interview feedback 7 --by sam@example.org --recommendation yes --rate \"Rust=strong_yes\" --note \"clear thinker\"",
    ),
    ("events", "atsd events --type application.moved --follow"),
    ("webhook list", "atsd webhook list --status dead"),
    ("webhook retry", "atsd webhook retry 12"),
    ("webhook secret", "atsd webhook secret"),
    ("status", "atsd status --json"),
    ("backup", "atsd backup /var/backups/atsd.db"),
    (
        "copy-database",
        "atsd copy-database postgres://atsd@db/atsd",
    ),
    (
        "completions",
        "atsd completions bash > /etc/bash_completion.d/atsd",
    ),
    ("man", "atsd man > atsd.1"),
];

/// The example of a command path (`"interview offer"`), if there is one.
fn example(path: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, e)| *e)
}

/// An example for a command that has subcommands: its first ones'.
fn first_below(cmd: &clap::Command, path: &str) -> Vec<&'static str> {
    cmd.get_subcommands()
        .filter_map(|s| {
            let p = if path.is_empty() {
                s.get_name().to_string()
            } else {
                format!("{path} {}", s.get_name())
            };
            example(&p)
        })
        .take(3)
        .collect()
}

/// An example as help shows it: a long one broken before its options with
/// the shell's `\`, so that the terminal's wrapping never splits a line
/// one would copy.
fn shown(e: &str) -> String {
    if e.len() <= 76 {
        return format!("  {e}");
    }
    let mut lines = vec![String::new()];
    for (i, part) in e.split(" --").enumerate() {
        let part = if i == 0 {
            part.to_string()
        } else {
            format!("--{part}")
        };
        let last = lines.last_mut().expect("a line");
        if !last.is_empty() && last.len() + part.len() > 70 {
            last.push_str(" \\");
            lines.push(format!("    {part}"));
        } else if last.is_empty() {
            last.push_str(&format!("  {part}"));
        } else {
            last.push(' ');
            last.push_str(&part);
        }
    }
    lines.join("\n")
}

fn add(cmd: clap::Command, path: &str) -> clap::Command {
    let examples: Vec<&str> = match example(path) {
        Some(e) => vec![e],
        None => first_below(&cmd, path),
    };
    let text: Vec<String> = examples.iter().map(|e| shown(e)).collect();
    let mut cmd = cmd.after_help(format!(
        "Example{}:\n{}",
        if text.len() > 1 { "s" } else { "" },
        text.join("\n")
    ));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let sub = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |c| add(c, &sub));
    }
    cmd
}

/// atsd's clap command with an example in every command's help.
pub fn command() -> clap::Command {
    add(super::Cli::command(), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        // every command's help, leaf or not, shows one
        let after = cmd
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            after.starts_with("Example"),
            "`atsd {path} --help` has no example"
        );
        let subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
        if subs.is_empty() && !path.is_empty() {
            out.push(path.to_string());
        }
        for s in subs {
            let p = if path.is_empty() {
                s.get_name().to_string()
            } else {
                format!("{path} {}", s.get_name())
            };
            leaves(s, &p, out);
        }
    }

    #[test]
    fn every_command_has_an_example_that_parses() {
        let cmd = command();
        let mut all = Vec::new();
        leaves(&cmd, "", &mut all);
        let missing: Vec<&String> = all.iter().filter(|p| example(p).is_none()).collect();
        assert!(
            missing.is_empty(),
            "commands without an example: {missing:?}"
        );
        let stale: Vec<&str> = EXAMPLES
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| !all.iter().any(|a| a == p))
            .collect();
        assert!(stale.is_empty(), "examples of no command: {stale:?}");
        // each example is a command line clap accepts
        let mut bad = Vec::new();
        for (path, e) in EXAMPLES {
            let line = e.split("  #").next().unwrap_or(e);
            let line = line.split(" < ").next().unwrap_or(line);
            let line = line.split(" > ").next().unwrap_or(line);
            let words = shell_words(line);
            if let Err(e) = command().try_get_matches_from(&words) {
                bad.push(format!("{path}: `{line}` does not parse: {}", e.render()));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// Words as a shell splits them (double quotes only).
    fn shell_words(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in line.trim().chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}
