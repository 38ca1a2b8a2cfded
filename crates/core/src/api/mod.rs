//! Layer 6, the API: [`manager::SessionManager`] and [`lifecycle::Lifecycle`], what the CLI,
//! the Python module, the C ABI and the server call. Uses every layer below it.

pub mod attach;
pub mod lifecycle;
pub mod manager;
pub mod requests;
