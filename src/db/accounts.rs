//! Storage of staff accounts, their sessions, sign-in lockouts and the
//! audit log. The rules (roles, usernames, passwords, lockout lengths) are
//! `account`'s. Every change of state here writes its audit entry in the
//! same transaction, so the log cannot miss one.

use super::schema::{audit_log, sessions, users};
use super::{format_timestamp, token_hash, Conn, Database, DbError};
use crate::account::{hash_password, lockout_after, AccountError, Role, Username, SESSION_LIFETIME};
use diesel::prelude::*;
use rand::RngCore;
use std::fmt;

/// A stored account (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: Username,
    pub role: Role,
    pub created_at: String,
}

/// A live session, as found from its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// Every form of the session repeats it in `_csrf`.
    pub csrf_token: String,
    pub expires_at: String,
}

/// A session just started: the token goes into the cookie and nowhere else.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewSession { .. }")
    }
}

/// An account as a sign-in checks it.
pub struct SignInCandidate {
    pub user: User,
    pub password_hash: String,
    /// Set after repeated failures: until then no password is checked.
    pub locked_until: Option<time::OffsetDateTime>,
}

impl fmt::Debug for SignInCandidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInCandidate")
            .field("user", &self.user)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub detail: String,
}

type UserRow = (i64, String, String, String);

fn user_from_row((id, username, role, created_at): UserRow) -> Result<User, DbError> {
    // The table's CHECK admits only the three roles; anything else means the
    // file was edited by hand.
    let role: Role = role.parse().map_err(|_| {
        DbError::Query(diesel::result::Error::DeserializationError(
            format!("role {role:?}").into(),
        ))
    })?;
    Ok(User {
        id,
        username: Username::parse(&username)
            .map_err(|e| DbError::Query(diesel::result::Error::DeserializationError(e.to_string().into())))?,
        role,
        created_at,
    })
}

const USER_COLUMNS: (users::id, users::username, users::role, users::created_at) =
    (users::id, users::username, users::role, users::created_at);

/// Write one audit entry on `conn`, inside the caller's transaction.
pub(super) fn audit(conn: &mut Conn, actor: &str, action: &str, detail: &str) -> QueryResult<usize> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
            audit_log::username.eq(actor),
            audit_log::action.eq(action),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)
}

