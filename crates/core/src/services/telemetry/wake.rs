//! How a sampler sleeps: until its next deadline, a stop or poke from its own host, or a
//! watcher's arrival in any process, and not a moment before.
//!
//! Why futexes: a thread that wakes just to look around costs ~100 µs of CPU per wake when
//! 300 host processes do it (cold caches and an address-space switch each time, measured
//! with `schedstat`), so 1000 hosts checking a watch lease once a second would take 10 % of
//! a core doing nothing. Instead every host maps the first page of the lease file
//! (`<home>/watch`) read-only and waits on its first word with `futex_waitv` together with a
//! private word of its own: a watcher bumps the shared word and wakes all waiters once
//! ([`LeasePage::announce`]); the host bumps its private word to stop or poke the sampler
//! ([`StopSignal`]). An idle host then wakes only when its next sample is due. Where
//! `futex_waitv` (Linux 5.16) or the mapping is unavailable, the sampler falls back to
//! looking at the lease every [`super::watch::LEASE_CHECK`].

use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Size of the lease file: one page, so it can be mapped.
const PAGE: usize = 4096;

/// The first page of a home's lease file, mapped shared.
#[derive(Debug)]
pub struct LeasePage {
    /// The mapping; the file itself is closed once mapped (a mapping needs no descriptor).
    word: *const AtomicU32,
}

// SAFETY: the mapping lives as long as the value and is only accessed atomically.
unsafe impl Send for LeasePage {}
unsafe impl Sync for LeasePage {}

impl LeasePage {
    /// Maps the lease file at `path`, creating it (private, one page) when missing;
    /// `writable` for a watcher, read-only for a host.
    pub fn open(path: &Path, writable: bool) -> std::io::Result<LeasePage> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        if file.metadata()?.len() < PAGE as u64 {
            // never shrinks: several processes may do this at once, all to the same size
            file.set_len(PAGE as u64)?;
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh shared mapping of a file at least one page long; unmapped in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                prot,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        drop(file);
        Ok(LeasePage {
            word: ptr as *const AtomicU32,
        })
    }

    /// Whether this kernel can wait on this page and a private word at once
    /// (`futex_waitv`, Linux 5.16).
    pub fn can_wait(&self) -> bool {
        let probe = AtomicU32::new(1);
        // values that do not match: the kernel answers at once (EAGAIN), or ENOSYS
        waitv(
            &probe,
            0,
            self,
            self.seq().wrapping_add(1),
            std::time::Duration::ZERO,
        )
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: points into a live, page-aligned mapping.
        unsafe { &*self.word }
    }

    /// Bytes 8..16: until when (unix ms) a watcher asked for live figures.
    fn until(&self) -> &AtomicU64 {
        // SAFETY: offset 8 of a live, page-aligned mapping: aligned for u64.
        unsafe { &*(self.word as *const u8).add(8).cast::<AtomicU64>() }
    }

    /// Whether a watcher's lease runs past `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.until().load(Ordering::Acquire) > now_ms.max(0) as u64
    }

    /// Extends the lease to `until_ms` (never shortens one another watcher holds).
    pub fn renew(&self, until_ms: i64) {
        self.until()
            .fetch_max(until_ms.max(0) as u64, Ordering::AcqRel);
    }

    /// The announcement counter now.
    pub fn seq(&self) -> u32 {
        self.word().load(Ordering::Acquire)
    }

    /// Tells every waiting host that a watcher arrived (needs a writable mapping).
    pub fn announce(&self) {
        self.word().fetch_add(1, Ordering::AcqRel);
        // SAFETY: FUTEX_WAKE on a valid shared word.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word,
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                0,
                0,
            );
        }
    }
}

impl Drop for LeasePage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`.
        unsafe {
            libc::munmap(self.word as *mut libc::c_void, PAGE);
        }
    }
}

#[derive(Debug, Default)]
struct Signal {
    stopped: AtomicBool,
    /// bumped by every stop and poke; the word the sampler waits on
    seq: AtomicU32,
}

/// Tells a sampler to finish (it takes a last sample, flushes and returns) or to look
/// around now ([`StopSignal::poke`]).
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    inner: Arc<Signal>,
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    Stopped,
    /// a poke, a watcher's announcement, or a spurious wake-up
    Early,
    Deadline,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every sampler holding a clone of this signal to stop (idempotent).
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::Release);
        self.poke();
    }

    /// Wakes the sampler so it looks at its host's activity now.
    pub fn poke(&self) {
        self.inner.seq.fetch_add(1, Ordering::AcqRel);
        // SAFETY: FUTEX_WAKE_PRIVATE on a word of this process.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.inner.seq.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                0,
                0,
            );
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Sleeps until `deadline` or until stopped; returns true when stopped.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        loop {
            match self.wait(deadline, None) {
                Woke::Stopped => return true,
                Woke::Deadline => return false,
                Woke::Early => {}
            }
        }
    }

    /// Sleeps until `deadline`, a stop or poke, or (with a lease page) an announcement
    /// after `lease_seq` was read.
    pub(crate) fn wait(&self, deadline: Instant, lease: Option<(&LeasePage, u32)>) -> Woke {
        let seq = self.inner.seq.load(Ordering::Acquire);
        if self.is_stopped() {
            return Woke::Stopped;
        }
        let now = Instant::now();
        if now >= deadline {
            return Woke::Deadline;
        }
        let left = deadline - now;
        match lease {
            Some((page, seen)) if waitv(&self.inner.seq, seq, page, seen, left) => {}
            _ => futex_wait_private(&self.inner.seq, seq, left),
        }
        if self.is_stopped() {
            Woke::Stopped
        } else if Instant::now() >= deadline {
            Woke::Deadline
        } else {
            Woke::Early
        }
    }
}

fn timespec(d: std::time::Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

fn futex_wait_private(word: &AtomicU32, expected: u32, left: std::time::Duration) {
    let ts = timespec(left);
    // SAFETY: FUTEX_WAIT_PRIVATE on a word of this process with a relative timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            0,
            0,
        );
    }
}

/// `struct futex_waitv` of the kernel's uapi.
#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_FUTEX_WAITV: libc::c_long = 449;

/// Waits on the private word and the lease word at once. False when the kernel has no
/// `futex_waitv` (the caller then waits on its own word alone, with a shorter deadline).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn waitv(
    own: &AtomicU32,
    own_seen: u32,
    page: &LeasePage,
    lease_seen: u32,
    left: std::time::Duration,
) -> bool {
    let waiters = [
        FutexWaitv {
            val: u64::from(own_seen),
            uaddr: own.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
            reserved: 0,
        },
        FutexWaitv {
            val: u64::from(lease_seen),
            uaddr: page.word as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        },
    ];
    // futex_waitv takes an absolute CLOCK_MONOTONIC deadline.
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let abs = std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32) + left;
    let ts = timespec(abs);
    // SAFETY: two valid waiters, an absolute timeout, CLOCK_MONOTONIC.
    let r = unsafe {
        libc::syscall(
            SYS_FUTEX_WAITV,
            waiters.as_ptr(),
            2u32,
            0u32,
            &ts as *const libc::timespec,
            libc::CLOCK_MONOTONIC,
        )
    };
    !(r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn waitv(_: &AtomicU32, _: u32, _: &LeasePage, _: u32, _: std::time::Duration) -> bool {
    false
}
