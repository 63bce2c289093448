//! Small named values the server keeps, and the server key that belongs
//! to this database.
//!
//! The key itself lives in a file (see `crypto`); the database keeps only
//! its fingerprint, so that a server started with a lost or different key
//! file stops with a clear message instead of refusing every invitation
//! code and form that the right key made.

use super::connection::on_backend;
use super::schema::settings;
use super::{Database, DbError};
use crate::crypto::{KeyError, ServerKey};
use diesel::prelude::*;
use std::path::Path;

const KEY_FINGERPRINT: &str = "server_key_fingerprint";

#[derive(Debug, thiserror::Error)]
pub enum KeyMismatch {
    #[error(transparent)]
    File(#[from] KeyError),
    #[error(
        "the key file {path} is missing, but this database was used with a key (fingerprint {expected}); \
         restore the key file from the backup you made with the database: without it, the invitation \
         codes already printed cannot be checked"
    )]
    Missing { path: String, expected: String },
    #[error(
        "the key file {path} (fingerprint {found}) is not the key this database was used with \
         (fingerprint {expected}); start with the right key file"
    )]
    Different {
        path: String,
        expected: String,
        found: String,
    },
}

impl Database {
    pub fn setting(&self, name: &str) -> Result<Option<String>, DbError> {
        Ok(settings::table
            .find(name)
            .select(settings::value)
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// The server key from `path`, checked against this database. On first
    /// use a new key file is made and its fingerprint stored.
    pub fn server_key(&self, path: &Path) -> Result<ServerKey, DbError> {
        let display = path.display().to_string();
        let expected = self.setting(KEY_FINGERPRINT)?;
        let key = match (ServerKey::read(path).map_err(KeyMismatch::from)?, expected) {
            (Some(key), Some(expected)) if key.fingerprint() == expected => return Ok(key),
            (Some(key), Some(expected)) => {
                return Err(KeyMismatch::Different {
                    path: display,
                    expected,
                    found: key.fingerprint(),
                }
                .into())
            }
            (None, Some(expected)) => {
                return Err(KeyMismatch::Missing {
                    path: display,
                    expected,
                }
                .into())
            }
            (Some(key), None) => key,
            (None, None) => {
                let key = ServerKey::create(path).map_err(KeyMismatch::from)?;
                log::info!("created the server key file {display}; back it up together with the database");
                key
            }
        };
        self.write_tx(|conn| {
            let insert = diesel::insert_into(settings::table)
                .values((
                    settings::name.eq(KEY_FINGERPRINT),
                    settings::value.eq(key.fingerprint()),
                ))
                .on_conflict_do_nothing();
            on_backend!(conn, c => insert.execute(c))?;
            Ok::<_, DbError>(())
        })?;
        // Another process may have stored its own key at the same moment.
        match self.setting(KEY_FINGERPRINT)? {
            Some(stored) if stored == key.fingerprint() => Ok(key),
            Some(stored) => Err(KeyMismatch::Different {
                path: display,
                expected: stored,
                found: key.fingerprint(),
            }
            .into()),
            None => Ok(key),
        }
    }
}
