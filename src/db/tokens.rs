//! Bearer tokens of the statistics API. Only a SHA-256 hash of each token
//! is stored: a token is 256 random bits, so a slow password hash would
//! add nothing. Each token has a name (what the audit log and the access
//! log call it), scopes, an optional last day, the day it was last used,
//! and can be revoked; creating and revoking are audited.

use super::accounts::audit;
use super::schema::api_tokens;
use super::{format_timestamp, token_hash, Database, DbError};
use crate::account::{AccountError, TokenScope, TokenScopes};
use diesel::prelude::*;
use time::Date;

/// A token as `civicpulse token list` shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub scopes: String,
    pub created_at: String,
    pub created_by: String,
    /// The last day it is accepted (YYYY-MM-DD), if it ends.
    pub expires_on: Option<String>,
    pub last_used_on: Option<String>,
    pub revoked_at: Option<String>,
}

/// Why a bearer token was not accepted for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No token has this hash.
    Unknown,
    Revoked {
        name: String,
    },
    /// Its last day was before today.
    Expired {
        name: String,
        on: String,
    },
    /// The token is valid but may not read this.
    OutOfScope {
        name: String,
        needs: TokenScope,
    },
}

type TokenRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

const TOKEN_COLUMNS: (
    api_tokens::name,
    api_tokens::scopes,
    api_tokens::created_at,
    api_tokens::created_by,
    api_tokens::expires_on,
    api_tokens::last_used_on,
    api_tokens::revoked_at,
) = (
    api_tokens::name,
    api_tokens::scopes,
    api_tokens::created_at,
    api_tokens::created_by,
    api_tokens::expires_on,
    api_tokens::last_used_on,
    api_tokens::revoked_at,
);

fn token_from_row((name, scopes, created_at, created_by, expires_on, last_used_on, revoked_at): TokenRow) -> ApiToken {
    ApiToken {
        name,
        scopes,
        created_at,
        created_by,
        expires_on,
        last_used_on,
        revoked_at,
    }
}

impl Database {
    /// Create an API token named `name` with `scopes`, accepted up to and
    /// including `expires_on` if given, by `actor`; returns the token,
    /// whose SHA-256 hash alone is stored.
    pub fn create_api_token(
        &self,
        name: &str,
        scopes: &TokenScopes,
        expires_on: Option<Date>,
        actor: &str,
    ) -> Result<String, DbError> {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let token = format!("cp_{}", hex::encode(bytes));
        let created = self.write_tx(|conn| {
            diesel::insert_into(api_tokens::table)
                .values((
                    api_tokens::name.eq(name),
                    api_tokens::token_hash.eq(token_hash(&token)),
                    api_tokens::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
                    api_tokens::scopes.eq(scopes.to_string()),
                    api_tokens::expires_on.eq(expires_on.map(|d| d.to_string())),
                    api_tokens::created_by.eq(actor),
                ))
                .execute(conn)?;
            let until = expires_on.map_or_else(|| "no end".to_string(), |d| format!("until {d}"));
            audit(conn, actor, "token.create", &format!("{name}: {scopes}, {until}"))?;
            Ok::<_, DbError>(())
        });
        match created {
            Ok(()) => Ok(token),
            Err(DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Err(DbError::TokenExists(name.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Every API token, by name.
    pub fn api_tokens(&self) -> Result<Vec<ApiToken>, DbError> {
        let rows: Vec<TokenRow> = api_tokens::table
            .select(TOKEN_COLUMNS)
            .order(api_tokens::name)
            .load(&mut self.conn()?)?;
        Ok(rows.into_iter().map(token_from_row).collect())
    }

    /// Revoke the token `name`, by `actor`: from now on it is refused.
    pub fn revoke_api_token(&self, name: &str, actor: &str) -> Result<(), DbError> {
        let now = format_timestamp(time::OffsetDateTime::now_utc());
        self.write_tx(|conn| {
            let revoked: Option<Option<String>> = api_tokens::table
                .filter(api_tokens::name.eq(name))
                .select(api_tokens::revoked_at)
                .first(conn)
                .optional()?;
            match revoked {
                None => return Err(AccountError::UnknownToken(name.to_string()).into()),
                Some(Some(_)) => return Err(AccountError::TokenRevoked(name.to_string()).into()),
                Some(None) => {}
            }
            diesel::update(api_tokens::table.filter(api_tokens::name.eq(name)))
                .set(api_tokens::revoked_at.eq(&now))
                .execute(conn)?;
            audit(conn, actor, "token.revoke", name)?;
            Ok(())
        })
    }

    /// The name of the token `token` if it may be used for `scope` on
    /// `today` (the city's date), recording the day of use; otherwise why
    /// not. The day is written at most once a day per token.
    pub fn accept_api_token(
        &self,
        token: &str,
        scope: TokenScope,
        today: Date,
    ) -> Result<Result<String, TokenRefusal>, DbError> {
        let hash = token_hash(token);
        let found: Option<TokenRow> = api_tokens::table
            .filter(api_tokens::token_hash.eq(&hash))
            .select(TOKEN_COLUMNS)
            .first(&mut self.conn()?)
            .optional()?;
        let Some(ApiToken {
            name,
            scopes,
            expires_on,
            last_used_on,
            revoked_at,
            ..
        }) = found.map(token_from_row)
        else {
            return Ok(Err(TokenRefusal::Unknown));
        };
        if revoked_at.is_some() {
            return Ok(Err(TokenRefusal::Revoked { name }));
        }
        let today_text = today.to_string();
        // ISO dates compare as text.
        if let Some(on) = expires_on.filter(|on| *on < today_text) {
            return Ok(Err(TokenRefusal::Expired { name, on }));
        }
        // A scope list the program cannot read grants nothing.
        if !TokenScopes::parse(&scopes).is_ok_and(|s| s.contains(scope)) {
            return Ok(Err(TokenRefusal::OutOfScope { name, needs: scope }));
        }
        if last_used_on.as_deref() != Some(today_text.as_str()) {
            self.write_tx(|conn| {
                diesel::update(api_tokens::table.filter(api_tokens::token_hash.eq(&hash)))
                    .set(api_tokens::last_used_on.eq(&today_text))
                    .execute(conn)?;
                Ok::<_, DbError>(())
            })?;
        }
        Ok(Ok(name))
    }
}
