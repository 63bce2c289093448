//! Retention of free text. Residents' own words can name people, streets
//! and neighbours; they are kept for the time the city needs to read and
//! code them (`--free-text-days`), then deleted, while the choice answers
//! and the indices built on them stay. What was purged is counted and
//! audited, never the text.

use super::accounts::audit;
use super::schema::{answers, responses};
use super::{format_timestamp, Database, DbError};
use diesel::prelude::*;

/// The free-text questions of one stored version.
#[derive(Debug, Clone)]
pub struct TextQuestions {
    pub slug: String,
    pub version: u32,
    pub version_id: i64,
    pub question_ids: Vec<String>,
}

/// What one purge deleted from one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub slug: String,
    pub version: u32,
    /// Free-text answers deleted.
    pub answers: u64,
}

impl Database {
    /// Delete the answers to `versions`' free-text questions of every
    /// response submitted before `before`, each version in one transaction
    /// with its audit entry (by `actor`). Versions with nothing to delete
    /// are left out of the result and the log.
    pub fn purge_free_text(
        &self,
        versions: &[TextQuestions],
        before: time::OffsetDateTime,
        actor: &str,
    ) -> Result<Vec<Purged>, DbError> {
        let cutoff = format_timestamp(before);
        let mut purged = Vec::new();
        for v in versions.iter().filter(|v| !v.question_ids.is_empty()) {
            let deleted = self.write_tx(|conn| {
                let old = responses::table
                    .filter(responses::survey_version_id.eq(v.version_id))
                    .filter(responses::submitted_at.lt(&cutoff))
                    .select(responses::id);
                let deleted = diesel::delete(
                    answers::table
                        .filter(answers::question_id.eq_any(&v.question_ids))
                        .filter(answers::response_id.eq_any(old)),
                )
                .execute(conn)? as u64;
                if deleted > 0 {
                    audit(
                        conn,
                        actor,
                        "retention.purge",
                        &format!(
                            "{} v{}: {deleted} free-text answer(s) of responses before {cutoff}",
                            v.slug, v.version
                        ),
                    )?;
                }
                Ok::<_, DbError>(deleted)
            })?;
            if deleted > 0 {
                purged.push(Purged {
                    slug: v.slug.clone(),
                    version: v.version,
                    answers: deleted,
                });
            }
        }
        Ok(purged)
    }
}
