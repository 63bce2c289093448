//! civicpulse: city livability satisfaction surveys.
//!
//! Layers, each depending only on those below it:
//! - `web`: HTTP routes, forms, languages, pages;
//! - `cli`, `import`, `export`, `registry`: commands and what is published;
//! - `dashboard`: the officials' view of a wave (charts, tables, methods),
//!   drawn with `charts` (pure SVG) from `analysis`'s reports;
//! - `db`: storage (the only module that names a database engine);
//! - `fieldwork`: waves, sampling frames, invitation codes, quality flags;
//! - `survey`: the validated definition model and answer checking;
//! - `stats`: the pure index engine (no I/O);
//! - `charts`: accessible SVG charts, their PNG and tables (pure, no I/O);
//! - `account`: staff roles, usernames, passwords and lockouts;
//! - `lang`: the supported languages; `crypto`: the server key and HMAC;
//! - `clock`: the city's date and time; `identity`: who runs the survey;
//! - `validation`: the input types' rules (`validator`) told as sentences.

pub mod account;
pub mod analysis;
pub mod charts;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod export;
pub mod fieldwork;
pub mod identity;
pub mod import;
pub mod lang;
pub mod registry;
pub mod spreadsheet;
pub mod stats;
pub mod survey;
pub mod validation;
pub mod web;
