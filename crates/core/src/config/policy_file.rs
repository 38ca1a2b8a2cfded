//! Reading an approval policy file (see [`crate::model::policy`]).

use crate::model::error::{Error, Result};
use crate::model::policy::Policy;
use std::io::Read;
use std::path::Path;

/// Largest policy file read; a bigger one is almost certainly the wrong file.
const MAX_POLICY_FILE: u64 = 1 << 20;

/// Reads and checks the policy in `path` (TOML, or JSON when it starts with `{`). The error
/// names the file and what is wrong in it.
pub fn load(path: &Path) -> Result<Policy> {
    let shown = path.display();
    let f = std::fs::File::open(path)
        .map_err(|e| Error::InvalidArgument(format!("cannot read the policy file {shown}: {e}")))?;
    let mut text = String::new();
    f.take(MAX_POLICY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::InvalidArgument(format!("cannot read the policy file {shown}: {e}")))?;
    if text.len() as u64 > MAX_POLICY_FILE {
        return Err(Error::InvalidArgument(format!(
            "the policy file {shown} is over 1 MiB: give a file of rules (see the README)"
        )));
    }
    Policy::parse(&text).map_err(|e| Error::InvalidArgument(format!("{shown}: {e}")))
}
