//! Launch templates through the real CLI: versions, rollback, check, starting from one with
//! overrides and environment names whose values come from the starting environment (and
//! are never stored), and every bad input refused with nothing half made.

mod common;
use common::*;
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn versions_are_kept_and_rollback_makes_an_old_one_current() {
    let env = Env::new();
    let fake = fake_agent();
    let fake = fake.to_str().unwrap();
    env.ok(&[
        "template",
        "add",
        "rev",
        "custom",
        "--description",
        "one",
        "--",
        "python3",
        fake,
    ]);
    env.ok(&[
        "template", "add", "rev", "custom", "--cols", "90", "--", "python3", fake,
    ]);
    let hist = json(&env.ok(&["--json", "template", "history", "rev"]));
    let versions: Vec<(u64, bool)> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, [(1, false), (2, true)]);
    assert_eq!(
        json(&env.ok(&["--json", "template", "show", "rev"]))["template"]["cols"],
        90
    );
    let v1 = json(&env.ok(&["--json", "template", "show", "rev@1"]));
    assert_eq!(v1["template"]["description"], "one");
    assert!(v1["template"].get("cols").is_none());

    let back = json(&env.ok(&["--json", "template", "rollback", "rev", "1"]));
    assert_eq!(
        (back["version"].as_u64(), back["current"].as_bool()),
        (Some(1), Some(true))
    );
    let ls = json(&env.ok(&["--json", "template", "ls"]));
    assert_eq!(ls.as_array().unwrap().len(), 1);
    assert_eq!(ls[0]["version"], 1);
    // Both versions are still there, and a start without a version takes the current one.
    assert_eq!(
        json(&env.ok(&["--json", "template", "history", "rev"]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let rec = json(&env.ok(&["--json", "start", "--template", "rev"]));
    assert_eq!(rec["cols"], 120, "version 1 has no cols: the default");
    let rec2 = json(&env.ok(&["--json", "start", "--template", "rev@2"]));
    assert_eq!(rec2["cols"], 90);
    env.ok(&[
        "stop",
        rec["session_id"].as_str().unwrap(),
        rec2["session_id"].as_str().unwrap(),
    ]);

    env.ok(&["template", "rm", "rev"]);
    assert_eq!(
        json(&env.ok(&["--json", "template", "ls"])),
        serde_json::json!([])
    );
}

#[test]
fn a_start_takes_the_template_with_the_callers_options_on_top_and_stores_no_secret() {
    let env = Env::new();
    let ws = tempfile::tempdir().unwrap();
    env.ok(&[
        "template",
        "add",
        "worker",
        "custom",
        "--env",
        "WORKER_SECRET",
        "--task-prefix",
        "PROJ-",
        "--session-name",
        "from-template",
        "--cwd",
        ws.path().to_str().unwrap(),
        // A test program that shows what it got (agents themselves run as argv).
        "--",
        "bash",
        "-c",
        "echo \"got=$WORKER_SECRET\"; exec cat",
    ]);
    // The variable is not set: the start is refused and no session is made.
    let err = env.fails(&["start", "--template", "worker"], 2);
    assert!(
        err.contains("WORKER_SECRET") && err.contains("--env"),
        "{err}"
    );
    assert_eq!(json(&env.ok(&["--json", "ls"])), serde_json::json!([]));

    let secret = "s3cr3t-value-7f1e";
    let out = env
        .command()
        .env("WORKER_SECRET", secret)
        .args([
            "--json",
            "start",
            "--template",
            "worker",
            "--task",
            "42",
            "--rows",
            "30",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = json(&String::from_utf8_lossy(&out.stdout));
    let id = rec["session_id"].as_str().unwrap();
    assert_eq!(rec["task_id"], "PROJ-42");
    assert_eq!(rec["name"], "from-template");
    assert_eq!(rec["rows"], 30, "the start's own option wins");
    assert_eq!(rec["cols"], 120);
    assert_eq!(rec["workspace_path"], ws.path().to_str().unwrap());
    assert_eq!(rec["env_keys"], serde_json::json!(["WORKER_SECRET"]));
    // The agent got the value; no file of the home but its own output holds it.
    env.wait_screen(id, &format!("got={secret}"));
    let mut stored = Vec::new();
    for entry in walk(env.home()) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("output") || name.starts_with("screen") {
            continue; // what the agent itself printed
        }
        stored.extend(std::fs::read(&entry).unwrap_or_default());
    }
    assert!(
        !String::from_utf8_lossy(&stored).contains(secret),
        "the secret was stored"
    );
    env.ok(&["stop", id]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn bad_templates_and_references_are_refused_with_what_to_do() {
    let env = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (&["template", "add", "x", "nosuch-agent"], "nosuch-agent"),
        (
            &["template", "add", "x", "custom", "--", "/no/such/program"],
            "not found",
        ),
        (
            &[
                "template", "add", "x", "custom", "--env", "K=V", "--", "sleep", "1",
            ],
            "names only",
        ),
        (
            &["template", "add", "../x", "custom", "--", "sleep", "1"],
            "not a template name",
        ),
        (
            &[
                "template",
                "add",
                "x",
                "custom",
                "--cwd",
                "/no/such/dir",
                "--",
                "sleep",
                "1",
            ],
            "not a folder",
        ),
        (&["template", "show", "nosuch"], "template ls"),
        (&["template", "show", "x@zero"], "version after @"),
        (&["template", "history", "nosuch"], "template ls"),
        (&["template", "rollback", "nosuch", "1"], "no version 1"),
        (&["template", "rm", "nosuch"], "no template named"),
        (&["start", "--template", "nosuch"], "no template named"),
    ];
    for (args, want) in cases {
        let err = env.fails(args, 2);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing was saved by the refusals; --force saves a template that fails its check.
    assert_eq!(
        json(&env.ok(&["--json", "template", "ls"])),
        serde_json::json!([])
    );
    env.ok(&[
        "template",
        "add",
        "x",
        "custom",
        "--force",
        "--",
        "/no/such/program",
    ]);
    let err = env.fails(&["template", "check", "x"], 2);
    assert!(err.contains("would not start"), "{err}");
    // Starting it fails as any missing program does: a clear error naming it.
    let err = env.fails(&["start", "--template", "x"], 1);
    assert!(err.contains("/no/such/program"), "{err}");
}

#[test]
fn templates_over_http_and_a_start_from_one() {
    use common::http::*;
    let env = Env::new();
    let srv = Server::start(&env);
    let fake = fake_agent();
    let t = serde_json::json!({"agent": "custom", "args": ["python3", fake.to_str().unwrap()],
                               "name": "from-http", "task_prefix": "H-"});
    let (status, v) = srv.post("/templates/web", t);
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["version"].as_u64()),
        (Some("web"), Some(1))
    );
    let (_, list) = srv.get("/templates");
    assert_eq!(list[0]["name"], "web");
    let (_, check) = srv.get("/templates/web@1/check");
    assert_eq!(check["ok"], true, "{check}");
    // The CLI sees the same template.
    let shown = json(&env.ok(&["--json", "template", "show", "web"]));
    assert_eq!(shown["template"], v["template"]);

    let (status, rec) = srv.post(
        "/sessions",
        serde_json::json!({"template": "web", "task_id": "7", "cwd": std::env::temp_dir()}),
    );
    assert_eq!(status, 201, "{rec}");
    assert_eq!(
        (rec["name"].as_str(), rec["task_id"].as_str()),
        (Some("from-http"), Some("H-7"))
    );
    env.ok(&["stop", rec["session_id"].as_str().unwrap()]);

    let bad = [
        (
            "/templates/web",
            serde_json::json!({"agent": "custom", "env": ["A=b"]}),
            "invalid_argument",
        ),
        (
            "/templates/web",
            serde_json::json!({"agent": "custom", "bogus": 1}),
            "invalid_json",
        ),
        (
            "/templates/web/rollback",
            serde_json::json!({"version": 9}),
            "invalid_argument",
        ),
        (
            "/sessions",
            serde_json::json!({"template": "nosuch"}),
            "invalid_argument",
        ),
        ("/sessions", serde_json::json!({"rows": 3}), "invalid_json"),
    ];
    for (path, body, want) in bad {
        let (status, err) = srv.post(path, body.clone());
        assert_eq!((status, kind(&err)), (400, want), "{path} {body}: {err}");
    }
    let (status, _) = srv.get("/templates/nosuch");
    assert_eq!(status, 400);
    // Still one version: the refusals saved nothing.
    let (_, hist) = srv.get("/templates/web/history");
    assert_eq!(hist.as_array().unwrap().len(), 1);
}

#[test]
fn a_template_has_its_own_status_hooks_and_its_sessions_name_it() {
    let env = Env::new();
    let fake = fake_agent();
    let fake = fake.to_str().unwrap();
    let log = env.home().join("hooked.txt");
    // One hook for the template's sessions (any version), one for version 2 only.
    let script = "import os, sys\n\
                  open(sys.argv[1], 'a').write(os.environ['AGENT_SESSIONS_ID'] + ' ' + os.environ['AGENT_SESSIONS_TEMPLATE'] + ' ' + sys.argv[2] + '\\n')\n";
    let q = |s: &str| serde_json::to_string(s).unwrap();
    let toml = format!(
        "[[on_state]]\nstates = [\"stopped\"]\ntemplate = \"rev\"\ncommand = [\"python3\", \"-c\", {s}, {l}, \"any\"]\n\n\
         [[on_state]]\nstates = [\"stopped\"]\ntemplate = \"rev@2\"\ncommand = [\"python3\", \"-c\", {s}, {l}, \"v2\"]\n",
        s = q(script),
        l = q(log.to_str().unwrap())
    );
    std::fs::write(env.home().join("hooks.toml"), toml).unwrap();
    for _ in 0..2 {
        env.ok(&["template", "add", "rev", "custom", "--", "python3", fake]);
    }
    let v1 = env.ok(&["start", "--template", "rev@1"]).trim().to_string();
    let v2 = env.ok(&["start", "--template", "rev"]).trim().to_string();
    let plain = env.start_fake(&[]);
    assert_eq!(env.record(&v1)["template"], "rev@1");
    assert_eq!(env.record(&v2)["template"], "rev@2");
    assert!(env.record(&plain).get("template").is_none());
    assert!(env.ok(&["show", &v2]).contains("rev@2"));
    // The plain session stops first: a hook it wrongly fired would be in before the others.
    for id in [&plain, &v1, &v2] {
        env.wait_state(id, "waiting_input");
        env.ok(&["stop", id]);
    }
    let lines = || {
        let mut l: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        l.sort();
        l
    };
    assert!(poll(|| lines().len() >= 3), "hooks ran: {:?}", lines());
    let mut want = vec![
        format!("{v1} rev@1 any"),
        format!("{v2} rev@2 any"),
        format!("{v2} rev@2 v2"),
    ];
    want.sort();
    assert_eq!(lines(), want, "the plain session fires no template hook");
}
