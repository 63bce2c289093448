//! Survey definitions: the typed, validated model of a questionnaire.
//!
//! `raw` is the file format as written; `model` validates it once into a
//! `Survey`; `answers` checks a respondent's answers against it; `catalog`
//! gathers the built-in and on-disk definitions; `versioning` says what a
//! new version may change; `edit` changes a draft's structure one
//! operation at a time; `translations` lists and edits the texts of
//! each language by path. Nothing here does HTTP or SQL.

pub mod answers;
pub mod catalog;
pub mod edit;
pub mod model;
pub mod raw;
pub mod schedule;
pub mod show;
pub mod translations;
pub mod versioning;

pub use answers::{AnswerError, AnswerProblem, AnswerValue, Answers, RawAnswers};
pub use catalog::{builtin_definitions, builtin_earlier_versions, load_definitions};
pub use model::{
    Choice, DefinitionError, DefinitionIssue, Dimension, Id, Localized, Missing, OptionValue, Place, Question,
    QuestionId, QuestionKind, Section, ShowIf, Slug, Survey,
};

#[cfg(test)]
mod tests;
