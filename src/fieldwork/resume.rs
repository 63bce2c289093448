//! Resume codes: the secret that finds a resident's partial response again,
//! on another day or another device.
//!
//! A code is 20 random symbols of the invitation codes' alphabet
//! (Crockford's base32, 100 bits) and a check symbol (the value modulo
//! 37, as for invitation codes, so a typo is caught before any lookup),
//! written in seven groups of three: `7K3-M9T-X2H-BR4-0QA-5ZD-E8W`.
//! Values whose check would be one of the five extra check symbols are
//! never issued, which leaves 99.8 random bits: guessing one is hopeless
//! even without the rate limit on typed codes.
//!
//! Codes are not stored: the partial response is kept under a keyed hash
//! of the code (`crypto::Purpose::ResumeCode`).

use super::code::{check_symbol, read_symbols, write_symbols};
use super::CodeError;
use crate::crypto::{Purpose, ServerKey};
use std::fmt;

const DATA_SYMBOLS: usize = 20;
/// Symbols of a written code, without the hyphens.
pub const RESUME_SYMBOLS: usize = DATA_SYMBOLS + 1;
const GROUP: usize = 3;

/// A well-formed resume code whose check symbol is right.
#[derive(Clone, PartialEq, Eq)]
pub struct ResumeCode {
    value: u128,
}

impl ResumeCode {
    /// A fresh random code.
    pub fn generate() -> ResumeCode {
        loop {
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let value = u128::from_be_bytes(bytes) >> (128 - 5 * DATA_SYMBOLS);
            if check_symbol(value).is_some() {
                return ResumeCode { value };
            }
        }
    }

    /// Read a code as a resident typed it (forgiving as invitation codes
    /// are: case, spaces, hyphens, `O` for `0`, `I`/`L` for `1`).
    pub fn parse(typed: &str) -> Result<ResumeCode, CodeError> {
        read_symbols(typed, DATA_SYMBOLS).map(|value| ResumeCode { value })
    }

    /// The symbols without hyphens, as hashed.
    pub fn canonical(&self) -> String {
        write_symbols(self.value, DATA_SYMBOLS)
    }

    /// The key the partial response is stored under.
    pub fn storage_key(&self, key: &ServerKey) -> String {
        hex::encode(&key.mac(Purpose::ResumeCode, &[self.canonical().as_bytes()])[..16])
    }
}

/// Written in groups of three, `7K3-M9T-X2H-BR4-0QA-5ZD-E8W`.
impl fmt::Display for ResumeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.canonical();
        let groups: Vec<&str> = (0..RESUME_SYMBOLS / GROUP)
            .map(|i| &c[i * GROUP..(i + 1) * GROUP])
            .collect();
        f.write_str(&groups.join("-"))
    }
}

/// Codes are secrets: debug output never shows one.
impl fmt::Debug for ResumeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeCode(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_and_typos_are_caught() {
        for _ in 0..200 {
            let code = ResumeCode::generate();
            let written = code.to_string();
            assert_eq!(written.len(), 27, "{written}");
            assert_eq!(ResumeCode::parse(&written).unwrap(), code);
            assert_eq!(ResumeCode::parse(&written.to_lowercase()).unwrap(), code);
            assert_eq!(ResumeCode::parse(&written.replace('-', " ")).unwrap(), code);
            let mut symbols: Vec<char> = code.canonical().chars().collect();
            symbols[3] = if symbols[3] == 'A' { 'B' } else { 'A' };
            let typo: String = symbols.into_iter().collect();
            assert_eq!(ResumeCode::parse(&typo), Err(CodeError::Check));
        }
        assert_eq!(ResumeCode::parse(""), Err(CodeError::Empty));
        assert_eq!(ResumeCode::parse("ABC-DEF"), Err(CodeError::Length(6)));
    }

    #[test]
    fn codes_carry_more_than_96_random_bits() {
        // 20 symbols of 5 bits, less the 5 check values of 37 never issued.
        let bits = (5 * DATA_SYMBOLS) as f64 + (32.0f64 / 37.0).log2();
        assert!(bits > 96.0, "{bits}");
        let codes: std::collections::HashSet<String> = (0..500).map(|_| ResumeCode::generate().canonical()).collect();
        assert_eq!(codes.len(), 500);
        for i in 0..DATA_SYMBOLS {
            let seen: std::collections::HashSet<char> = codes.iter().map(|c| c.chars().nth(i).unwrap()).collect();
            assert!(seen.len() > 25, "position {i}: {}", seen.len());
        }
    }

    #[test]
    fn storage_keys_need_the_server_key_and_debug_hides_codes() {
        let code = ResumeCode::generate();
        let a = code.storage_key(&ServerKey::from_bytes([1; 32]));
        assert_ne!(a, code.storage_key(&ServerKey::from_bytes([2; 32])));
        assert_eq!(a.len(), 32);
        assert_eq!(format!("{code:?}"), "ResumeCode(..)");
    }
}
