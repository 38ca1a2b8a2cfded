//! `agent-sessions mcp`: the sessions as MCP tools over stdio, for an orchestrating agent
//! that runs sub-agents. Built on the official Rust SDK (rmcp); each tool is one shared
//! operation ([`crate::ops`]), so a tool's arguments are the HTTP body of the same action
//! plus `session_id`, and its result is the same JSON (as text content). A failed operation
//! is a tool error (`isError: true`) whose text is `kind: message`, never a protocol error,
//! so the calling agent reads what went wrong and what to do.

use crate::error::{Result, ServerError};
use crate::ops::{self, Op};
use agent_sessions::SessionManager;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ServerHandler, ServiceExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// One tool: its name, the operation, whether it names a session, what it does, and the
/// properties of its arguments besides `session_id`.
struct ToolDef {
    name: &'static str,
    op: Op,
    on_session: bool,
    description: &'static str,
    properties: fn() -> Value,
    required: &'static [&'static str],
}

fn none() -> Value {
    json!({})
}

fn timeout() -> Value {
    json!({"timeout_secs": {"type": "number", "description": "give up after this many seconds"}})
}

const TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "start_session",
        op: Op::Start,
        on_session: false,
        description: "Start an agent CLI (claude, codex, gemini, opencode, or custom with the program in args) as a session, or start from a saved launch template (the other arguments override it); returns its record once the agent runs.",
        properties: || {
            json!({
                "agent": {"type": "string", "description": "agent type: claude, codex, gemini, opencode or custom (needed unless template is given)"},
                "template": {"type": "string", "description": "a launch template: NAME or NAME@VERSION"},
                "args": {"type": "array", "items": {"type": "string"}, "description": "arguments; for custom, the program and its arguments"},
                "cwd": {"type": "string", "description": "working folder (absolute)"},
                "task_id": {"type": "string"},
                "name": {"type": "string"},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "cols": {"type": "integer"},
                "rows": {"type": "integer"},
                "idle_after_secs": {"type": "number"},
                "policy": {"type": "string", "description": "path of an approval policy file"}
            })
        },
        required: &[],
    },
    ToolDef {
        name: "send",
        op: Op::Send,
        on_session: true,
        description: "Type text into the session's agent and press Enter (unless enter is false).",
        properties: || json!({"text": {"type": "string"}, "enter": {"type": "boolean", "default": true}}),
        required: &["text"],
    },
    ToolDef {
        name: "send_keys",
        op: Op::Keys,
        on_session: true,
        description: "Press named keys in the session (Enter, Esc, Up, Down, C-c, ...).",
        properties: || json!({"keys": {"type": "array", "items": {"type": "string"}}}),
        required: &["keys"],
    },
    ToolDef {
        name: "wait_for_state",
        op: Op::Wait,
        on_session: true,
        description: "Wait until the session is in a state (e.g. waiting_input once the agent's turn ended, or stopped); returns the record.",
        properties: || {
            json!({
                "state": {"type": "string", "description": "starting, running, waiting_input, stopping, stopped, failed, unknown, paused, suspended"},
                "states": {"type": "array", "items": {"type": "string"}, "description": "any of these"},
                "timeout_secs": {"type": "number", "description": "give up after this many seconds (default 600)"}
            })
        },
        required: &[],
    },
    ToolDef {
        name: "get_screen",
        op: Op::Screen,
        on_session: true,
        description: "The session's visible terminal screen as text.",
        properties: none,
        required: &[],
    },
    ToolDef {
        name: "get_session",
        op: Op::Get,
        on_session: true,
        description: "The session's record: state with reason and source, agent, task, times, exit.",
        properties: none,
        required: &[],
    },
    ToolDef {
        name: "list_sessions",
        op: Op::List,
        on_session: false,
        description: "Sessions, optionally only those in a state, of an agent type or of a task.",
        properties: || json!({"state": {"type": "string"}, "agent": {"type": "string"}, "task_id": {"type": "string"}}),
        required: &[],
    },
    ToolDef {
        name: "get_usage",
        op: Op::Usage,
        on_session: true,
        description: "Tokens and cost the session's agent reported.",
        properties: none,
        required: &[],
    },
    ToolDef {
        name: "get_pending",
        op: Op::Pending,
        on_session: true,
        description: "What a waiting session waits on (a permission or a question, with its options); null at the prompt.",
        properties: none,
        required: &[],
    },
    ToolDef {
        name: "interrupt",
        op: Op::Interrupt,
        on_session: true,
        description: "Interrupt the agent's current turn.",
        properties: none,
        required: &[],
    },
    ToolDef {
        name: "stop",
        op: Op::Stop,
        on_session: true,
        description: "Stop the session (the agent is asked to quit, then signalled); returns the ended record.",
        properties: || json!({"timeout_secs": {"type": "number"}, "force": {"type": "boolean"}}),
        required: &[],
    },
    ToolDef {
        name: "approve",
        op: Op::Approve,
        on_session: true,
        description: "Approve the permission request the agent waits on (always: for the rest of the session).",
        properties: || {
            let mut p = timeout();
            p["always"] = json!({"type": "boolean"});
            p
        },
        required: &[],
    },
    ToolDef {
        name: "deny",
        op: Op::Deny,
        on_session: true,
        description: "Deny the permission request the agent waits on, optionally telling it why.",
        properties: || {
            let mut p = timeout();
            p["message"] = json!({"type": "string"});
            p
        },
        required: &[],
    },
    ToolDef {
        name: "snapshot",
        op: Op::Snapshot,
        on_session: true,
        description: "Keep a point to come back to: the session's record, events, history, the agent's own conversation file and an archive of its workspace (.gitignore honoured); returns the snapshot with its snapshot_id.",
        properties: || {
            json!({
                "name": {"type": "string", "description": "a unique name to find it by"},
                "workspace": {"type": "boolean", "default": true, "description": "archive the workspace"},
                "max_workspace_bytes": {"type": "integer", "description": "refuse a bigger workspace (default 512 MiB)"},
                "keep": {"type": "integer", "description": "snapshots of this session kept (default 20; 0 keeps all)"}
            })
        },
        required: &[],
    },
    ToolDef {
        name: "restore",
        op: Op::Restore,
        on_session: false,
        description: "Start a new session from a snapshot: its workspace unpacked into cwd (a new or empty folder; default a new folder in the sessions home) and the agent resumed on the copied conversation where it allows; returns the new session's record (restored_from says whether it resumed, and why not).",
        properties: || {
            json!({
                "snapshot": {"type": "string", "description": "the snapshot's id or name"},
                "cwd": {"type": "string", "description": "where to unpack the workspace (absolute)"},
                "name": {"type": "string"},
                "env": {"type": "object", "additionalProperties": {"type": "string"}}
            })
        },
        required: &["snapshot"],
    },
];

