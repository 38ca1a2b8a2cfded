//! Launch templates (see [`crate::model::template`]): saving versions, listing, rollback,
//! checking a template before use, and starting from one with the caller's options on top.

use super::start::{DetectOptions, StartOptions};
use super::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::record::SessionRecord;
use crate::model::template::{parse_ref, validate_name, Template, TemplateVersion};
use std::path::Path;
use std::time::Duration;

/// What `template check` found: `ok` when `problems` is empty.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TemplateCheck {
    /// The template's name.
    pub template: String,
    /// The version checked.
    pub version: u32,
    /// Nothing would stop it from starting.
    pub ok: bool,
    /// What would, each as a sentence.
    pub problems: Vec<String>,
}

/// How long `template check` lets an agent answer its version flag.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

fn not_found(name: &str, version: Option<u32>) -> Error {
    match version {
        Some(v) => Error::InvalidArgument(format!(
            "template {name} has no version {v}: `agent-sessions template history {name}` lists its versions"
        )),
        None => Error::InvalidArgument(format!(
            "no template named {name}: `agent-sessions template ls` lists them"
        )),
    }
}

impl SessionManager {
    /// Saves `t` as the next version of `name` and makes it current. Unless `force`, the
    /// template must pass [`SessionManager::check_template`] first.
    pub fn save_template(&self, name: &str, t: &Template, force: bool) -> Result<TemplateVersion> {
        validate_name(name)?;
        if !force {
            let problems = self.check_template(t)?;
            if !problems.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "template {name} was not saved: {}; fix it, or save it anyway with --force",
                    problems.join("; ")
                )));
            }
        }
        self.with_store(|s| s.save_template(name, t))
    }

    /// A template by `NAME` (its current version) or `NAME@VERSION`.
    pub fn template(&self, spec: &str) -> Result<TemplateVersion> {
        let (name, version) = parse_ref(spec)?;
        self.with_store(|s| s.template(&name, version))?
            .ok_or_else(|| not_found(&name, version))
    }

    /// The current version of every template, by name.
    pub fn templates(&self) -> Result<Vec<TemplateVersion>> {
        self.with_store(|s| s.templates())
    }

    /// Every version of a template, oldest first.
    pub fn template_history(&self, name: &str) -> Result<Vec<TemplateVersion>> {
        validate_name(name)?;
        let all = self.with_store(|s| s.template_history(name))?;
        if all.is_empty() {
            return Err(not_found(name, None));
        }
        Ok(all)
    }

    /// Makes an older (or newer) version current again; the versions themselves stay.
    pub fn rollback_template(&self, name: &str, version: u32) -> Result<TemplateVersion> {
        validate_name(name)?;
        if !self.with_store(|s| s.set_current_template(name, version))? {
            return Err(not_found(name, Some(version)));
        }
        self.template(name)
    }

    /// Deletes a template with every version.
    pub fn remove_template(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        if self.with_store(|s| s.remove_template(name))? {
            Ok(())
        } else {
            Err(not_found(name, None))
        }
    }

    /// What would stop `t` from starting, each as a sentence (empty: it is fine): the agent
    /// type is known, its binary is found and answers its version flag, the folder and the
    /// policy file exist and parse, the numbers are in range.
    pub fn check_template(&self, t: &Template) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let agents = self.agents()?;
        match agents.iter().find(|a| a.name == t.agent) {
            None => problems.push(format!(
                "agent type {:?} is unknown (`agent-sessions agents` lists them)",
                t.agent
            )),
            Some(spec) => {
                let program = spec.program().or_else(|| t.args.first().cloned());
                match program {
                    None => problems.push("a custom template needs the program in args".into()),
                    Some(p) => match crate::config::agents::resolve_program(&p) {
                        None => problems.push(format!("{p} is not found on PATH")),
                        Some(bin) => {
                            if let Err(why) = answers_version(&bin) {
                                problems.push(format!("{} --version {why}", bin.display()));
                            }
                        }
                    },
                }
            }
        }
        if let Some(cwd) = &t.cwd {
            let p = Path::new(cwd);
            if !p.is_absolute() {
                problems.push(format!("cwd {cwd} is not an absolute path"));
            } else if !p.is_dir() {
                problems.push(format!("cwd {cwd} is not a folder"));
            }
        }
        if let Some(policy) = &t.policy {
            if let Err(e) = crate::config::policy_file::load(Path::new(policy)) {
                problems.push(format!("policy: {e}"));
            }
        }
        for (what, v) in [
            ("idle_after_secs", t.idle_after_secs),
            ("debounce_secs", t.debounce_secs),
        ] {
            if let Err(e) = crate::model::duration::optional_secs(v, what) {
                problems.push(e.to_string());
            }
        }
        if t.cols == Some(0) || t.rows == Some(0) {
            problems.push("cols and rows must be at least 1".into());
        }
        Ok(problems)
    }

    /// [`SessionManager::check_template`] of a saved template (`NAME` or `NAME@VERSION`),
    /// as every front door reports it.
    pub fn check_saved_template(&self, spec: &str) -> Result<TemplateCheck> {
        let v = self.template(spec)?;
        let problems = self.check_template(&v.template)?;
        Ok(TemplateCheck {
            template: v.name,
            version: v.version,
            ok: problems.is_empty(),
            problems,
        })
    }

    /// Starts a session from a template (`NAME` or `NAME@VERSION`). `over` and `detect` are
    /// the caller's own options, which win where they are set: an empty `agent` or `args`,
    /// a `None` field or an empty `env` takes the template's. The template's environment
    /// names take their values from this process's environment.
    pub fn start_template(
        &self,
        spec: &str,
        over: StartOptions,
        detect: DetectOptions,
    ) -> Result<SessionRecord> {
        let tv = self.template(spec)?;
        let (opts, detect) = merge(&tv, over, detect, |k| std::env::var(k).ok())?;
        let origin = super::start::Origin {
            template: Some(format!("{}@{}", tv.name, tv.version)),
            ..Default::default()
        };
        self.start_with_origin(&opts, &detect, &origin)
    }
}

