//! `agent-sessions agents`: the agent types (built-in, defined through the API, and from
//! `<home>/agents.toml`) with whether their binary is found.

use crate::output::print_json;
use agent_sessions::agents::{resolve_program, shell_words, AgentOrigin, AgentSpec};
use agent_sessions::{Result, SessionManager};

pub fn agents(mgr: &SessionManager, json: bool) -> Result<()> {
    let all = mgr.agents()?;
    if json {
        let v: Vec<_> = all.iter().map(AgentSpec::info).collect();
        print_json(&v);
        return Ok(());
    }
    for a in &all {
        let found = match a.program() {
            Some(b) if resolve_program(&b).is_some() => "found",
            Some(_) => "not on PATH",
            None => "",
        };
        let source = match a.origin {
            AgentOrigin::Builtin => "builtin".to_string(),
            _ => a.origin.describe(),
        };
        let mut desc = a.description.clone();
        if a.origin != AgentOrigin::Builtin {
            if let Some(b) = &a.binary {
                let mut argv = vec![b.clone()];
                argv.extend(a.default_args.iter().cloned());
                desc = format!("{desc} [{}]", shell_words(&argv));
            }
        }
        println!(
            "{:<10} {:<12} {:<8} {}",
            a.name,
            found,
            source_label(&source),
            desc
        );
    }
    Ok(())
}

/// `builtin`, or `file` / `api` for user-defined types.
fn source_label(source: &str) -> &str {
    match source {
        "builtin" | "api" => source,
        _ => "file",
    }
}
