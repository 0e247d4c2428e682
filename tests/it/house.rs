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

/// GitHub's and mdBook's anchor of a heading: lower case, spaces to `-`,
/// punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The relative links of a Markdown text (`[text](target)`, not `http…`,
/// not in code blocks).
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with("mailto:") && !target.is_empty() {
                out.push(target.to_string());
            }
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn the_book_and_the_readme_have_no_broken_link() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let book = root.join("docs/src");
    let mut pages = Vec::new();
    let mut stack = vec![book.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("the book's folder").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                pages.push(p);
            }
        }
    }
    pages.push(root.join("README.md"));
    let summary = std::fs::read_to_string(book.join("SUMMARY.md")).expect("SUMMARY.md");
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a page");
        let dir = page.parent().expect("a folder");
        for link in links(&text) {
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            if !anchor.is_empty() && target.extension().is_some_and(|x| x == "md") {
                let t = std::fs::read_to_string(&target).unwrap_or_default();
                let found = t
                    .lines()
                    .filter_map(|l| l.trim_start_matches('#').strip_prefix(' '))
                    .any(|h| slug(h) == anchor);
                if !found {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
        // every chapter is in the book's table of contents
        if let Ok(rel) = page.strip_prefix(&book)
            && rel != Path::new("SUMMARY.md")
        {
            let rel = rel.display().to_string();
            if !summary.contains(&format!("]({rel})")) {
                broken.push(format!("{rel}: not in SUMMARY.md"));
            }
        }
        // an include names a file that is there
        for inc in text
            .match_indices("{{#include ")
            .map(|(i, _)| &text[i + 11..])
        {
            let file = inc.split("}}").next().unwrap_or("").trim();
            if !dir.join(file).exists() {
                broken.push(format!("{}: include {file} (no such file)", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(readme.lines().count() <= 250, "README.md is over 250 lines");
}
