//! Files an application brings (resumes, cover letters, answers of a file
//! question): their type decided by their bytes, never by their name or
//! the type the client claims; kept under `[careers] files_dir` by their
//! SHA-256 (`ab/abcdef…`), so that a name can never be a path and the same
//! file twice is kept once. Forgetting an application deletes its rows;
//! retention then deletes the files no row names ([`collect_garbage`]).

use crate::config::Config;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The types atsd accepts, as the refusal names them.
pub const ACCEPTED: &str = "PDF, DOCX, ODT, RTF or plain text";

/// The media type of a file by its bytes, if it is one atsd accepts.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    if bytes.starts_with(b"{\\rtf") {
        return Some("application/rtf");
    }
    if bytes.starts_with(b"PK\x03\x04") {
        // ODF stores its type first, uncompressed, as `mimetype`
        if bytes.len() > 38 && &bytes[30..38] == b"mimetype" {
            let rest = &bytes[38..bytes.len().min(38 + 64)];
            return rest
                .starts_with(b"application/vnd.oasis.opendocument.text")
                .then_some("application/vnd.oasis.opendocument.text");
        }
        // a Word document names its parts in the zip's directory
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        if has(b"[Content_Types].xml") && has(b"word/") {
            return Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
        }
        return None;
    }
    // plain text: UTF-8, no NUL, no other control characters but layout
    match std::str::from_utf8(bytes) {
        Ok(t)
            if !t.is_empty()
                && !t
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')) =>
        {
            Some("text/plain")
        }
        _ => None,
    }
}

/// The name a file is shown by: its last path component, without control
/// characters or quotes, at most 200 characters ("file" when nothing is left).
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(200)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "file".into()
    } else {
        clean
    }
}

/// Where the files are kept: `[careers] files_dir`, else `files/` in
/// `$STATE_DIRECTORY`, else beside the SQLite database, else `./files`.
pub fn dir(config: &Config, database_url: &str) -> PathBuf {
    if let Some(d) = config.careers.as_ref().and_then(|c| c.files_dir.clone()) {
        return d;
    }
    if let Some(s) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may give several, separated by colons: the first
        let first = s
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        if !first.is_empty() {
            return PathBuf::from(first).join("files");
        }
    }
    crate::store::sqlite_dir(database_url)
        .unwrap_or_default()
        .join("files")
}

/// The SHA-256 of `bytes`, in hex.
pub fn digest(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The path of a kept file: `dir/ab/abcdef…`; none for anything that is
/// not a SHA-256 in hex.
pub fn path_of(dir: &Path, sha256: &str) -> Option<PathBuf> {
    (sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then(|| dir.join(&sha256[..2]).join(sha256))
}

/// Keeps `bytes` (written to a temporary file, synced, then renamed, mode
/// 0600); its digest. Keeping the same bytes again changes nothing.
pub fn keep(dir: &Path, bytes: &[u8]) -> std::io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let sha = digest(bytes);
    let path = path_of(dir, &sha).ok_or_else(|| std::io::Error::other("bad digest"))?;
    if path.is_file() {
        return Ok(sha);
    }
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent)?;
    // one temporary name per write, even for the same bytes at once
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = parent.join(format!(".{sha}.{}.{n}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(sha)
}

/// Deletes the kept files no application names any more (after an
/// anonymization or erasure deleted their rows, or a write that failed
/// after the file was kept); how many. `held` says whether a digest is
/// still named.
pub async fn collect_garbage<F, Fut>(dir: &Path, held: F) -> u64
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<bool>>,
{
    let Ok(top) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for sub in top.flatten() {
        let Ok(inner) = std::fs::read_dir(sub.path()) else {
            continue;
        };
        for f in inner.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if path_of(dir, &name).is_none() {
                continue;
            }
            if let Ok(false) = held(name).await
                && std::fs::remove_file(f.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_what_its_bytes_say() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(b"{\\rtf1\\ansi hi}"), Some("application/rtf"));
        assert_eq!(sniff("Grüße, Zoë\n".as_bytes()), Some("text/plain"));
        // an executable named .pdf, a zip, an image, binary junk: refused
        for bad in [
            &b"MZ\x90\x00\x03"[..],
            b"\x7fELF\x02\x01",
            b"PK\x03\x04\x14\x00\x00\x00rest-of-a-zip",
            b"\x89PNG\r\n\x1a\n",
            b"text with a \x00 NUL",
            b"",
        ] {
            assert_eq!(sniff(bad), None, "{bad:?}");
        }
        let mut odt = b"PK\x03\x04".to_vec();
        odt.resize(30, 0);
        odt.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.text");
        assert_eq!(sniff(&odt), Some("application/vnd.oasis.opendocument.text"));
        let docx = b"PK\x03\x04....[Content_Types].xml....word/document.xml";
        assert!(sniff(docx).is_some_and(|t| t.contains("wordprocessingml")));
    }

    #[test]
    fn names_never_become_paths() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\zoe\\cv.pdf"), "cv.pdf");
        assert_eq!(clean_name("\"><script>.pdf"), "script.pdf");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert!(path_of(Path::new("/x"), "../etc").is_none());
        assert!(path_of(Path::new("/x"), &"A".repeat(64)).is_none());
    }

    #[test]
    fn the_same_bytes_written_at_once_are_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || keep(&d, b"%PDF-1.4 the same cv"))
            })
            .collect();
        let shas: Vec<String> = handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert!(shas.windows(2).all(|w| w[0] == w[1]));
        let left: Vec<_> = std::fs::read_dir(d.join(&shas[0][..2])).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn the_same_bytes_are_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = keep(dir.path(), b"%PDF-1.4 cv").unwrap();
        let b = keep(dir.path(), b"%PDF-1.4 cv").unwrap();
        assert_eq!(a, b);
        let p = path_of(dir.path(), &a).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"%PDF-1.4 cv");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
