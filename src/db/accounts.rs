//! Staff accounts, their sessions and the audit log.
//!
//! Passwords are hashed with Argon2id (the crate's default parameters) and a
//! random salt; neither a password nor a session token is ever stored or
//! logged, only their hashes. Every change of state here writes its audit
//! entry in the same transaction, so the log cannot miss one.

use super::schema::{audit_log, sessions, users};
use super::{format_timestamp, token_hash, Database, DbError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use diesel::prelude::*;
use rand::{Rng, RngCore};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password: enough for any passphrase, short enough that
/// nobody can make the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// How long a sign-in lasts, whatever the staff member does meanwhile.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
/// Length of a generated password.
pub const GENERATED_PASSWORD_CHARS: usize = 20;
/// Actor recorded for changes made with the command line. Not a valid
/// username, so it cannot be confused with an account.
pub const COMMAND_LINE_ACTOR: &str = "(command line)";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("unknown role {0:?}; the roles are admin, designer and statistician")]
    UnknownRole(String),
    #[error("invalid username {0:?}: use 3 to 32 characters from a-z, 0-9, '.', '_' and '-'")]
    InvalidUsername(String),
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the password is too long: use at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    #[error("a user named {0:?} already exists")]
    UserExists(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> AccountError {
        AccountError::Database(e.into())
    }
}

/// What a staff member may do. Checked by the server on every staff page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including the audit log.
    Admin,
    /// Writes survey definitions.
    Designer,
    /// Reads results.
    Statistician,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Designer, Role::Statistician];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Designer => "designer",
            Role::Statistician => "statistician",
        }
    }
}

impl FromStr for Role {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Role, AccountError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AccountError::UnknownRole(s.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A username: 3 to 32 characters from `a-z 0-9 . _ -`. Lowercase only, so
/// two accounts can never differ by case alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, AccountError> {
        let ok = (3..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Username(s.to_string()))
        } else {
            Err(AccountError::InvalidUsername(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub username: String,
    pub action: String,
    pub detail: String,
}

/// Refuse passwords that are too short or absurdly long.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(AccountError::PasswordTooShort)
    } else if n > MAX_PASSWORD_CHARS {
        Err(AccountError::PasswordTooLong)
    } else {
        Ok(())
    }
}

/// A random password of letters and digits, without look-alikes (0/O, 1/l/I)
/// so it can be read out or typed from paper. 20 of 55 symbols: 115 bits.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..GENERATED_PASSWORD_CHARS)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Argon2id PHC string of `password` with a fresh 128-bit salt.
fn hash_password(password: &str) -> Result<String, AccountError> {
    // argon2 0.5's `SaltString::generate` wants a rand_core 0.6 generator;
    // the salt is only random bytes, so rand 0.9's CSPRNG supplies them.
    let mut salt = [0u8; argon2::password_hash::Salt::RECOMMENDED_LENGTH];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// A hash nobody knows the password of, verified when the user does not
/// exist so that a failed sign-in takes as long either way.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
}

type UserRow = (i64, String, String, String);

fn user_from_row((id, username, role, created_at): UserRow) -> Result<User, DbError> {
    // The table's CHECK admits only the three roles; anything else means the
    // file was edited by hand.
    let role = role.parse().map_err(|_| {
        DbError::Query(diesel::result::Error::DeserializationError(
            format!("role {role:?}").into(),
        ))
    })?;
    Ok(User {
        id,
        username: Username(username),
        role,
        created_at,
    })
}

const USER_COLUMNS: (users::id, users::username, users::role, users::created_at) =
    (users::id, users::username, users::role, users::created_at);

/// Write one audit entry on `conn`, inside the caller's transaction.
pub(super) fn audit(conn: &mut SqliteConnection, actor: &str, action: &str, detail: &str) -> QueryResult<usize> {
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
    /// Create an account; `actor` (a username or [`COMMAND_LINE_ACTOR`]) is
    /// recorded in the audit log.
    pub fn create_user(
        &self,
        username: &Username,
        role: Role,
        password: &str,
        actor: &str,
    ) -> Result<User, AccountError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let mut conn = self.conn()?;
        let created = conn.immediate_transaction(|conn| {
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
            Ok(row)
        });
        match created {
            Ok(row) => Ok(user_from_row(row)?),
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Err(AccountError::UserExists(username.to_string()))
            }
            Err(e) => Err(e.into()),
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

    /// The account `username` if `password` is its password. An unknown or
    /// malformed username costs the same hash verification as a wrong
    /// password, so the answer time does not tell which accounts exist.
    pub fn authenticate(&self, username: &str, password: &str) -> Result<Option<User>, AccountError> {
        let found: Option<(UserRow, String)> = match Username::parse(username) {
            Ok(name) => users::table
                .filter(users::username.eq(name.as_str()))
                .select((USER_COLUMNS, users::password_hash))
                .first(&mut self.conn()?)
                .optional()?,
            Err(_) => None,
        };
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Ok(None);
        }
        match found {
            Some((row, hash)) if verify_password(password, &hash) => Ok(Some(user_from_row(row)?)),
            Some(_) => Ok(None),
            None => {
                let _ = verify_password(password, dummy_hash());
                Ok(None)
            }
        }
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
        let mut conn = self.conn()?;
        conn.immediate_transaction(|conn| {
            diesel::delete(sessions::table.filter(sessions::expires_at.le(format_timestamp(now)))).execute(conn)?;
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
        let mut conn = self.conn()?;
        conn.immediate_transaction(|conn| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_display() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(role.to_string(), role.as_str());
        }
        assert!(matches!("Admin".parse::<Role>(), Err(AccountError::UnknownRole(_))));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn usernames_are_short_lowercase_words() {
        for ok in ["bob", "li.wei", "kim_minji-2", &"a".repeat(32)] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "ab",
            "Alice",
            "li wei",
            "김민지",
            "a/b",
            &"a".repeat(33),
            "(command line)",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert!(matches!(
            check_password("short-pw1"),
            Err(AccountError::PasswordTooShort)
        ));
        assert!(check_password("long-enough").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salts differ");
        let generated = generate_password();
        assert_eq!(generated.chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(check_password(&generated).is_ok());
        assert_ne!(generated, generate_password());
    }
}
