//! Finding a tree's new processes through `/proc/<pid>/task/<tid>/children`: O(tree), where a
//! `/proc` listing is O(processes on the machine). Needs `CONFIG_PROC_CHILDREN` (most
//! distribution kernels have it); [`supported`] says whether this kernel does.

use std::io::Read;
use std::sync::OnceLock;

/// Whether this kernel has `/proc/<pid>/task/<tid>/children`.
pub fn supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let pid = std::process::id();
        std::path::Path::new(&format!("/proc/{pid}/task/{pid}/children")).exists()
    })
}

/// Appends the children of every thread of `pid` to `out`. Children are listed by the
/// thread that forked them, so every thread is read (a gone process gives nothing).
pub fn children_of(pid: u32, buf: &mut Vec<u8>, out: &mut Vec<u32>) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let name = task.file_name();
        let Some(tid) = name.to_str() else { continue };
        buf.clear();
        let path = format!("/proc/{pid}/task/{tid}/children");
        if let Ok(mut f) = std::fs::File::open(path) {
            if f.read_to_end(buf).is_err() {
                continue;
            }
        }
        for word in buf.split(|b| b.is_ascii_whitespace()) {
            if let Some(child) = super::parse_u64(word) {
                out.push(child as u32);
            }
        }
    }
}
