//! HTTP tests: one binary, each test with its own server and database.

mod bad_input;
mod designer_pages;
mod form_pages;
mod helpers;
mod staff;
mod structure;
mod submission;
mod survey_dates;
mod translations;
