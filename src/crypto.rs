//! The server's secret key and the keyed hashes made with it.
//!
//! One random 256-bit key, kept in a file beside the database (never in
//! it: a stolen backup of the database alone cannot forge a form token or
//! recover an invitation code). Each use gets its own subkey, derived with
//! HMAC-SHA256 and a purpose label, so a value made for one purpose is
//! never accepted for another. HMAC is written out here rather than pulled
//! in as a crate: it is a dozen lines over `sha2`, and RFC 4231's test
//! vectors check them.

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

const BLOCK: usize = 64;

/// HMAC-SHA256 of the concatenated `parts` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Compare without an early exit, so timing does not reveal a prefix.
pub fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a derived key is for. Each purpose has its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signs the resident form's token (survey version, issue time, CSRF pair).
    FormToken,
    /// Turns an invitation's stored nonce into its code.
    InvitationCode,
    /// Turns a typed invitation code into the key it is stored under.
    InvitationLookup,
    /// Remembers which form used an invitation, without storing the form.
    InvitationUse,
    /// Published in the database to recognise the key file that belongs to it.
    Fingerprint,
    /// Turns a resume code into the key its partial response is stored under.
    ResumeCode,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::FormToken => b"civicpulse/form-token/v1",
            Purpose::InvitationCode => b"civicpulse/invitation-code/v1",
            Purpose::InvitationLookup => b"civicpulse/invitation-lookup/v1",
            Purpose::InvitationUse => b"civicpulse/invitation-use/v1",
            Purpose::Fingerprint => b"civicpulse/key-fingerprint/v1",
            Purpose::ResumeCode => b"civicpulse/resume-code/v1",
        }
    }
}

/// The server's secret key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct ServerKey {
    bytes: [u8; 32],
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("cannot create the key file {path}: {error}")]
    Create { path: String, error: std::io::Error },
    #[error("the key file {path} is damaged: it must hold 64 hexadecimal digits")]
    Damaged { path: String },
}

impl ServerKey {
    pub fn from_bytes(bytes: [u8; 32]) -> ServerKey {
        ServerKey { bytes }
    }

    /// A fresh random key.
    pub fn generate() -> ServerKey {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        ServerKey { bytes }
    }

    /// HMAC of `parts` under the subkey for `purpose`.
    pub fn mac(&self, purpose: Purpose, parts: &[&[u8]]) -> [u8; 32] {
        let subkey = hmac_sha256(&self.bytes, &[purpose.label()]);
        hmac_sha256(&subkey, parts)
    }

    /// A short public name of this key: stored in the database, so that a
    /// server started with another key file is stopped before it refuses
    /// every invitation code made with the right one.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.mac(Purpose::Fingerprint, &[])[..8])
    }

    /// Read the key from `path`; `Ok(None)` when the file does not exist.
    pub fn read(path: &Path) -> Result<Option<ServerKey>, KeyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(KeyError::Read {
                    path: path.display().to_string(),
                    error,
                })
            }
        };
        let damaged = || KeyError::Damaged {
            path: path.display().to_string(),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| damaged())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| damaged())?;
        Ok(Some(ServerKey { bytes }))
    }

    /// Write a new random key to `path`, readable by its owner only. Fails
    /// rather than overwrite an existing file.
    pub fn create(path: &Path) -> Result<ServerKey, KeyError> {
        use std::io::Write;
        let key = ServerKey::generate();
        let failed = |error| KeyError::Create {
            path: path.display().to_string(),
            error,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(failed)?;
        writeln!(file, "{}", hex::encode(key.bytes)).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        Ok(key)
    }
}

/// Where the key lives by default: beside the SQLite file, as
/// `NAME.key` for `NAME.db`.
pub fn default_key_path(database_file: &Path) -> PathBuf {
    database_file.with_extension("key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_mac(key: &[u8], data: &[u8]) -> String {
        hex::encode(hmac_sha256(key, &[data]))
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 1
        assert_eq!(
            hex_mac(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2
        assert_eq!(
            hex_mac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first
        assert_eq!(
            hex_mac(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // Split input is the same as joined input.
        assert_eq!(
            hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]),
            hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])
        );
    }

    #[test]
    fn purposes_get_different_keys() {
        let key = ServerKey::from_bytes([7; 32]);
        assert_ne!(
            key.mac(Purpose::FormToken, &[b"x"]),
            key.mac(Purpose::InvitationLookup, &[b"x"])
        );
        assert_eq!(
            key.mac(Purpose::FormToken, &[b"x"]),
            key.mac(Purpose::FormToken, &[b"x"])
        );
        assert_ne!(key.fingerprint(), ServerKey::from_bytes([8; 32]).fingerprint());
        assert_eq!(format!("{key:?}"), "ServerKey(..)");
    }

    #[test]
    fn key_files_are_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("civicpulse.key");
        assert!(ServerKey::read(&path).unwrap().is_none());
        let key = ServerKey::create(&path).unwrap();
        let again = ServerKey::read(&path).unwrap().unwrap();
        assert_eq!(key.fingerprint(), again.fingerprint());
        assert!(ServerKey::create(&path).is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(ServerKey::read(&path), Err(KeyError::Damaged { .. })));
        assert_eq!(
            default_key_path(Path::new("/data/civicpulse.db")),
            PathBuf::from("/data/civicpulse.key")
        );
    }
}
