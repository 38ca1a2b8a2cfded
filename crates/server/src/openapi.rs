//! The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json` and committed as
//! `docs/openapi.json` (the test command fails when the two differ, as for the C header;
//! `AGENT_SESSIONS_UPDATE_OPENAPI=1 cargo test -p agent-sessions-server openapi` rewrites it).
//!
//! Written from one table of the routes rather than derived from the handlers' types: the
//! bodies are the core's JSON shapes (records, reports, the C ABI's option objects), which
//! are documented once in docs/ and in the core's rustdoc; here each route says what it takes
//! and what it answers. The server's tests request every route of the table on a live
//! server, so a documented route that does not exist fails them.

use serde_json::{json, Map, Value};

/// One documented route.
pub struct RouteDoc {
    /// `get`, `post` or `delete`.
    pub method: &'static str,
    /// The path, with `{id}` for a session or task id.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The request body's shape, when it takes one.
    pub body: Option<&'static str>,
    /// What a success answers.
    pub answers: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    answers: &'static str,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        body,
        answers,
    }
}

const RECORD: &str = "the session's record (`show --json`)";
const BUDGET: &str = "`{scope, id, budget, spent: {usd, tokens, estimated}, assessment: {level, share}}` (`budget --json`)";
const BUDGET_BODY: &str =
    "`{usd, tokens, on_budget: warn|interrupt|suspend|stop}` (a limit at least; `stop` by default)";

