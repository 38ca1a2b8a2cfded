//! Keeping an idle host small.
//!
//! Start-up (opening SQLite, spawning the agent) runs code the host never needs again, and
//! the kernel maps executable pages in 64 KiB "fault-around" batches, so a host would idle
//! with most of its binary resident. Once started, the host drops its page-table entries
//! for executable file mappings (`MADV_DONTNEED` on `r-xp` mappings: read-only text, never
//! written, so nothing is lost; the pages stay in the shared page cache and fault back in
//! when used). Writable or relocated mappings are never touched. Free heap memory goes back
//! too (`malloc_trim`), and the host's store connection drops its caches
//! (`Store::release_memory`).

/// Releases resident executable pages and gives free heap memory back to the kernel; best
/// effort.
pub fn release_code_pages() {
    // SAFETY: malloc_trim only returns free memory; it is safe to call at any time.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        // Only private, read-and-execute, file-backed mappings (not [vdso] and the like).
        let path = fields.nth(3);
        if perms != "r-xp" || !path.is_some_and(|p| p.starts_with('/')) {
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
        // SAFETY: the range is a whole text mapping of this process; MADV_DONTNEED on an
        // unmodified private file mapping only drops page-table entries.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
