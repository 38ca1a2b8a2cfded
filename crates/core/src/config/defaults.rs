//! Defaults every interface shares, in one place so the CLI, the bindings and the host agree.

use std::time::Duration;

/// Default terminal size: what the real CLIs were captured at.
pub const DEFAULT_COLS: u16 = 120;
/// Default terminal height in rows (see [`DEFAULT_COLS`]).
pub const DEFAULT_ROWS: u16 = 35;
/// Default output silence before a running session reads as waiting_input.
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(2);
/// Default time a stop waits for the agent before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a waiting screen (prompt, dialog) must stay on screen before a session with
/// screen rules reads waiting_input. Busy is reported at once. Long enough to ride over the
/// moments between tool calls when an agent's busy line is briefly gone, short enough that a
/// script waiting for the end of a turn is not kept waiting (ccmanager uses 1.5 s, agentapi
/// 2 s of stability).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(1000);

/// Default output log cap; the log rotates at half of it, keeping one older part.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 50 << 20;
