//! Codex's hooks: declared for one `codex` process with `-c hooks={...}`.
//!
//! Codex 0.171 reads hooks from every config layer, including the `-c` session-flags layer,
//! so nothing is written to the user's `config.toml` or `hooks.json` and the user's own hooks
//! still run beside ours. A hook that is not managed by an administrator runs only when its
//! trust hash is recorded in `hooks.state`; otherwise the TUI stops at a "Hooks need review"
//! screen (trusting there would write into the user's config). So the same `-c` value carries
//! `state` with each of our hooks' hashes, computed the way Codex computes them: `sha256:` and
//! the SHA-256 of the compact JSON, keys sorted, of `{"event_name": <label>, "hooks":
//! [{"async": false, "command": <cmd>, "timeout": <secs>, "type": "command"}]}`, keyed
//! `"/<session-flags>/config.toml:<label>:0:0"` (verified against the real 0.171: no review
//! screen, every hook ran). Codex clamps the Interrupt and SessionEnd timeouts to 3 s and
//! hashes the clamped value, so we give 3 s there.
//!
//! Hooks inherit the TUI's environment (checked with the default shared background server),
//! which is how the hook finds its session (`AGENT_SESSIONS_SESSION_ID`).
//!
//! The user keeps control: with their own `-c hooks...` on the command line ours are left
//! out (the two would replace each other), and `--no-hooks` leaves them out too.

use super::{hook_command, HOOK_TIMEOUT_SECS};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;

/// (Codex hook event, its label in trust keys, our event argument, timeout in seconds).
pub const EVENTS: [(&str, &str); 7] = [
    ("SessionStart", "session-start"),
    ("UserPromptSubmit", "user-prompt-submit"),
    ("PermissionRequest", "permission-request"),
    ("PostToolUse", "post-tool-use"),
    ("Stop", "stop"),
    ("Interrupt", "interrupt"),
    ("SessionEnd", "session-end"),
];

/// Where `-c` hooks live for Codex's trust keys.
const SESSION_FLAGS_SOURCE: &str = "/<session-flags>/config.toml";

/// The label Codex uses for an event in trust keys (`session_start`, ...).
fn label(arg: &str) -> String {
    arg.replace('-', "_")
}

/// Codex gives these events at most 3 s.
fn timeout_for(event: &str) -> u64 {
    match event {
        "Interrupt" | "SessionEnd" => 3,
        _ => HOOK_TIMEOUT_SECS,
    }
}

/// Codex's trust hash of one command hook.
pub fn trust_hash(label: &str, command: &str, timeout: u64) -> String {
    // Keys in sorted order, so the JSON is canonical whether or not serde_json keeps
    // insertion order.
    let ident = json!({
        "event_name": label,
        "hooks": [{"async": false, "command": command, "timeout": timeout, "type": "command"}],
    });
    let digest = Sha256::digest(ident.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A TOML string literal (basic string, escaped by the toml crate).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `hooks={...}` override declaring our hooks and their trust.
pub fn hooks_override(host_bin: &Path) -> String {
    let mut groups = Vec::new();
    let mut state = Vec::new();
    for (event, arg) in EVENTS {
        let cmd = hook_command(host_bin, arg);
        let t = timeout_for(event);
        groups.push(format!(
            "{event}=[{{hooks=[{{type=\"command\",command={},timeout={t}}}]}}]",
            toml_str(&cmd)
        ));
        let key = format!("{SESSION_FLAGS_SOURCE}:{}:0:0", label(arg));
        state.push(format!(
            "{}={{trusted_hash={}}}",
            toml_str(&key),
            toml_str(&trust_hash(&label(arg), &cmd, t))
        ));
    }
    format!(
        "hooks={{{},state={{{}}}}}",
        groups.join(","),
        state.join(",")
    )
}

/// `-c hooks={...}` for a Codex session, or nothing when the user overrides `hooks` on the
/// command line themselves.
pub fn launch_args(user_args: &[String], host_bin: &Path) -> Vec<String> {
    let users_own = user_args
        .windows(2)
        .any(|w| (w[0] == "-c" || w[0] == "--config") && w[1].trim_start().starts_with("hooks"))
        || user_args.iter().any(|a| {
            a.strip_prefix("--config=")
                .is_some_and(|v| v.starts_with("hooks"))
        });
    if users_own {
        return Vec::new();
    }
    vec!["-c".into(), hooks_override(host_bin)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_codex() {
        // Computed by Codex's rule in Python (json.dumps sort_keys, compact) for a hook the
        // real Codex 0.171 ran without a review screen.
        assert_eq!(
            trust_hash(
                "session_start",
                "/b/agent-sessions __hook session-start",
                10
            ),
            "sha256:".to_string() + &python_reference()
        );
    }

    /// sha256 of `{"event_name":"session_start","hooks":[{"async":false,"command":"/b/agent-sessions __hook session-start","timeout":10,"type":"command"}]}`.
    fn python_reference() -> String {
        let s = r#"{"event_name":"session_start","hooks":[{"async":false,"command":"/b/agent-sessions __hook session-start","timeout":10,"type":"command"}]}"#;
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_override_is_one_toml_table_with_trust_for_each_hook() {
        let o = hooks_override(Path::new("/opt/my \"tools\"/agent-sessions"));
        let v: toml::Table = toml::from_str(&o).expect("valid TOML");
        let hooks = v["hooks"].as_table().unwrap();
        for (event, arg) in EVENTS {
            let h = &hooks[event].as_array().unwrap()[0]["hooks"]
                .as_array()
                .unwrap()[0];
            let cmd = h["command"].as_str().unwrap();
            assert_eq!(
                cmd,
                format!("'/opt/my \"tools\"/agent-sessions' __hook {arg}")
            );
            let t = h["timeout"].as_integer().unwrap() as u64;
            let key = format!("/<session-flags>/config.toml:{}:0:0", label(arg));
            let hash = hooks["state"][&key]["trusted_hash"].as_str().unwrap();
            assert_eq!(hash, trust_hash(&label(arg), cmd, t));
        }
        assert_eq!(timeout_for("Interrupt"), 3);
    }

    #[test]
    fn the_users_own_hooks_override_wins() {
        let bin = Path::new("/b/agent-sessions");
        assert_eq!(launch_args(&[], bin).len(), 2);
        let own = ["-c".to_string(), "hooks={}".to_string()];
        assert!(launch_args(&own, bin).is_empty());
        assert!(launch_args(&["--config=hooks.x=1".into()], bin).is_empty());
        let other = ["-c".to_string(), "model=\"x\"".to_string()];
        assert_eq!(launch_args(&other, bin).len(), 2);
    }
}
