pub mod detect;
pub mod resources;
pub mod usage;
