//! `agent-sessions agents`: the agent types (built-in, defined through the API, and from
//! `<home>/agents.toml`) with whether their binary is found.

use crate::output::print_json;
use agent_sessions::agents::{resolve_program, shell_words, AgentOrigin, AgentSpec};
use agent_sessions::{Result, SessionManager};

/// The binary a session of type `a` would run: the override variable when set, else the
/// name.
fn program(a: &AgentSpec) -> Option<String> {
    let bin = a.binary.clone()?;
    Some(
        a.binary_env
            .as_deref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|v| !v.is_empty())
            .unwrap_or(bin),
    )
}

pub fn agents(mgr: &SessionManager, json: bool) -> Result<()> {
    let all = mgr.agents()?;
    if json {
        let v: Vec<_> = all
            .iter()
            .map(|a| {
                let prog = program(a);
                serde_json::json!({
                    "name": a.name,
                    "source": a.origin.describe(),
                    "binary": a.binary,
                    "binary_env": a.binary_env,
                    "default_args": a.default_args,
                    "found": prog.as_deref().map(|b| resolve_program(b).is_some()),
                    "screen_detection": a.rules.is_some(),
                    "screen_rules": a.rules,
                    "quit": a.quit.iter().map(|q| String::from_utf8_lossy(q).into_owned()).collect::<Vec<_>>(),
                    "interrupt": String::from_utf8_lossy(&a.interrupt),
                    "interrupt_presses": a.interrupt_presses,
                    "description": a.description,
                })
            })
            .collect();
        print_json(&v);
        return Ok(());
    }
    for a in &all {
        let found = match program(a) {
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
