//! The C ABI's JSON arguments, parsed by the core's one request parser
//! ([`agent_sessions::requests`]) under the argument names the C functions use.

use crate::result::FfiResult;
use agent_sessions::lifecycle::{NewLifecycle, ResumePolicy};
use agent_sessions::requests;
use agent_sessions::{CleanupOptions, ListFilter, ResumeOptions};
use serde_json::{Map, Value};

/// `as_manager_start`'s options (which may name a template).
pub fn start_request(json: &str) -> FfiResult<requests::StartRequest> {
    Ok(requests::start_request(json, "argument `options_json`")?)
}

/// A list filter; NULL lists everything.
pub fn list_filter(json: Option<&str>) -> FfiResult<ListFilter> {
    Ok(requests::list_filter(json, "argument `filter_json`")?)
}

/// A resume policy; NULL gives the reference library's defaults.
pub fn resume_policy(json: Option<&str>) -> FfiResult<ResumePolicy> {
    Ok(requests::resume_policy(json, "argument `policy_json`")?)
}

/// A new lifecycle record's options; NULL gives an anonymous one.
pub fn new_lifecycle(json: Option<&str>) -> FfiResult<NewLifecycle> {
    Ok(requests::new_lifecycle(json, "argument `options_json`")?)
}

/// `as_session_resume`'s options.
pub fn resume_options(json: Option<&str>) -> FfiResult<ResumeOptions> {
    Ok(requests::resume_options(json, "argument `options_json`")?)
}

/// `as_manager_cleanup`'s options.
pub fn cleanup_options(json: &str) -> FfiResult<CleanupOptions> {
    Ok(requests::cleanup_options(json, "argument `options_json`")?)
}

/// A JSON object argument (metadata, a saved document).
pub fn object(json: &str, what: &str) -> FfiResult<Map<String, Value>> {
    Ok(requests::object(json, &format!("argument `{what}`"))?)
}
