//! opencode's plugin: a config folder of ours, named only in one `opencode` process's
//! environment (`OPENCODE_CONFIG_DIR`), holding a plugin that relays its bus events.
//!
//! opencode 1.18 has no command hooks, but it loads `plugin/*.js` from every config folder,
//! and `OPENCODE_CONFIG_DIR` adds one for that process only (the user's own config and
//! plugins still load). The plugin's `event` hook gets every bus event; it runs our binary
//! (`__hook <event>`, fixed argv, no shell) with the event's JSON for the few that say what
//! the agent does: `session.status` busy/idle (`session-busy`, `session-idle`),
//! `permission.asked` (its permission dialog) and `question.asked` (its question dialog).
//! With `OPENCODE_CONFIG_DIR` already in the session's environment, the user's folder stays
//! and no plugin of ours is added (the screen alone decides then).

use super::files::private_file;
use std::path::Path;

/// (opencode bus event, our event argument).
pub const EVENTS: [(&str, &str); 5] = [
    ("session.status busy", "session-busy"),
    ("session.status idle", "session-idle"),
    ("permission.asked", "permission-asked"),
    ("permission.replied", "permission-replied"),
    ("question.asked", "question-asked"),
];

/// The environment variable naming an extra opencode config folder.
pub const CONFIG_DIR_ENV: &str = "OPENCODE_CONFIG_DIR";

/// The plugin's source: relays the events above to `host_bin __hook <event>`.
pub fn plugin_source(host_bin: &Path) -> String {
    // A JSON string is a valid JavaScript string literal.
    let bin = serde_json::to_string(&host_bin.display().to_string()).expect("a string");
    format!(
        r#"// Written by agent-sessions for the sessions it starts; safe to delete.
import {{ spawn }} from "node:child_process";

const BIN = {bin};

// Runs `BIN __hook <event>` with the payload on stdin; resolves to what it printed.
function run(event, payload) {{
  return new Promise((resolve) => {{
    try {{
      const child = spawn(BIN, ["__hook", event], {{ stdio: ["pipe", "pipe", "ignore"] }});
      let out = "";
      child.stdout.on("data", (b) => (out += b));
      child.on("error", () => resolve(""));
      child.on("close", () => resolve(out));
      child.stdin.on("error", () => {{}});
      child.stdin.end(JSON.stringify(payload));
    }} catch (_) {{
      resolve("");
    }}
  }});
}}

// Status events are relayed one after another, in order: busy then idle must never arrive
// as idle then busy. (Each relay is a process; two started at once can finish either way.)
let chain = Promise.resolve();
function relay(event, payload) {{
  chain = chain.then(() => run(event, payload));
  return chain;
}}

// The session's policy or its user decides a permission: our hook prints the reply, and
// it goes back through opencode's own API. Not awaited, so events keep flowing meanwhile.
async function decide(client, p, payload) {{
  // Queued behind the status relays, but it may then wait minutes for a decision: it does
  // not hold up the ones after it.
  await chain;
  const out = await run("permission-asked", payload);
  let d = null;
  try {{ d = JSON.parse(out); }} catch (_) {{}}
  if (!d || !d.reply) return;
  try {{
    await client.postSessionIdPermissionsPermissionId({{
      path: {{ id: p.sessionID, permissionID: p.id }},
      body: {{ response: d.reply }},
    }});
  }} catch (_) {{}}
}}

// Sessions that said busy and have not said idle since.
const busy = new Set();

export const AgentSessions = async ({{ client }}) => ({{
  event: async ({{ event }}) => {{
    const p = (event && event.properties) || {{}};
    const session_id = p.sessionID;
    switch (event && event.type) {{
      case "session.status": {{
        const t = p.status && p.status.type;
        if (t === "busy") {{
          busy.add(session_id);
          relay("session-busy", {{ session_id }});
        }} else if (t === "idle" && busy.delete(session_id)) {{
          // Only the end of a busy spell: a session opencode just created for the first
          // prompt says idle before it says busy.
          relay("session-idle", {{ session_id }});
        }}
        break;
      }}
      case "permission.asked": {{
        const m = p.metadata || {{}};
        decide(client, p, {{
          session_id,
          request_id: p.id,
          tool_name: p.permission,
          tool_input: {{ command: m.command, path: m.filepath, patterns: p.patterns, metadata: m }},
        }});
        break;
      }}
      case "permission.replied":
        relay("permission-replied", {{ session_id, request_id: p.requestID, reason: p.reply }});
        break;
      case "question.asked":
        relay("question-asked", {{ session_id, tool_name: "question", tool_input: {{ questions: p.questions }} }});
        break;
    }}
  }},
}});
"#
    )
}

/// Writes our config folder with the plugin and returns the environment naming it; nothing
/// when the session's environment names a config folder of its own, or no private place is
/// writable.
pub fn launch_env(
    home_root: &Path,
    user_env: &[(String, String)],
    host_bin: &Path,
) -> Vec<(String, String)> {
    if user_env.iter().any(|(k, _)| k == CONFIG_DIR_ENV)
        || std::env::var_os(CONFIG_DIR_ENV).is_some_and(|v| !v.is_empty())
    {
        return Vec::new();
    }
    let source = plugin_source(host_bin);
    match private_file(home_root, "opencode", "plugin/agent-sessions.js", &source) {
        Some(file) => {
            // …/opencode-<hash>/plugin/agent-sessions.js → …/opencode-<hash>
            let dir = file.parent().and_then(Path::parent).expect("two levels up");
            vec![(CONFIG_DIR_ENV.to_string(), dir.display().to_string())]
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_names_our_binary_as_a_string() {
        let s = plugin_source(Path::new("/opt/it's \"here\"/agent-sessions"));
        assert!(s.contains(r#"const BIN = "/opt/it's \"here\"/agent-sessions";"#));
        for (_, arg) in EVENTS {
            assert!(s.contains(&format!("\"{arg}\"")), "{arg}");
        }
    }

    #[test]
    fn the_users_own_config_folder_wins() {
        let env = [(CONFIG_DIR_ENV.to_string(), "/mine".to_string())];
        assert!(launch_env(Path::new("/nonexistent"), &env, Path::new("/b")).is_empty());
    }
}