/// Every route but `/openapi.json` itself.
pub const ROUTES: &[RouteDoc] = &[
    r("get", "/health", "The server runs; needs no token.", None, "`{ok, version}`"),
    r("get", "/sessions", "Sessions; query `state`, `agent`, `task_id` filter.", None, "an array of records (`ls --json`); `X-Feed-Head`: the newest event id when it was read (open `/events?since=` it to miss nothing)"),
    r("post", "/sessions", "Start a session.", Some("start options: `{agent, template, args, cwd, task_id, name, env, cols, rows, idle_after_secs, max_log_bytes, policy, budget, worktree}` (as `as_manager_start`; `worktree` is `true`, a branch name or `{branch, root}`; `template` is `NAME[@VERSION]`, and the other fields override it)"), "201 and the record once the agent runs"),
    r("get", "/sessions/{id}", "One session.", None, RECORD),
    r("delete", "/sessions/{id}", "Remove an ended session's record and files, and its git worktree; query `force=true` removes a worktree that holds uncommitted changes or unmerged commits (refused otherwise, 400 with the reason).", None, "`{ok, removed}`"),
    r("get", "/sessions/{id}/state", "State, reason and source.", None, "`{session_id, state, state_reason, state_source}`"),
    r("get", "/sessions/{id}/screen", "The visible screen.", None, "`{text, cols, rows, cursor_row, cursor_col}`"),
    r("get", "/sessions/{id}/pending", "What a waiting session waits on.", None, "`{kind, tool, input, options, source, since}` or `null`"),
    r("get", "/sessions/{id}/output", "Output log bytes; query `offset`, `max`.", None, "the bytes (application/octet-stream), `X-Next-Offset`"),
    r("get", "/sessions/{id}/history", "A page of the conversation; query `offset`, `limit`.", None, "`{session_id, source, offset, messages, next_offset}`"),
    r("get", "/sessions/{id}/usage", "Tokens and cost.", None, "the usage report (`usage --json`)"),
    r("get", "/sessions/{id}/telemetry", "Resources, workspace and tokens.", None, "the telemetry report (`telemetry --json`)"),
    r("get", "/sessions/{id}/events", "A page of events; query `since`, `limit`, `kind`. With `Accept: text/event-stream`, the live stream.", None, "an array of events (`events --json`)"),
    r("get", "/sessions/{id}/events/stream", "Live events (SSE); `Last-Event-ID` or query `since` resumes, `kind` filters.", None, "text/event-stream: `id` seq, `event` kind, `data` the event; `end` when the session has ended"),
    r("get", "/sessions/{id}/terminal", "The terminal over a WebSocket; query `read_only`, `cols`, `rows`.", None, "101: binary output (the replay first), text `{type: exit|error}`; send binary keys or text `{type: input|resize}`"),
    r("post", "/sessions/{id}/send", "Type text (and Enter).", Some("`{text, enter = true}`"), "`{ok, session_id}`"),
    r("post", "/sessions/{id}/keys", "Press named keys.", Some("`{keys: [\"Enter\", \"C-c\", ...]}`"), "`{ok, session_id}`"),
    r("post", "/sessions/{id}/interrupt", "Interrupt the agent's turn.", None, "`{ok, session_id}`"),
    r("post", "/sessions/{id}/stop", "Stop the session.", Some("`{timeout_secs, force}`"), "the ended record"),
    r("post", "/sessions/{id}/wait", "Wait for a state; 504 on the timeout, 409 when it can never come.", Some("`{state | states, timeout_secs}`"), RECORD),
    r("post", "/sessions/{id}/pause", "Freeze the agent's tree.", None, RECORD),
    r("post", "/sessions/{id}/continue", "Let a paused agent go on.", None, RECORD),
    r("post", "/sessions/{id}/suspend", "Stop the agent, keeping its conversation to resume.", Some("`{timeout_secs}`"), RECORD),
    r("post", "/sessions/{id}/resume", "Resume a suspended or ended session on its conversation.", Some("resume options: `{args, env, agent_session_id}` (as `as_session_resume`)"), RECORD),
    r("post", "/sessions/{id}/approve", "Approve the pending permission request.", Some("`{always, timeout_secs}`"), RECORD),
    r("post", "/sessions/{id}/deny", "Deny the pending permission request.", Some("`{message, timeout_secs}`"), RECORD),
    r("post", "/sessions/{id}/answer", "Answer the pending question.", Some("`{choices: [...], timeout_secs}`"), RECORD),
    r("get", "/sessions/{id}/agentapi/status", "agentapi: `stable` (waiting or ended) or `running`.", None, "`{status, agent_type}`"),
    r("get", "/sessions/{id}/agentapi/messages", "agentapi: the conversation.", None, "`{messages: [{id, role: user|agent, content, time}]}`"),
    r("post", "/sessions/{id}/agentapi/message", "agentapi: a user message (409 unless stable) or raw keys.", Some("`{type: user|raw, content}`"), "`{ok}`"),
    r("get", "/sessions/{id}/agentapi/events", "agentapi: `status_change` and `message_update` (SSE).", None, "text/event-stream"),
    r("get", "/events", "A page of every session's events in commit order; query `since` (a feed id), `limit`, `session`, `task`, `kind` (comma-separated lists). With `Accept: text/event-stream`, the live stream.", None, "`{events: [event with its feed `id`], next}`: pass `next` as `since`"),
    r("get", "/events/stream", "Every session's live events (SSE); `Last-Event-ID` or query `since` resumes (without either: from now), `session`, `task`, `kind` filter.", None, "text/event-stream: `id` the feed id, `event` kind, `data` the event with `id`"),
    r("get", "/tasks", "Tasks with their sessions' totals.", None, "an array (`tasks --json`)"),
    r("get", "/tasks/{id}", "One task.", None, "the task (`tasks show --json`)"),
    r("get", "/agents", "Agent types.", None, "an array (`agents --json`)"),
    r("get", "/sessions/{id}/samples", "Resource samples for charts; query `since_ms`, `limit`.", None, "an array of samples `{at_ms, cpu_percent, memory_rss_bytes, memory_vsz_bytes, io_read_bytes, io_write_bytes, process_count, workspace_bytes_used}`, oldest first"),
    r("get", "/sessions/{id}/usage/series", "A session's token and cost totals over time (a point per change: each turn's end, each budget look, the end; while it runs, the last point is the figures now); query `since_ms`, `limit`.", None, "an array of `{at_ms, tokens_input, tokens_output, tokens_cache_read, tokens_cache_write, total_tokens, cost_usd, cost_estimated}`, oldest first (`usage ID --series --json`)"),
    r("get", "/usage/report", "Tokens and cost of every session summed; query `by` (`day`, `agent`, `task`), `format` (`json`, `csv`).", None, "`{by, rows: [{key, sessions, tokens_input, tokens_output, tokens_cache_read, tokens_cache_write, total_tokens, cost_usd, estimated}], totals}`, or text/csv"),
    r("get", "/sessions/{id}/budget", "A session's cost budget and what it has spent.", None, BUDGET),
    r("post", "/sessions/{id}/budget", "Set a session's budget; its host looks at once (an exceeded budget acts now).", Some(BUDGET_BODY), BUDGET),
    r("delete", "/sessions/{id}/budget", "Remove a session's budget.", None, BUDGET),
    r("get", "/tasks/{id}/budget", "A task's budget and what all of its sessions have spent.", None, BUDGET),
    r("post", "/tasks/{id}/budget", "Set a task's budget (all of its sessions, also later ones; may precede the first).", Some(BUDGET_BODY), BUDGET),
    r("delete", "/tasks/{id}/budget", "Remove a task's budget.", None, BUDGET),
    r("post", "/sessions/{id}/snapshots", "Take a snapshot: the record, events, history, the agent's own conversation file and an archive of the workspace (tracked and untracked files, .gitignore honoured).", Some("`{name, workspace (default true), max_workspace_bytes (default 512 MiB), keep (per session, default 20; 0 keeps all)}`, all optional"), "201 and the snapshot `{snapshot_id, name, session_id, agent_type, created_at, state, workspace_path, workspace, conversation, conversation_note, events, messages, bytes, path}`"),
    r("get", "/snapshots", "Snapshots, oldest first; query `session` for one session's.", None, "an array of snapshots (`snapshot ls --json`)"),
    r("get", "/snapshots/{id}", "One snapshot, by id or name.", None, "the snapshot; 404 when there is none"),
    r("delete", "/snapshots/{id}", "Remove a snapshot and its files.", None, "the snapshot removed"),
    r("post", "/snapshots/prune", "Remove snapshots by count per session and/or age.", Some("`{keep, older_than_secs, session_id, dry_run}`; `keep` or `older_than_secs` required"), "an array of the snapshots removed (or, with `dry_run`, that would be)"),
    r("post", "/snapshots/{id}/restore", "Start a new session from a snapshot: the workspace unpacked into `cwd` (new or empty; default a new folder in the home), the agent resumed on the copied conversation where it allows; `restored_from` in the record says whether, and why not.", Some("`{cwd, name, env: {NAME: value}}`, all optional"), "201 and the new session's record"),
    r("get", "/templates", "Launch templates (their current versions).", None, "an array of `{name, version, created_at, current, template}` (`template ls --json`)"),
    r("get", "/templates/{id}", "One template: `NAME` or `NAME@VERSION`.", None, "`{name, version, created_at, current, template}`"),
    r("post", "/templates/{id}", "Save a new version (checked first unless `?force=true`); start from it with `POST /sessions {template}`.", Some("the template: `{agent, args, env: [NAME...], cwd, task_prefix, name, cols, rows, idle_after_secs, debounce_secs, no_hooks, max_log_bytes, policy, budget, description}`"), "201 and the version saved"),
    r("delete", "/templates/{id}", "Remove a template with every version.", None, "`{ok, removed}`"),
    r("get", "/templates/{id}/history", "Every version of a template.", None, "an array, oldest first"),
    r("post", "/templates/{id}/rollback", "Make an earlier version current again.", Some("`{version}`"), "the version now current"),
    r("get", "/templates/{id}/check", "Would the template start? (agent known, binary found and answering --version, paths, options).", None, "`{template, version, ok, problems}`"),
    r("get", "/", "The dashboard (needs no token; its data comes from the API).", None, "text/html"),
    r("get", "/auth/me", "Is this request signed in (cookie or token)?", None, "`{ok}` or 401"),
    r("post", "/auth/login", "Sign a browser in with the token: sets an HttpOnly, SameSite=Strict cookie the API then takes.", Some("`{token}`"), "`{ok}` and `Set-Cookie`; 401 for a wrong token"),
    r("get", "/auth/link", "The one-time sign-in link `serve` prints (`login_url`); query `code`.", None, "303 to `/` with `Set-Cookie`; 401 once used or expired"),
    r("post", "/auth/logout", "Sign this browser out.", None, "`{ok}` and a cleared cookie"),
    r("post", "/mcp", "The MCP tools over MCP's streamable HTTP (the same tools as `agent-sessions mcp`).", Some("JSON-RPC messages of MCP (`initialize`, `tools/list`, `tools/call`, ...)"), "JSON-RPC answers, as JSON or text/event-stream; `Mcp-Session-Id` names the MCP session"),
];

