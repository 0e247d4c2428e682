//! The house's sizes (issue 37, part 3): no source file over 800 lines, and
//! no function over 100 lines unless a comment above it says why it stays
//! whole ("Stays whole: …").

use std::path::{Path, PathBuf};

const MAX_FILE: usize = 800;
const MAX_FN: usize = 100;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir)
        .expect("a folder of sources")
        .flatten()
    {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A function's first line: its indentation and name.
fn fn_start(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    let mut rest = t;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "async ",
        "const ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
        rest = rest.strip_prefix("async ").unwrap_or(rest);
    }
    let name = rest.strip_prefix("fn ")?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some((indent, &name[..end]))
}

#[test]
fn no_file_over_800_lines_and_no_long_function_without_its_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let mut long_files = Vec::new();
    let mut long_fns = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("a source file");
        let lines: Vec<&str> = text.lines().collect();
        let shown = f
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap_or(f);
        if lines.len() > MAX_FILE {
            long_files.push(format!("{} ({} lines)", shown.display(), lines.len()));
        }
        let mut i = 0;
        while i < lines.len() {
            let Some((indent, name)) = fn_start(lines[i]) else {
                i += 1;
                continue;
            };
            let close = format!("{}}}", " ".repeat(indent));
            let Some(end) = (i + 1..lines.len()).find(|&j| lines[j] == close) else {
                i += 1;
                continue;
            };
            let n = end - i + 1;
            if n > MAX_FN {
                // the comment: the lines of comments and attributes above it
                let mut k = i;
                let mut said = false;
                while k > 0 {
                    let l = lines[k - 1].trim_start();
                    if !(l.starts_with("//") || l.starts_with("#[")) {
                        break;
                    }
                    said |= l.contains("Stays whole:");
                    k -= 1;
                }
                if !said {
                    long_fns.push(format!("{}:{} {name} ({n} lines)", shown.display(), i + 1));
                }
            }
            i = end + 1;
        }
    }
    assert!(
        long_files.is_empty(),
        "files over {MAX_FILE} lines:\n{}",
        long_files.join("\n")
    );
    assert!(
        long_fns.is_empty(),
        "functions over {MAX_FN} lines without a \"Stays whole:\" comment:\n{}",
        long_fns.join("\n")
    );
}
