//! The Rust half of bench/ffi_overhead: times the same calls as bench/ffi_overhead/bench.c,
//! once on the core API directly and once through the C ABI functions (called from Rust, so
//! the difference is the wrapper, not the compiler), one call per sample.
//!
//! Usage: ffi_overhead HOME SESSION_ID [SAMPLES]   (bench/ffi_overhead/run.sh runs it)

use agent_sessions::SessionManager;
use agent_sessions_ffi::manager::{as_manager_free, as_manager_open, as_manager_open_session};
use agent_sessions_ffi::session::{
    as_session_free, as_session_id, as_session_record, as_session_state,
};
use agent_sessions_ffi::{alloc::as_string_free, as_manager, as_result, as_session, as_state};
use std::ffi::{c_char, CString};
use std::path::Path;
use std::time::Instant;

/// Times `f` `n` times (after `n / 10` warm-up calls) and prints median, p10 and p90 in ns.
fn bench(label: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let mut ns: Vec<u64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    ns.sort_unstable();
    println!(
        "rust  {label:<34} median {:>8} ns   p10 {:>8} ns   p90 {:>8} ns   (n={n})",
        ns[n / 2],
        ns[n / 10],
        ns[n * 9 / 10]
    );
}

/// The same two calls back to back in each sample, in alternating order, so that load and
/// cache drift hit both alike; prints the median of the per-sample differences.
fn paired(n: usize, mgr: &SessionManager, id: &str, s: *mut as_session) {
    let core = || {
        std::hint::black_box(mgr.state(id).expect("state"));
    };
    let cabi = || {
        let mut st = as_state::AS_STATE_UNKNOWN;
        assert_eq!(unsafe { as_session_state(s, &mut st) }, as_result::AS_OK);
        std::hint::black_box(st);
    };
    paired_diff("paired state() - state() (control)", n, &core, &core);
    paired_diff("paired as_session_state - state()", n, &cabi, &core);
}

/// Median of per-sample differences `a - b`, the two run back to back in alternating order.
fn paired_diff(label: &str, n: usize, a: &dyn Fn(), b: &dyn Fn()) {
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed().as_nanos() as i64
    };
    let mut diffs: Vec<i64> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let tb = time(b);
                time(a) - tb
            } else {
                let ta = time(a);
                ta - time(b)
            }
        })
        .collect();
    diffs.sort_unstable();
    println!(
        "rust  {label:<34} median {:>8} ns   p10 {:>8} ns   p90 {:>8} ns   (n={n})",
        diffs[n / 2],
        diffs[n / 10],
        diffs[n * 9 / 10]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ffi_overhead HOME SESSION_ID [SAMPLES]");
        std::process::exit(2);
    }
    let (home, id) = (&args[1], &args[2]);
    let n: usize = args
        .get(3)
        .map_or(20_000, |s| s.parse().expect("SAMPLES is a number"));

    let mgr = SessionManager::open(Some(Path::new(home))).expect("open home");
    bench("core  state()", n, || {
        std::hint::black_box(mgr.state(id).expect("state"));
    });
    bench("core  get().to_json()", n, || {
        std::hint::black_box(mgr.get(id).expect("get").to_json());
    });

    let c_home = CString::new(home.as_str()).unwrap();
    let c_id = CString::new(id.as_str()).unwrap();
    let mut m: *mut as_manager = std::ptr::null_mut();
    let mut s: *mut as_session = std::ptr::null_mut();
    unsafe {
        assert_eq!(as_manager_open(c_home.as_ptr(), &mut m), as_result::AS_OK);
        assert_eq!(
            as_manager_open_session(m, c_id.as_ptr(), &mut s),
            as_result::AS_OK
        );
    }
    bench("cabi  as_session_state", n, || {
        let mut st = as_state::AS_STATE_UNKNOWN;
        assert_eq!(unsafe { as_session_state(s, &mut st) }, as_result::AS_OK);
        std::hint::black_box(st);
    });
    // The core path on the very manager (and SQLite connection) the handle uses.
    let h = agent_sessions_ffi::handles::manager(m, "m").expect("live handle");
    paired(n, &h.shared.mgr, id, s);
    bench("cabi  as_session_record+free", n, || {
        let mut j: *mut c_char = std::ptr::null_mut();
        assert_eq!(unsafe { as_session_record(s, &mut j) }, as_result::AS_OK);
        unsafe { as_string_free(j) };
    });
    bench("cabi  as_session_id+free (floor)", n, || {
        let mut j: *mut c_char = std::ptr::null_mut();
        assert_eq!(unsafe { as_session_id(s, &mut j) }, as_result::AS_OK);
        unsafe { as_string_free(j) };
    });
    unsafe {
        as_session_free(s);
        as_manager_free(m);
    }
}
