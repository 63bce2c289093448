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
    /// Disabled accounts cannot sign in and have no sessions.
    pub disabled: bool,
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

/// A sign-in as it starts (see [`Database::begin_sign_in`]).
pub enum SignInAttempt {
    /// No such account: a password is checked against nothing, then refused.
    NoAccount,
    /// The account is locked until then; no password is checked.
    Locked { until: time::OffsetDateTime },
    /// Check the password against this account's hash. The attempt already
    /// counts as failure number `failures`, which locks the account for the
    /// attempts after it from `locks_at`, unless the password is right.
    Check {
        user: User,
        password_hash: String,
        failures: u32,
        locks_at: Option<time::OffsetDateTime>,
    },
}

impl fmt::Debug for SignInAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInAttempt::NoAccount => f.write_str("NoAccount"),
            SignInAttempt::Locked { until } => f.debug_struct("Locked").field("until", until).finish(),
            SignInAttempt::Check {
                user,
                failures,
                locks_at,
                ..
            } => f
                .debug_struct("Check")
                .field("user", user)
                .field("failures", failures)
                .field("locks_at", locks_at)
                .finish_non_exhaustive(),
        }
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

type UserRow = (i64, String, String, String, Option<String>);

fn user_from_row((id, username, role, created_at, disabled_at): UserRow) -> Result<User, DbError> {
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
        disabled: disabled_at.is_some(),
    })
}

const USER_COLUMNS: (
    users::id,
    users::username,
    users::role,
    users::created_at,
    users::disabled_at,
) = (
    users::id,
    users::username,
    users::role,
    users::created_at,
    users::disabled_at,
);

/// The account named `username`, read in the caller's transaction.
fn find_user(conn: &mut Conn, username: &str) -> Result<User, DbError> {
    let row: Option<UserRow> = users::table
        .filter(users::username.eq(username))
        .select(USER_COLUMNS)
        .first(conn)
        .optional()?;
    match row {
        Some(row) => user_from_row(row),
        None => Err(AccountError::UnknownUser(username.to_string()).into()),
    }
}

