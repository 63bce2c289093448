//! Bearer tokens of the statistics API. Only a SHA-256 hash of each token
//! is stored: a token is 256 random bits, so a slow password hash would
//! add nothing.

use super::schema::api_tokens;
use super::{format_timestamp, token_hash, Database, DbError};
use diesel::prelude::*;

impl Database {
    /// Create an API token named `name`; returns the token, whose SHA-256
    /// hash alone is stored.
    pub fn create_api_token(&self, name: &str) -> Result<String, DbError> {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let token = format!("cp_{}", hex::encode(bytes));
        let inserted = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(token_hash(&token)),
                api_tokens::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
            ))
            .execute(&mut self.conn()?);
        match inserted {
            Ok(_) => Ok(token),
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Err(DbError::TokenExists(name.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The name of the API token `token`, if it is one.
    pub fn api_token_name(&self, token: &str) -> Result<Option<String>, DbError> {
        Ok(api_tokens::table
            .filter(api_tokens::token_hash.eq(token_hash(token)))
            .select(api_tokens::name)
            .first(&mut self.conn()?)
            .optional()?)
    }
}
