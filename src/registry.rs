//! What is published: every stored version of every survey, loaded at
//! start-up after the definition files have been stored, and loaded again
//! by the server whenever a designer publishes a version (see
//! `web::AppState::reload_surveys`).

use crate::db::{Backend, Database, DatabaseUrl, PoolSettings, StoredSurvey};
use crate::error::AppError;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Open the database, store any new definition versions (built-in and from
/// `defs_dir`), and load every published version (drafts are never served).
pub fn open(url: &DatabaseUrl, defs_dir: Option<&Path>) -> Result<(Database, SurveyRegistry), AppError> {
    open_with(url, defs_dir, PoolSettings::default_for(Backend::of(url)))
}

/// [`open`] with the pool's settings (the server's `--db-timeout`).
pub fn open_with(
    url: &DatabaseUrl,
    defs_dir: Option<&Path>,
    settings: PoolSettings,
) -> Result<(Database, SurveyRegistry), AppError> {
    let surveys = crate::survey::load_definitions(defs_dir).map_err(AppError::Definitions)?;
    let db = Database::open_with(url, settings)?;
    db.sync_definitions(&surveys)?;
    let registry = SurveyRegistry::new(db.stored_surveys()?);
    Ok((db, registry))
}

/// Open a database that is set up already and load what is published,
/// writing nothing (for commands that only read).
pub fn open_read(url: &DatabaseUrl) -> Result<(Database, SurveyRegistry), AppError> {
    let db = Database::open_existing(url)?;
    let registry = SurveyRegistry::new(db.stored_surveys()?);
    Ok((db, registry))
}

/// The published surveys, every version, as loaded from the database.
#[derive(Default)]
pub struct SurveyRegistry {
    by_slug: BTreeMap<String, Vec<Arc<StoredSurvey>>>,
}

impl SurveyRegistry {
    pub fn new(stored: Vec<StoredSurvey>) -> SurveyRegistry {
        let mut by_slug: BTreeMap<String, Vec<Arc<StoredSurvey>>> = BTreeMap::new();
        for s in stored {
            by_slug.entry(s.survey.slug.to_string()).or_default().push(Arc::new(s));
        }
        for versions in by_slug.values_mut() {
            versions.sort_by_key(|s| s.survey.version);
        }
        SurveyRegistry { by_slug }
    }

    /// The version residents answer now.
    pub fn latest(&self, slug: &str) -> Option<Arc<StoredSurvey>> {
        self.by_slug.get(slug).and_then(|v| v.last()).cloned()
    }

    pub fn version(&self, slug: &str, version: u32) -> Option<Arc<StoredSurvey>> {
        self.by_slug
            .get(slug)?
            .iter()
            .find(|s| s.survey.version == version)
            .cloned()
    }

    /// Every stored version of a survey, oldest first.
    pub fn versions(&self, slug: &str) -> &[Arc<StoredSurvey>] {
        self.by_slug.get(slug).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The free-text questions of every stored version of every survey
    /// (what the retention setting purges).
    pub fn text_questions(&self) -> Vec<crate::db::TextQuestions> {
        self.by_slug
            .values()
            .flatten()
            .map(|stored| crate::db::TextQuestions {
                slug: stored.survey.slug.to_string(),
                version: stored.survey.version,
                version_id: stored.version_id,
                question_ids: stored
                    .survey
                    .questions
                    .iter()
                    .filter(|q| matches!(q.kind, crate::survey::QuestionKind::Text { .. }))
                    .map(|q| q.id.as_str().to_string())
                    .collect(),
            })
            .collect()
    }

    /// The latest version of every survey.
    pub fn current(&self) -> impl Iterator<Item = &Arc<StoredSurvey>> {
        self.by_slug.values().filter_map(|v| v.last())
    }
}