/// End every session of `user_id` but `keep` (a cookie's token); how many.
fn end_sessions_of(conn: &mut Conn, user_id: i64, keep: Option<&str>) -> QueryResult<usize> {
    let mine = sessions::table.filter(sessions::user_id.eq(user_id));
    match keep {
        Some(token) => diesel::delete(mine.filter(sessions::id.ne(token_hash(token)))).execute(conn),
        None => diesel::delete(mine).execute(conn),
    }
}

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

    /// Start a sign-in as `username`, in one transaction with every other
    /// sign-in, so that simultaneous attempts cannot slip past a lockout:
    /// an account that is locked is refused (and the refusal audited);
    /// otherwise the attempt counts as a failure in a row (locking the
    /// account for the attempts after it, when it is one too many) until
    /// [`Database::sign_in`] finds the password right and clears the count.
    pub fn begin_sign_in(&self, username: &str, now: time::OffsetDateTime) -> Result<SignInAttempt, DbError> {
        let Ok(name) = Username::parse(username) else {
            return Ok(SignInAttempt::NoAccount);
        };
        self.write_tx(|conn| {
            let found: Option<(UserRow, String, i32, Option<String>)> = users::table
                .filter(users::username.eq(name.as_str()))
                .select((
                    USER_COLUMNS,
                    users::password_hash,
                    users::failed_sign_ins,
                    users::locked_until,
                ))
                .first(conn)
                .optional()?;
            let Some((row, password_hash, failures, locked_until)) = found else {
                return Ok(SignInAttempt::NoAccount);
            };
            let user = user_from_row(row)?;
            if let Some(until) = locked_until
                .as_deref()
                .and_then(super::parse_timestamp)
                .filter(|until| *until > now)
            {
                audit(conn, name.as_str(), "login.locked", "account locked")?;
                return Ok(SignInAttempt::Locked { until });
            }
            let failures = failures.max(0) as u32 + 1;
            let locks_at = lockout_after(failures).map(|lockout| now + lockout);
            diesel::update(users::table.find(user.id))
                .set((
                    users::failed_sign_ins.eq(failures as i32),
                    users::locked_until.eq(locks_at.map(format_timestamp)),
                ))
                .execute(conn)?;
            Ok(SignInAttempt::Check {
                user,
                password_hash,
                failures,
                locks_at,
            })
        })
    }

    /// Record a failed sign-in as `attempted` in the audit log: for an
    /// account, with its failures in a row and any lockout (counted by
    /// [`Database::begin_sign_in`]); for a name that is no account, without
    /// the name, which may be a password typed in the wrong box.
    pub fn record_failed_sign_in(&self, attempted: &str, attempt: &SignInAttempt) -> Result<(), DbError> {
        let (actor, detail) = match attempt {
            SignInAttempt::Check { failures, locks_at, .. } => (
                attempted,
                match locks_at {
                    Some(until) => format!(
                        "{attempted}: {failures} failures in a row, locked until {}",
                        format_timestamp(*until)
                    ),
                    None => format!("{attempted}: {failures} failures in a row"),
                },
            ),
            _ => ("(unknown)", "(no such account)".to_string()),
        };
        self.write_tx(|conn| {
            audit(conn, actor, "login.failed", &detail)?;
            Ok(())
        })
    }

    /// Record a sign-in refused without checking the password because the
    /// client is locked out.
    pub fn record_locked_client(&self, attempted: &str) -> Result<(), DbError> {
        let actor = match Username::parse(attempted) {
            Ok(_) if self.has_user(attempted)? => attempted,
            _ => "(unknown)",
        };
        self.write_tx(|conn| {
            audit(conn, actor, "login.locked", "client locked")?;
            Ok(())
        })
    }

    fn has_user(&self, username: &str) -> Result<bool, DbError> {
        let n: i64 = users::table
            .filter(users::username.eq(username))
            .count()
            .get_result(&mut self.conn()?)?;
        Ok(n > 0)
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
            // Disabling ends an account's sessions; this holds even for one
            // started in the same instant on another instance.
            .filter(users::disabled_at.is_null())
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

    /// Disable (`disabled`) or enable again the account `username`, by
    /// `actor`. Disabling ends its sessions at once. The last enabled admin
    /// cannot be disabled, or no one could manage accounts from the web
    /// again. Returns the account as it is now; asking for the state it
    /// already has changes and audits nothing.
    pub fn set_user_disabled(&self, username: &str, disabled: bool, actor: &str) -> Result<User, DbError> {
        let now = format_timestamp(time::OffsetDateTime::now_utc());
        self.write_tx(|conn| {
            let mut user = find_user(conn, username)?;
            if user.disabled == disabled {
                return Ok(user);
            }
            if disabled && user.role == Role::Admin {
                let other_admins: i64 = users::table
                    .filter(users::role.eq(Role::Admin.as_str()))
                    .filter(users::disabled_at.is_null())
                    .filter(users::id.ne(user.id))
                    .count()
                    .get_result(conn)?;
                if other_admins == 0 {
                    return Err(AccountError::LastAdmin(username.to_string()).into());
                }
            }
            diesel::update(users::table.find(user.id))
                .set(users::disabled_at.eq(disabled.then_some(&now)))
                .execute(conn)?;
            if disabled {
                let ended = end_sessions_of(conn, user.id, None)?;
                audit(
                    conn,
                    actor,
                    "user.disable",
                    &format!("{username}: {ended} session(s) ended"),
                )?;
            } else {
                audit(conn, actor, "user.enable", username)?;
            }
            user.disabled = disabled;
            Ok(user)
        })
    }

    /// Give `username` the password `password` (an admin's reset, by
    /// `actor`): its sessions end and any lockout is lifted, so the account
    /// is used only with the new password from now on.
    pub fn reset_password(&self, username: &str, password: &str, actor: &str) -> Result<User, DbError> {
        crate::account::check_password(password)?;
        let hash = hash_password(password)?;
        self.write_tx(|conn| {
            let user = find_user(conn, username)?;
            diesel::update(users::table.find(user.id))
                .set((
                    users::password_hash.eq(&hash),
                    users::failed_sign_ins.eq(0),
                    users::locked_until.eq(None::<String>),
                ))
                .execute(conn)?;
            let ended = end_sessions_of(conn, user.id, None)?;
            audit(
                conn,
                actor,
                "user.password_reset",
                &format!("{username}: {ended} session(s) ended"),
            )?;
            Ok(user)
        })
    }

    /// End every session of `username`, by `actor`; how many there were.
    pub fn end_sessions(&self, username: &str, actor: &str) -> Result<usize, DbError> {
        self.write_tx(|conn| {
            let user = find_user(conn, username)?;
            let ended = end_sessions_of(conn, user.id, None)?;
            audit(
                conn,
                actor,
                "user.sessions_end",
                &format!("{username}: {ended} session(s)"),
            )?;
            Ok(ended)
        })
    }

    /// The stored password hash of `user`, to check a password against.
    pub fn password_hash(&self, user: &User) -> Result<Option<String>, DbError> {
        Ok(users::table
            .find(user.id)
            .select(users::password_hash)
            .first(&mut self.conn()?)
            .optional()?)
    }

    /// `user` changes their own password (the current one already
    /// checked): every other session of theirs ends, the one whose cookie
    /// carries `current_session` stays.
    pub fn change_own_password(&self, user: &User, password: &str, current_session: &str) -> Result<usize, DbError> {
        crate::account::check_password(password)?;
        let hash = hash_password(password)?;
        self.write_tx(|conn| {
            diesel::update(users::table.find(user.id))
                .set(users::password_hash.eq(&hash))
                .execute(conn)?;
            let ended = end_sessions_of(conn, user.id, Some(current_session))?;
            audit(
                conn,
                user.username.as_str(),
                "user.password_change",
                &format!("{ended} other session(s) ended"),
            )?;
            Ok(ended)
        })
    }

    /// Record that `user` gave the right password but is disabled.
    pub fn record_disabled_sign_in(&self, user: &User) -> Result<(), DbError> {
        self.write_tx(|conn| {
            audit(conn, user.username.as_str(), "login.disabled", "account disabled")?;
            Ok(())
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