impl SessionManager {
    /// Starts what a parsed start request asks for (see
    /// [`crate::api::requests::start_request`]): from its template when it names one.
    pub fn start_request(&self, req: crate::api::requests::StartRequest) -> Result<SessionRecord> {
        match &req.template {
            Some(spec) => self.start_template(spec, req.options, DetectOptions::default()),
            None => self.start(&req.options),
        }
    }
}

/// The start options of `tv` with the caller's on top (see
/// [`SessionManager::start_template`]); `env` reads the starting environment.
pub fn merge(
    tv: &TemplateVersion,
    over: StartOptions,
    mut detect: DetectOptions,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(StartOptions, DetectOptions)> {
    let t = &tv.template;
    let missing: Vec<&str> = t
        .env
        .iter()
        .filter(|k| env(k).is_none() && !over.env.iter().any(|(o, _)| o == *k))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "template {} passes {} from the environment, which has no value for it: set it, or pass --env NAME=VALUE",
            tv.name,
            missing.join(", ")
        )));
    }
    let mut pairs: Vec<(String, String)> = t
        .env
        .iter()
        .filter(|k| !over.env.iter().any(|(o, _)| o == *k))
        .filter_map(|k| env(k).map(|v| (k.clone(), v)))
        .collect();
    pairs.extend(over.env);
    let task_id = over.task_id.map(|task| match &t.task_prefix {
        Some(p) if !task.starts_with(p.as_str()) => format!("{p}{task}"),
        _ => task,
    });
    let opts = StartOptions {
        agent: if over.agent.is_empty() {
            t.agent.clone()
        } else {
            over.agent
        },
        args: if over.args.is_empty() {
            t.args.clone()
        } else {
            over.args
        },
        cwd: over.cwd.or_else(|| t.cwd.as_ref().map(Into::into)),
        task_id,
        name: over.name.or_else(|| t.name.clone()),
        env: pairs,
        cols: over.cols.or(t.cols),
        rows: over.rows.or(t.rows),
        idle_after: match over.idle_after {
            Some(d) => Some(d),
            None => crate::model::duration::optional_secs(t.idle_after_secs, "idle_after_secs")?,
        },
        max_log_bytes: over.max_log_bytes.or(t.max_log_bytes),
        policy: match over.policy {
            Some(p) => Some(p),
            None => t
                .policy
                .as_deref()
                .map(|p| crate::config::policy_file::load(Path::new(p)))
                .transpose()?,
        },
        budget: over.budget.or(t.budget),
        worktree: over.worktree.or_else(|| t.worktree.clone()),
    };
    if detect.debounce.is_none() {
        detect.debounce = crate::model::duration::optional_secs(t.debounce_secs, "debounce_secs")?;
    }
    detect.no_agent_hooks |= t.no_hooks;
    Ok((opts, detect))
}

/// Runs `bin --version` (no shell, no input) and waits up to [`VERSION_TIMEOUT`].
fn answers_version(bin: &Path) -> std::result::Result<(), String> {
    let mut child = std::process::Command::new(bin)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("could not run: {e}"))?;
    let deadline = std::time::Instant::now() + VERSION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("failed ({status})")),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not answer in {} s", VERSION_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    }
}
