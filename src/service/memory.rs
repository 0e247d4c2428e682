//! Giving start-up's memory back once the daemon is up (issue 36): most of
//! an idle daemon's resident memory is its own executable's pages, which the
//! kernel maps in around each page touched on the way up (configuration
//! checks, migrations, templates parsed and checked, listeners) and keeps
//! mapped although an idle loop never runs them again. Once ready, those
//! read-only mappings are advised out (`MADV_PAGEOUT`, Linux 5.4): they are
//! clean file pages, so nothing is written anywhere, and a page needed again
//! comes back from the page cache on its next touch. The heap's free top
//! goes back too (`malloc_trim`).

/// Advises the executable's read-only mappings out and trims the heap;
/// returns the resident KiB before and after (from `/proc/self/status`).
pub fn give_back_start_up() -> (u64, u64) {
    let before = resident_kib();
    let exe = std::fs::read_link("/proc/self/exe").ok();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for line in maps.lines() {
        // start-end perms offset dev inode path
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [range, perms, _, _, _, path] = fields[..] else {
            continue;
        };
        if perms.contains('w') || exe.as_deref().is_none_or(|e| e.as_os_str() != path) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is one of this process's own mappings, as the
        // kernel listed it, read-only and backed by the executable's file:
        // advising it out changes no content, only what stays resident.
        // An older kernel answers EINVAL, and nothing happens.
        unsafe {
            let at = start as *mut libc::c_void;
            // read back page by page, not 64 KiB around each (fault-around)
            libc::madvise(at, end - start, libc::MADV_RANDOM);
            libc::madvise(at, end - start, libc::MADV_PAGEOUT);
        }
    }
    // SAFETY: glibc's malloc_trim only releases free memory at the heap's
    // top and in the arenas; it takes malloc's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
    (before, resident_kib())
}

/// `VmRSS` in KiB, 0 when it cannot be read.
pub fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|k| k.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    /// The code advised out runs on (it comes back on its next touch);
    /// how much goes back is measured by BENCHMARKS.md's idle daemon.
    #[test]
    fn the_code_advised_out_still_runs() {
        let (before, after) = super::give_back_start_up();
        assert!(before > 0 && after > 0, "{before} KiB, {after} KiB");
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