fn schema(t: &ToolDef) -> JsonObject {
    let mut props = (t.properties)();
    let mut required: Vec<&str> = t.required.to_vec();
    if t.on_session {
        props["session_id"] = json!({"type": "string", "description": "the session's id"});
        required.insert(0, "session_id");
    }
    let v = json!({"type": "object", "properties": props, "required": required});
    match v {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

/// The MCP server: the tools over one session manager.
#[derive(Clone)]
pub struct SessionTools {
    mgr: Arc<SessionManager>,
}

impl SessionTools {
    /// Tools over `mgr`.
    pub fn new(mgr: Arc<SessionManager>) -> SessionTools {
        SessionTools { mgr }
    }

    /// Runs tool `name` with `args`: the result's JSON, or the error.
    pub async fn call(&self, name: &str, args: Option<JsonObject>) -> Result<Value> {
        let tool = TOOLS.iter().find(|t| t.name == name).ok_or_else(|| {
            ServerError::bad_request(format!(
                "no tool {name:?}; the tools are {}",
                TOOLS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let mut args = args.unwrap_or_default();
        let id = match (tool.on_session, args.remove("session_id")) {
            (true, Some(Value::String(id))) => id,
            (true, _) => {
                return Err(ServerError::bad_request(format!(
                    "{name} needs \"session_id\", a session's id (list_sessions shows them)"
                )))
            }
            (false, Some(_)) => {
                return Err(ServerError::bad_request(format!(
                    "{name} takes no \"session_id\""
                )))
            }
            (false, None) => String::new(),
        };
        let (mgr, op) = (self.mgr.clone(), tool.op);
        let args = Value::Object(args);
        match tokio::task::spawn_blocking(move || ops::run(&mgr, op, &id, &args)).await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Internal(e.to_string())),
        }
    }
}

impl ServerHandler for SessionTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new("agent-sessions", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        let tools = TOOLS
            .iter()
            .map(|t| Tool::new(t.name, t.description, schema(t)))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let result = match self.call(&request.name, request.arguments).await {
            Ok(v) => CallToolResult::success(vec![ContentBlock::text(v.to_string())]),
            Err(e) => {
                let (_, kind) = e.status_and_kind();
                CallToolResult::error(vec![ContentBlock::text(format!("{kind}: {e}"))])
            }
        };
        Ok(result.into())
    }
}

/// Serves the tools on stdin and stdout until the client closes them.
pub fn run_stdio(home: Option<PathBuf>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| ServerError::io("starting the runtime", e))?;
    rt.block_on(async move {
        let mgr = tokio::task::spawn_blocking(move || SessionManager::open(home.as_deref()))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))??;
        let service = SessionTools::new(Arc::new(mgr))
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| ServerError::Config(format!("the MCP client did not initialize: {e}")))?;
        service
            .waiting()
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        Ok(())
    })
}
