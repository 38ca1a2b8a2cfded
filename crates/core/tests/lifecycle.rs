//! Lifecycle records: the reference hook library's semantics on the shared store.

use agent_sessions::lifecycle::hooks::{run_hook, Hook, HookOptions};
use agent_sessions::lifecycle::{Lifecycle, ListFilter, NewLifecycle, ResumePolicy, Update};
use agent_sessions::services::state_machine;
use agent_sessions::store::Store;
use agent_sessions::Source;
use agent_sessions::{ErrorKind, SessionKind, SessionManager, State};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

struct TempHome(PathBuf);

impl TempHome {
    fn new(tag: &str) -> TempHome {
        let p = std::env::temp_dir().join(format!(
            "as-lc-{tag}-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempHome(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn create(lc: &Lifecycle, name: &str) -> String {
    lc.create_session(&NewLifecycle {
        agent_name: json!(name),
        purpose: json!("testing"),
        metadata: obj(json!({"task_id": "T001"})),
        ..Default::default()
    })
    .unwrap()
}

fn doc(lc: &Lifecycle, id: &str) -> Value {
    lc.get_session(id).unwrap().unwrap().to_value()
}

fn state_file(home: &Path, id: &str) -> Value {
    let text = std::fs::read_to_string(home.join(id).join("state.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn create_has_reference_shape_and_mirrors_state_json() {
    let home = TempHome::new("create");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let id = create(&lc, "terraform-architect");
    assert!(id.starts_with("agent-") && id.len() == 30, "{id}");
    let d = doc(&lc, &id);
    assert_eq!(d["agent_id"], json!(id));
    assert_eq!(d["agent_name"], "terraform-architect");
    assert_eq!(d["purpose"], "testing");
    assert_eq!(d["phase"], "initializing");
    assert_eq!(d["metadata"], json!({"task_id": "T001"}));
    assert_eq!(d["resume_ready"], false);
    assert_eq!(d["history"], json!([]));
    assert_eq!(d["error_count"], 0);
    for k in ["last_error", "finalized_at", "duration_seconds", "summary"] {
        assert!(d[k].is_null(), "{k}");
    }
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(state_file(home.path(), &id), d);
    // Key order of the file follows the reference schema.
    let text = std::fs::read_to_string(home.path().join(&id).join("state.json")).unwrap();
    let keys: Vec<usize> = [
        "\"agent_id\"",
        "\"agent_name\"",
        "\"phase\"",
        "\"history\"",
        "\"summary\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");

    // The same session in the shared store, as a record-only session.
    let mgr = SessionManager::open(Some(home.path())).unwrap();
    let rec = mgr.get(&id).unwrap();
    assert_eq!(rec.kind, SessionKind::Record);
    assert_eq!(rec.state, State::Running);
    assert_eq!(rec.phase.as_deref(), Some("initializing"));
    assert_eq!(rec.name.as_deref(), Some("terraform-architect"));
    assert_eq!(rec.task_id.as_deref(), Some("T001"));
}

#[test]
fn update_phase_metadata_error_and_history() {
    let home = TempHome::new("update");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let id = create(&lc, "gitops");
    assert!(lc
        .update_state(
            &id,
            Some("investigating"),
            Some(&obj(json!({"findings": ["OOM"]}))),
            None
        )
        .unwrap());
    assert!(lc
        .update_state(&id, Some("approval"), None, Some("boom"))
        .unwrap());
    let d = doc(&lc, &id);
    assert_eq!(d["phase"], "approval");
    assert_eq!(d["resume_ready"], true);
    assert_eq!(
        d["metadata"],
        json!({"task_id": "T001", "findings": ["OOM"]})
    );
    assert_eq!(d["error_count"], 1);
    assert_eq!(d["last_error"]["message"], "boom");
    let h = d["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["from_phase"], "initializing");
    assert_eq!(h[0]["to_phase"], "investigating");
    assert_eq!(h[1]["from_phase"], "investigating");
    assert_eq!(h[1]["to_phase"], "approval");
    assert_eq!(state_file(home.path(), &id), d);

    // Approval derives waiting_input for a record-only session.
    let mgr = SessionManager::open(Some(home.path())).unwrap();
    let rec = mgr.get(&id).unwrap();
    assert_eq!(rec.state, State::WaitingInput);
    assert_eq!(rec.transitions.last().unwrap().source, "phase");

    // Invalid phase: rejected, nothing changes.
    let err = lc
        .update_state(&id, Some("sleeping"), Some(&obj(json!({"x": 1}))), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidPhase);
    assert_eq!(doc(&lc, &id), d);

    // Unknown session.
    assert!(!lc
        .update_state(
            "agent-20990101-000000-00000000",
            Some("planning"),
            None,
            None
        )
        .unwrap());
    assert!(lc
        .get_session("agent-20990101-000000-00000000")
        .unwrap()
        .is_none());
}

#[test]
fn resume_rules_and_configurable_thresholds() {
    let home = TempHome::new("resume");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let p = ResumePolicy::default();
    let id = create(&lc, "a");
    assert!(
        !lc.should_resume(&id, &p).unwrap(),
        "initializing is not resumable"
    );
    lc.update_state(&id, Some("approval"), None, None).unwrap();
    assert!(lc.should_resume(&id, &p).unwrap());
    lc.update_state(&id, Some("executing"), None, None).unwrap();
    assert!(!lc.should_resume(&id, &p).unwrap());
    lc.update_state(&id, Some("planning"), None, None).unwrap();
    assert!(lc.should_resume(&id, &p).unwrap());

    // Errors: below 3 resumes, 3 does not; a policy can allow more.
    lc.update_state(&id, None, None, Some("e1")).unwrap();
    lc.update_state(&id, None, None, Some("e2")).unwrap();
    assert!(lc.should_resume(&id, &p).unwrap());
    lc.update_state(&id, None, None, Some("e3")).unwrap();
    assert!(!lc.should_resume(&id, &p).unwrap());
    let lenient = ResumePolicy {
        max_errors: 5,
        ..ResumePolicy::default()
    };
    assert!(lc.should_resume(&id, &lenient).unwrap());

    // Back-dated 31 minutes (naive isoformat, as Python tests write it): too old.
    let mut d = obj(doc(&lc, &id));
    let old = chrono::Utc::now() - chrono::Duration::minutes(31);
    d.insert(
        "last_updated".into(),
        json!(old.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
    );
    d.insert("error_count".into(), json!(0));
    lc.save_session(&id, d.clone()).unwrap();
    assert_eq!(doc(&lc, &id), Value::Object(d), "stored exactly as given");
    assert!(!lc.should_resume(&id, &p).unwrap());
    let patient = ResumePolicy {
        max_idle: Duration::from_secs(60 * 60),
        ..ResumePolicy::default()
    };
    assert!(lc.should_resume(&id, &patient).unwrap());
    let check = lc.resume_check(&id, &p).unwrap().unwrap();
    assert!(check.why_not.contains("minutes ago"), "{}", check.why_not);

    assert!(!lc
        .should_resume("agent-20990101-000000-00000000", &p)
        .unwrap());
}

#[test]
fn finalize_outcomes_duration_and_state() {
    let home = TempHome::new("finalize");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let mgr = SessionManager::open(Some(home.path())).unwrap();
    let a = create(&lc, "a");
    lc.update_state(&a, Some("approval"), None, None).unwrap();
    assert!(lc
        .finalize_session(&a, "completed", Some(json!("done")))
        .unwrap());
    let d = doc(&lc, &a);
    assert_eq!(d["phase"], "completed");
    assert_eq!(d["summary"], "done");
    assert_eq!(d["resume_ready"], false);
    assert!(d["finalized_at"].is_string());
    assert!(d["duration_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(d["history"].as_array().unwrap().len(), 2);
    assert_eq!(mgr.get(&a).unwrap().state, State::Stopped);

    let b = create(&lc, "b");
    assert!(lc.finalize_session(&b, "exploded", None).unwrap());
    assert_eq!(doc(&lc, &b)["phase"], "failed");
    assert_eq!(mgr.get(&b).unwrap().state, State::Failed);

    let c = create(&lc, "c");
    lc.finalize_session(&c, "abandoned", None).unwrap();
    assert_eq!(doc(&lc, &c)["phase"], "abandoned");

    assert!(!lc
        .finalize_session("agent-20990101-000000-00000000", "completed", None)
        .unwrap());
}

#[test]
fn list_order_filters_and_cleanup() {
    let home = TempHome::new("list");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let a = create(&lc, "alpha");
    let b = create(&lc, "beta");
    let c = create(&lc, "alpha");
    lc.update_state(&a, Some("planning"), None, None).unwrap();
    lc.finalize_session(&c, "completed", None).unwrap();
    lc.update_state(&b, None, Some(&obj(json!({"k": 1}))), None)
        .unwrap();
    let all = lc.list_sessions(false, None).unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.agent_id.as_str()).collect();
    assert_eq!(ids, [b.as_str(), c.as_str(), a.as_str()]);
    // Active as in the reference: resume_ready (b is still initializing).
    let active: Vec<String> = lc
        .list_sessions(true, None)
        .unwrap()
        .into_iter()
        .map(|s| s.agent_id)
        .collect();
    assert_eq!(active, [a.as_str()]);
    let unfinished: Vec<String> = lc
        .list_sessions_filtered(ListFilter::Unfinished, None)
        .unwrap()
        .into_iter()
        .map(|s| s.agent_id)
        .collect();
    assert_eq!(unfinished, [b.clone(), a.clone()]);
    let alpha: Vec<String> = lc
        .list_sessions(false, Some("alpha"))
        .unwrap()
        .into_iter()
        .map(|s| s.agent_id)
        .collect();
    assert_eq!(alpha, [c.clone(), a.clone()]);
    let sa = all.iter().find(|s| s.agent_id == a).unwrap();
    assert_eq!(sa.phase.as_deref(), Some("planning"));
    assert!(sa.resume_ready);

    // Back-date b by two days; cleanup(24) removes it and its folder only.
    let mut d = obj(doc(&lc, &b));
    d.insert("last_updated".into(), json!("2020-01-01T00:00:00Z"));
    lc.save_session(&b, d).unwrap();
    assert_eq!(
        lc.list_sessions(false, None)
            .unwrap()
            .last()
            .unwrap()
            .agent_id,
        b
    );
    assert_eq!(lc.cleanup_old_sessions(24.0).unwrap(), 1);
    assert!(lc.get_session(&b).unwrap().is_none());
    assert!(!home.path().join(&b).exists());
    assert!(home.path().join(&a).join("state.json").exists());
    assert_eq!(lc.cleanup_old_sessions(24.0).unwrap(), 0);
    assert_eq!(lc.list_sessions(false, None).unwrap().len(), 2);
}

#[test]
fn save_session_is_exact_and_creates() {
    let home = TempHome::new("save");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let given = json!({
        "agent_id": "legacy-1",
        "agent_name": "old",
        "phase": "approval",
        "resume_ready": true,
        "last_updated": "2026-01-08T18:10:15Z",
        "created_at": "2026-01-08T18:05:30Z",
        "metadata": {"nested": {"x": [1, 2.5, null]}},
        "history": [
            {"from_phase": "initializing", "to_phase": "approval", "timestamp": "2026-01-08T18:10:15Z"},
            {"from_phase": null, "to_phase": "x", "timestamp": "t", "note": "extra key"},
            "odd entry"
        ],
        "error_count": 0,
        "custom_field": {"kept": true}
    });
    lc.save_session("legacy-1", obj(given.clone())).unwrap();
    assert_eq!(doc(&lc, "legacy-1"), given);
    assert_eq!(state_file(home.path(), "legacy-1"), given);
    // Appending keeps the odd entries.
    lc.update_state("legacy-1", Some("executing"), None, None)
        .unwrap();
    let h = doc(&lc, "legacy-1")["history"].as_array().unwrap().clone();
    assert_eq!(h.len(), 4);
    assert_eq!(h[2], "odd entry");
    assert_eq!(h[3]["from_phase"], "approval");

    // A document without a history stays without one.
    let bare = json!({"agent_id": "bare", "phase": "planning"});
    lc.save_session("bare", obj(bare.clone())).unwrap();
    assert_eq!(doc(&lc, "bare"), bare);

    // Ids are validated before touching the disk.
    let err = lc.save_session("../escape", Map::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSessionId);
    assert!(!home.path().join("../escape").exists());
}

#[test]
fn threads_with_separate_connections_lose_no_update() {
    let home = TempHome::new("threads");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let id = create(&lc, "x");
    let phases = ["investigating", "planning", "approval", "executing"];
    std::thread::scope(|s| {
        for t in 0..4 {
            let id = id.clone();
            let home = home.path().to_path_buf();
            s.spawn(move || {
                let lc = Lifecycle::open(Some(&home)).unwrap();
                for i in 0..50 {
                    let m = obj(json!({format!("t{t}"): i}));
                    assert!(lc
                        .update_state(&id, Some(phases[(t + i) % 4]), Some(&m), None)
                        .unwrap());
                }
            });
        }
    });
    let d = doc(&lc, &id);
    assert_eq!(d["history"].as_array().unwrap().len(), 200);
    for t in 0..4 {
        assert_eq!(d["metadata"][format!("t{t}")], 49);
    }
    assert_eq!(state_file(home.path(), &id), d);
}

#[test]
fn hosted_session_carries_a_phase_without_state_change() {
    let home = TempHome::new("hosted");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    // A hosted row as the manager would insert it (no process needed for this test).
    let store =
        Store::open(&agent_sessions::home::Home::resolve(Some(home.path())).unwrap()).unwrap();
    let id = "agent-20260101-000000-0000abcd";
    state_machine::insert(
        &store,
        &agent_sessions::store::NewSession {
            name: Some("worker".into()),
            cause: "test".into(),
            ..agent_sessions::store::NewSession::hosted(id, "custom", &["cat"])
        },
        Source::User,
        &vec![],
    )
    .unwrap();
    state_machine::apply(
        &store,
        &state_machine::Change::new(id, State::Stopped, Source::Process, "test"),
    )
    .unwrap();
    assert!(lc.get_session(id).unwrap().is_none());
    assert!(lc.update_state(id, Some("validating"), None, None).unwrap());
    let d = doc(&lc, id);
    assert_eq!(d["agent_name"], "worker");
    assert_eq!(d["phase"], "validating");
    let rec = store.get(id).unwrap().unwrap();
    assert_eq!(rec.phase.as_deref(), Some("validating"));
    assert_eq!(rec.state, State::Stopped, "process state untouched");
    assert_eq!(rec.kind, SessionKind::Hosted);
    // Cleanup never deletes hosted sessions.
    let mut old = obj(d);
    old.insert("last_updated".into(), json!("2000-01-01T00:00:00Z"));
    lc.save_session(id, old).unwrap();
    assert_eq!(lc.cleanup_old_sessions(1.0).unwrap(), 0);
    assert!(store.get(id).unwrap().is_some());
}

#[test]
fn apply_combines_changes_in_one_write() {
    let home = TempHome::new("apply");
    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let id = create(&lc, "x");
    let m = obj(json!({"a": 1}));
    assert!(lc
        .apply(
            &id,
            &Update {
                metadata: Some(&m),
                fields: vec![("usage", json!({"tokens_output": 5}))],
                finalize: Some(("completed", json!("ok"))),
                ..Default::default()
            },
        )
        .unwrap());
    let d = doc(&lc, &id);
    assert_eq!(d["usage"]["tokens_output"], 5);
    assert_eq!(d["metadata"]["a"], 1);
    assert_eq!(d["phase"], "completed");
}

fn hook(home: &Path, h: Hook, input: &str) -> Value {
    let opts = HookOptions {
        home: Some(home.to_path_buf()),
        log_path: Some(home.join("hooks.log")),
        policy: ResumePolicy::default(),
    };
    serde_json::from_str(&run_hook(h, input.as_bytes(), &opts)).unwrap()
}

#[test]
fn hooks_answer_errors_and_resume() {
    let home = TempHome::new("hooks");
    for bad in [
        "",
        "   ",
        "{not json",
        "[1,2]",
        "{}",
        r#"{"agent_name": 5}"#,
    ] {
        let a = hook(home.path(), Hook::PreDelegate, bad);
        assert_eq!(a["reason"], "error", "{bad:?}: {a}");
        assert_eq!(a["should_resume"], false);
        let a = hook(home.path(), Hook::SubagentStop, bad);
        assert_eq!(a["reason"], "error", "{bad:?}: {a}");
    }
    let log = std::fs::read_to_string(home.path().join("hooks.log")).unwrap();
    assert!(log.contains("malformed JSON"), "{log}");

    let lc = Lifecycle::open(Some(home.path())).unwrap();
    let id = create(&lc, "terraform");
    let a = hook(
        home.path(),
        Hook::PreDelegate,
        &json!({"agent_name": "terraform", "task_id": "T001", "agent_id": id,
                "task_description": "apply", "metadata": {}})
        .to_string(),
    );
    assert_eq!(a["reason"], "session_not_resumable", "{a}");
    lc.update_state(
        &id,
        Some("approval"),
        Some(&obj(json!({"plan": "p.json"}))),
        None,
    )
    .unwrap();
    // Found by agent_id, and by agent_name + task_id.
    for input in [
        json!({"agent_name": "terraform", "agent_id": id, "task_description": "", "metadata": {}}),
        json!({"agent_name": "terraform", "task_id": "T001", "task_description": "", "metadata": {}}),
    ] {
        let a = hook(home.path(), Hook::PreDelegate, &input.to_string());
        assert_eq!(a["reason"], "session_resumable", "{a}");
        assert_eq!(a["should_resume"], true);
        assert_eq!(a["agent_id"], json!(id));
        assert_eq!(a["resume_metadata"]["previous_phase"], "approval");
        assert_eq!(a["resume_metadata"]["session_metadata"]["plan"], "p.json");
        assert_eq!(a["original_context"], input);
    }
    let a = hook(
        home.path(),
        Hook::PreDelegate,
        r#"{"agent_name": "other", "task_id": "T404"}"#,
    );
    assert_eq!(a["reason"], "no_existing_session");

    // subagent_stop finalizes on success too.
    let a = hook(
        home.path(),
        Hook::SubagentStop,
        &json!({"task_id": "T001", "agent": "terraform", "agent_id": id, "exit_code": 0,
                "output": "applied"})
        .to_string(),
    );
    assert_eq!(a["reason"], "finalized", "{a}");
    let d = doc(&lc, &id);
    assert_eq!(d["phase"], "completed");
    assert_eq!(d["summary"], "applied");
}
