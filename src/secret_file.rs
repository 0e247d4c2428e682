//! Files that hold a secret (the inbound key, the link key, the SMTP
//! password, webhook secrets), read the way operators expect: refused when
//! anyone but the owner (and its group) may read or change them, as ssh
//! refuses a private key others can read, and refused when they are not
//! text, saying how to make one.

use std::path::Path;

/// How to make a secret file.
pub const HOW_TO_MAKE: &str =
    "(umask 077; head -c 48 /dev/urandom | base64 > FILE), or chmod 600 FILE for one that exists";

/// Reads the secret in `path` as text. `what` names the setting in errors
/// (`mail.inbound.key_file`).
pub fn read(path: &Path, what: &str) -> Result<String, String> {
    check_permissions(path, what)?;
    let bytes =
        std::fs::read(path).map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| {
        format!(
            "{what}: {} is not text: a key is written as text, e.g. {}",
            path.display(),
            HOW_TO_MAKE.replace("FILE", &path.display().to_string())
        )
    })
}

/// Refuses a file that others may read, or that its group or others may
/// change.
#[cfg(unix)]
pub fn check_permissions(path: &Path, what: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o027 != 0 {
        return Err(format!(
            "{what}: {} is {} by others (mode {mode:04o}): a secret must be private: chmod 600 {} \
             (640 for a group that runs atsd)",
            path.display(),
            if mode & 0o004 != 0 {
                "readable"
            } else {
                "writable"
            },
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_permissions(_: &Path, _: &str) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_secret_others_can_read_or_change_is_refused_saying_how_to_fix_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("key");
        std::fs::write(&p, "a-key-of-more-than-32-bytes-0123456789\n").expect("write");
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, true),
            (0o644, false),
            (0o660, false),
            (0o604, false),
            (0o602, false),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let r = read(&p, "mail.inbound.key_file");
            assert_eq!(r.is_ok(), ok, "{mode:o}: {r:?}");
            if let Err(e) = r {
                assert!(
                    e.contains("chmod 600") && e.contains(&format!("{mode:04o}")),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn raw_random_bytes_are_refused_saying_how_to_write_a_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("key");
        std::fs::write(&p, [0xff, 0xfe, 0x00, 0x81, 0x90]).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let e = read(&p, "http.link_key_file").expect_err("not text");
        assert!(e.contains("not text") && e.contains("base64"), "{e}");
    }
}
