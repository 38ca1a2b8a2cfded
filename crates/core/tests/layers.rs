//! The layer rule of docs/ARCHITECTURE.md, checked on the source: each folder of
//! `crates/core/src` may use only the layers below it (model → config → store → services →
//! host → api), and code inside the crate names things by their layer path, not through the
//! crate root's re-exports (which exist for users).

use std::path::{Path, PathBuf};

const LAYERS: [&str; 6] = ["model", "config", "store", "services", "host", "api"];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder is readable") {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::NAME` in the file, with its line number. Comments are included on purpose:
/// a doc link to a higher layer is a dependency of the reader too, so it is fine to keep them
/// as `[`name`]` without the path.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            rest = &rest[i + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // e.g. `agent_sessions_crate::`
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push((n + 1, name));
        }
    }
    found
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let Some(top) = rel.components().next() else {
            continue;
        };
        let top = top.as_os_str().to_string_lossy().to_string();
        if top == "lib.rs" {
            continue;
        }
        let own =
            rank(&top).unwrap_or_else(|| panic!("{} is outside every layer folder", rel.display()));
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, name) in crate_paths(&text) {
            match rank(&name) {
                Some(r) if r <= own => {}
                Some(_) => problems.push(format!(
                    "{}:{line}: {top} uses crate::{name}, a higher layer",
                    rel.display()
                )),
                None => problems.push(format!(
                    "{}:{line}: crate::{name} goes through the crate root; use its layer path",
                    rel.display()
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layer rule broken:\n{}",
        problems.join("\n")
    );
}