impl Database {
    /// Create an account; `actor` (a username or
    /// [`crate::account::COMMAND_LINE_ACTOR`]) is recorded in the audit log.
    pub fn create_user(&self, username: &Username, role: Role, password: &str, actor: &str) -> Result<User, DbError> {
        crate::account::check_password(password)?;
        let hash = hash_password(password)?;
        let created = self.write_tx(|conn| {
            let row: UserRow = diesel::insert_into(users::table)
                .values((
                    users::username.eq(username.as_str()),
                    users::role.eq(role.as_str()),
                    users::password_hash.eq(&hash),
                    users::created_at.eq(format_timestamp(time::OffsetDateTime::now_utc())),
                ))
                .returning(USER_COLUMNS)
                .get_result(conn)?;
            audit(conn, actor, "user.create", &format!("{username} ({role})"))?;
            Ok::<_, DbError>(row)
        });
        match created {
            Ok(row) => user_from_row(row),
            Err(DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Err(AccountError::UserExists(username.to_string()).into()),
            Err(e) => Err(e),
        }
    }

    /// Every account, by username.
    pub fn users(&self) -> Result<Vec<User>, DbError> {
        let rows: Vec<UserRow> = users::table
            .select(USER_COLUMNS)
            .order(users::username)
            .load(&mut self.conn()?)?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// What a sign-in as `username` is checked against: the account, its
    /// password hash, and until when it is locked. `None` for a name that
    /// is no account (or no valid username at all).
    pub fn sign_in_candidate(&self, username: &str) -> Result<Option<SignInCandidate>, DbError> {
        let Ok(name) = Username::parse(username) else {
            return Ok(None);
        };
        let found: Option<(UserRow, String, Option<String>)> = users::table
            .filter(users::username.eq(name.as_str()))
            .select((USER_COLUMNS, users::password_hash, users::locked_until))
            .first(&mut self.conn()?)
            .optional()?;
        found
            .map(|(row, password_hash, locked_until)| {
                Ok(SignInCandidate {
                    user: user_from_row(row)?,
                    password_hash,
                    locked_until: locked_until.as_deref().and_then(super::parse_timestamp),
                })
            })
            .transpose()
    }

    /// Record a failed sign-in as `attempted` (the account, when there is
    /// one, gets one more failure in a row and maybe a lockout) in the
    /// audit log; returns until when the account is now locked.
    pub fn record_failed_sign_in(
        &self,
        attempted: &str,
        account: Option<i64>,
        now: time::OffsetDateTime,
    ) -> Result<Option<time::OffsetDateTime>, DbError> {
        self.write_tx(|conn| {
            let mut locked_until = None;
            let detail = match account {
                Some(id) => {
                    let failures: i32 = diesel::update(users::table.find(id))
                        .set(users::failed_sign_ins.eq(users::failed_sign_ins + 1))
                        .returning(users::failed_sign_ins)
                        .get_result(conn)?;
                    if let Some(lockout) = lockout_after(failures.max(0) as u32) {
                        let until = now + lockout;
                        diesel::update(users::table.find(id))
                            .set(users::locked_until.eq(format_timestamp(until)))
                            .execute(conn)?;
                        locked_until = Some(until);
                    }
                    match locked_until {
                        Some(until) => format!(
                            "{attempted}: {failures} failures in a row, locked until {}",
                            format_timestamp(until)
                        ),
                        None => format!("{attempted}: {failures} failures in a row"),
                    }
                }
                // The name typed may be a password typed in the wrong box:
                // it is not written down.
                None => "(no such account)".to_string(),
            };
            audit(conn, attempted_actor(attempted, account), "login.failed", &detail)?;
            Ok(locked_until)
        })
    }

    /// Record a sign-in refused without checking the password, because
    /// the account or the client is locked out.
    pub fn record_locked_sign_in(&self, attempted: &str, account: Option<i64>, why: &str) -> Result<(), DbError> {
        self.write_tx(|conn| {
            audit(conn, attempted_actor(attempted, account), "login.locked", why)?;
            Ok(())
        })
    }

    /// Start a session for `user` and record the sign-in. A session the
    /// browser already had (`replacing`, its token) is ended: every sign-in
    /// gets a fresh token. Expired sessions are swept at the same time.
    pub fn sign_in(&self, user: &User, replacing: Option<&str>) -> Result<NewSession, DbError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        // 128 bits, the same shape as the resident forms' CSRF tokens.
        let mut csrf = [0u8; 16];
        rand::rng().fill_bytes(&mut csrf);
        let csrf_token = hex::encode(csrf);
        let now = time::OffsetDateTime::now_utc();
        self.write_tx(|conn| {
            diesel::delete(sessions::table.filter(sessions::expires_at.le(format_timestamp(now)))).execute(conn)?;
            // A good password ends the run of failures.
            diesel::update(users::table.find(user.id))
                .set((users::failed_sign_ins.eq(0), users::locked_until.eq(None::<String>)))
                .execute(conn)?;
            if let Some(old) = replacing {
                diesel::delete(sessions::table.find(token_hash(old))).execute(conn)?;
            }
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(token_hash(&token)),
                    sessions::user_id.eq(user.id),
                    sessions::csrf_token.eq(&csrf_token),
                    sessions::created_at.eq(format_timestamp(now)),
                    sessions::expires_at.eq(format_timestamp(now + SESSION_LIFETIME)),
                ))
                .execute(conn)?;
            audit(conn, user.username.as_str(), "login", "")?;
            Ok::<_, DbError>(())
        })?;
        Ok(NewSession { token, csrf_token })
    }

    /// The live (unexpired) session whose cookie carries `token`.
    pub fn session(&self, token: &str) -> Result<Option<Session>, DbError> {
        let now = format_timestamp(time::OffsetDateTime::now_utc());
        let found: Option<(UserRow, String, String)> = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(token_hash(token)))
            .filter(sessions::expires_at.gt(now))
            .select((USER_COLUMNS, sessions::csrf_token, sessions::expires_at))
            .first(&mut self.conn()?)
            .optional()?;
        found
            .map(|(row, csrf_token, expires_at)| {
                Ok(Session {
                    user: user_from_row(row)?,
                    csrf_token,
                    expires_at,
                })
            })
            .transpose()
    }

    /// End the session of `token` and record the sign-out; false when there
    /// was no such session.
    pub fn sign_out(&self, token: &str) -> Result<bool, DbError> {
        self.write_tx(|conn| {
            let id = token_hash(token);
            let username: Option<String> = sessions::table
                .inner_join(users::table)
                .filter(sessions::id.eq(&id))
                .select(users::username)
                .first(conn)
                .optional()?;
            let Some(username) = username else {
                return Ok(false);
            };
            diesel::delete(sessions::table.find(&id)).execute(conn)?;
            audit(conn, &username, "logout", "")?;
            Ok(true)
        })
    }

    /// Record a change by `actor` (for changes made outside this module).
    pub fn record_audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        audit(&mut conn, actor, action, detail)?;
        Ok(())
    }

    /// The latest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        let rows: Vec<(i64, String, String, String, String)> = audit_log::table
            .select((
                audit_log::id,
                audit_log::at,
                audit_log::username,
                audit_log::action,
                audit_log::detail,
            ))
            .order(audit_log::id.desc())
            .limit(limit)
            .load(&mut self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(id, at, username, action, detail)| AuditEntry {
                id,
                at,
                username,
                action,
                detail,
            })
            .collect())
    }
}

/// The audit log's actor for a sign-in attempt: the account's name, or a
/// marker for a name that is no account.
fn attempted_actor(attempted: &str, account: Option<i64>) -> &str {
    match account {
        Some(_) => attempted,
        None => "(unknown)",
    }
}
