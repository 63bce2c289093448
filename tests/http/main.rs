//! HTTP tests: one binary, each test with its own server and database.

mod accounts;
mod analysis_cache;
mod authorization;
mod bad_input;
mod city_time;
mod dashboard;
mod data_generation;
mod designer_pages;
mod fieldwork_pages;
mod form_pages;
mod group_commit;
mod gzip_form;
mod helpers;
mod identity;
mod instances;
mod integrity;
mod interview_wave;
mod invitations;
mod lockout;
mod privacy;
mod resume;
mod sample_weights;
mod section_pages;
mod staff;
mod structure;
mod submission;
#[path = "../support/mod.rs"]
mod support;
mod survey_dates;
mod translations;

/// This binary's tests again, on PostgreSQL (see `support::postgres`).
#[test]
fn postgres_half() {
    support::postgres::run_postgres_half("http");
}
