//! civicpulse: city livability satisfaction surveys.
//!
//! Layers, each depending only on those below it:
//! - `web`: HTTP routes, forms, languages, pages;
//! - `cli`, `import`, `export`, `registry`: commands and what is published;
//! - `db`: storage (the only module that names a database engine);
//! - `survey`: the validated definition model and answer checking;
//! - `stats`: the pure index engine (no I/O);
//! - `lang`: the supported languages.

pub mod analysis;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod export;
pub mod import;
pub mod lang;
pub mod registry;
pub mod stats;
pub mod survey;
pub mod web;