/// The document, as JSON.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": route.summary,
            "responses": {
                "200": {"description": route.answers},
                "default": {
                    "description": "an error: `{\"error\": {\"kind\", \"message\"}}` with 400 bad input, 401 no or wrong token, 403 a foreign Origin or Host, 404 no such session or route, 409 wrong state, 413 body too large, 422 launch failed, 503 store busy, 504 wait timed out, 507 disk full",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            }
        });
        if route.path.contains("{id}") {
            op["parameters"] = json!([{
                "name": "id", "in": "path", "required": true,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}
            }]);
        }
        if route.path == "/health" {
            op["security"] = json!([]);
        }
        if let Some(body) = route.body {
            op["requestBody"] = json!({
                "description": body,
                "content": {"application/json": {"schema": {"type": "object"}}}
            });
        }
        entry[route.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "agent-sessions",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "AI coding-agent CLIs as managed sessions. Bodies and answers are the CLI's `--json` shapes."
        },
        "servers": [{"url": "http://127.0.0.1:7420"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "the token in <home>/server.token"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["kind", "message"],
                    "properties": {"kind": {"type": "string"}, "message": {"type": "string"}}
                }}
            }}
        },
        "paths": paths
    })
}

/// The document as the committed file holds it: pretty JSON and a newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// With `AGENT_SESSIONS_UPDATE_OPENAPI=1` it writes the file instead of checking it.
    #[test]
    fn the_committed_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let now = super::document_text();
        if std::env::var_os("AGENT_SESSIONS_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &now).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == now,
            "docs/openapi.json is stale: run `AGENT_SESSIONS_UPDATE_OPENAPI=1 cargo test -p agent-sessions-server openapi` and commit it"
        );
    }
}
