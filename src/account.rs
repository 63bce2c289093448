//! Staff accounts as the domain sees them: roles, usernames, the password
//! policy and hashing, and the sign-in lockout rule. Storage is `db`'s;
//! the web layer decides when to hash (under a bound, see
//! `web::staff::auth`).
//!
//! Passwords are hashed with Argon2id (the crate's default parameters: 19
//! MiB, 2 passes) and a random salt; neither a password nor a session
//! token is ever stored or logged, only their hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
/// Memory one Argon2 hash takes with the parameters used (19 MiB), to size
/// how many may run at once.
pub const ARGON2_MEMORY_BYTES: u64 = 19 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("there is no user named {0:?}; `civicpulse user list` lists them")]
    UnknownUser(String),
    #[error(
        "{0} is the last enabled admin; enable or create another admin first, so someone can still manage accounts"
    )]
    LastAdmin(String),
    #[error("unknown token scope {0:?}; the scopes are statistics and export")]
    UnknownScope(String),
    #[error("a token needs at least one scope: statistics, export or both")]
    NoScope,
    #[error("there is no API token named {0:?}; `civicpulse token list` lists them")]
    UnknownToken(String),
    #[error("the API token {0:?} is already revoked")]
    TokenRevoked(String),
}

/// What an API token may read. Statistics are aggregates a city publishes
/// anyway; an export is every respondent's answers, so it is asked for on
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenScope {
    /// Indices, comparisons between waves and fieldwork figures.
    Statistics,
    /// Respondent-level data: the export archive.
    Export,
}

impl TokenScope {
    pub const ALL: [TokenScope; 2] = [TokenScope::Statistics, TokenScope::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Statistics => "statistics",
            TokenScope::Export => "export",
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes of one token: never empty, each at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScopes(std::collections::BTreeSet<TokenScope>);

impl TokenScopes {
    /// `statistics`, `export` or both, separated by commas.
    pub fn parse(text: &str) -> Result<TokenScopes, AccountError> {
        let scopes = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                TokenScope::ALL
                    .into_iter()
                    .find(|scope| scope.as_str() == s)
                    .ok_or_else(|| AccountError::UnknownScope(s.to_string()))
            })
            .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
        if scopes.is_empty() {
            return Err(AccountError::NoScope);
        }
        Ok(TokenScopes(scopes))
    }

    pub fn contains(&self, scope: TokenScope) -> bool {
        self.0.contains(&scope)
    }
}

impl fmt::Display for TokenScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// What a staff member may do. Checked by the server on every staff page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including the audit log.
    Admin,
    /// Writes survey definitions.
    Designer,
    /// Reads results, and runs the sample (frames, invitations).
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
pub fn hash_password(password: &str) -> Result<String, AccountError> {
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

/// The working memory of one Argon2 computation, allocated once and used
/// again for every check: a burst of sign-ins then costs no allocation at
/// all, and the memory the checks take is exactly the memory the callers
/// hold (see `web::limits::HashGate`). Stored hashes use the default
/// parameters; one with a larger memory cost is refused, never computed.
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    pub fn new() -> HashMemory {
        HashMemory(vec![Block::default(); Params::DEFAULT_M_COST as usize])
    }
}

impl Default for HashMemory {
    fn default() -> HashMemory {
        HashMemory::new()
    }
}

/// Whether `password` matches the stored hash, computed in `memory`. With
/// `None` (no such account, or a password over the length limit) a hash
/// nobody knows the password of is verified instead, so a failed sign-in
/// takes as long either way and the answer time does not tell which
/// accounts exist.
pub fn verify_password(password: &str, stored: Option<&str>, memory: &mut HashMemory) -> bool {
    let (stored, real) = match stored {
        Some(hash) if password.chars().count() <= MAX_PASSWORD_CHARS => (hash, true),
        _ => (dummy_hash(), false),
    };
    recompute(password.as_bytes(), stored, memory) && real
}

/// Hash `password` with the parameters and salt of `stored` and compare.
fn recompute(password: &[u8], stored: &str, memory: &mut HashMemory) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.block_count() > memory.0.len() {
        log::warn!("a stored password hash asks for more memory than sign-ins may use; refused");
        return false;
    }
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory.0[..])
        .is_ok()
        && crate::crypto::equal_in_constant_time(&out, expected.as_bytes())
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
}

/// Failed sign-ins in a row an account may have before it is locked.
pub const FREE_FAILED_SIGN_INS: u32 = 5;
/// First lockout; each further failure doubles it, up to [`MAX_LOCKOUT`].
pub const FIRST_LOCKOUT: time::Duration = time::Duration::seconds(30);
pub const MAX_LOCKOUT: time::Duration = time::Duration::hours(1);

/// How long to lock an account (or a client) after `failures` failed
/// sign-ins in a row: nothing for the first few, then 30 s, 1 min, 2 min,
/// … up to an hour.
pub fn lockout_after(failures: u32) -> Option<time::Duration> {
    let over = failures.checked_sub(FREE_FAILED_SIGN_INS)?;
    let factor = 1i64 << over.min(16);
    Some((FIRST_LOCKOUT * factor as i32).min(MAX_LOCKOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_scopes_are_a_non_empty_set_of_known_names() {
        assert_eq!(
            TokenScopes::parse("export, statistics,export").unwrap().to_string(),
            "statistics,export"
        );
        assert!(TokenScopes::parse("statistics")
            .unwrap()
            .contains(TokenScope::Statistics));
        assert!(!TokenScopes::parse("statistics").unwrap().contains(TokenScope::Export));
        assert_eq!(TokenScopes::parse(" , "), Err(AccountError::NoScope));
        assert_eq!(
            TokenScopes::parse("statistics,admin"),
            Err(AccountError::UnknownScope("admin".into()))
        );
    }

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
        let mut memory = HashMemory::new();
        assert!(verify_password("correct horse", Some(&hash), &mut memory));
        assert!(!verify_password("correct horsE", Some(&hash), &mut memory));
        assert!(!verify_password("correct horse", None, &mut memory));
        assert!(!verify_password("correct horse", Some("not a hash"), &mut memory));
        // A hash made elsewhere with other parameters still verifies.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let other = light.hash_password(b"tide pool", &salt).unwrap().to_string();
        assert!(verify_password("tide pool", Some(&other), &mut memory));
        assert!(!verify_password("tide poo1", Some(&other), &mut memory));
        let heavy = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(Params::DEFAULT_M_COST * 2, 1, 1, None).unwrap(),
        );
        let greedy = heavy.hash_password(b"tide pool", &salt).unwrap().to_string();
        assert!(
            !verify_password("tide pool", Some(&greedy), &mut memory),
            "never computed"
        );
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salts differ");
        let generated = generate_password();
        assert_eq!(generated.chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(check_password(&generated).is_ok());
        assert_ne!(generated, generate_password());
    }

    #[test]
    fn lockouts_double_up_to_an_hour() {
        assert_eq!(lockout_after(0), None);
        assert_eq!(lockout_after(4), None);
        assert_eq!(lockout_after(5), Some(time::Duration::seconds(30)));
        assert_eq!(lockout_after(6), Some(time::Duration::seconds(60)));
        assert_eq!(lockout_after(8), Some(time::Duration::seconds(240)));
        assert_eq!(lockout_after(12), Some(time::Duration::hours(1)));
        assert_eq!(lockout_after(u32::MAX), Some(time::Duration::hours(1)));
    }
}
