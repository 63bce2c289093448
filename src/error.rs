//! Errors that end a command. Each says what went wrong and, where it can,
//! what to do; `main` prints it once and sets the exit code.

use crate::db::{DatabaseUrlError, DbError};
use crate::survey::DefinitionError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Definitions(Vec<DefinitionError>),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    DatabaseUrl(#[from] DatabaseUrlError),
    #[error("cannot listen on {address}: {error}")]
    Bind { address: String, error: std::io::Error },
    #[error("cannot read the benchmark page {path}: {error}")]
    BenchPage {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Messages(#[from] crate::web::i18n::CatalogError),
    #[error(transparent)]
    Render(#[from] crate::web::render::RenderError),
    #[error("no survey named {0:?}; `civicpulse survey list` shows the surveys")]
    UnknownSurvey(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Analysis(#[from] crate::analysis::AnalysisError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error("cannot read {file}: {error}")]
    Input { file: String, error: std::io::Error },
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Account(#[from] crate::account::AccountError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Draft(#[from] crate::db::DraftError),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
}
