//! Invitation codes: short enough to type from a letter, hard to guess,
//! and checked for typing mistakes before anything is looked up.
//!
//! A code is 11 symbols of Crockford's base32 (55 bits) and a check symbol,
//! written in three groups of four: `7K3M-Q9TX-2HBR`. The check symbol is
//! Crockford's: the value modulo 37, which catches every single wrong
//! symbol and every swap of two neighbours. Values whose check would be one
//! of Crockford's five extra check symbols (`*~$=U`, awkward on a phone
//! keyboard) are never issued, which costs 0.2 bits: every code still
//! carries 54.8 random bits. Reading is forgiving the way Crockford meant:
//! lower case, spaces and hyphens are fine, `O` reads as `0`, `I` and `L`
//! as `1`.
//!
//! Codes are not stored. Each invitation keeps a random nonce, and the code
//! is a keyed hash of it (`crypto::Purpose::InvitationCode`), so letters can
//! be printed again while a copy of the database alone reveals no code.

use crate::crypto::{Purpose, ServerKey};
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_SYMBOLS: usize = 11;
const DATA_BITS: u32 = 5 * DATA_SYMBOLS as u32;
/// Symbols of a written code, without the hyphens.
pub const CODE_SYMBOLS: usize = DATA_SYMBOLS + 1;
/// Random bits in every issued code: log2(2^55 · 32/37).
pub const CODE_ENTROPY_BITS: f64 = 54.79;
const _: () = assert!(CODE_ENTROPY_BITS >= 50.0, "codes must carry at least 50 random bits");

/// A well-formed invitation code whose check symbol is right. Whether it
/// was ever issued is for the database to say.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InvitationCode {
    value: u64,
}

/// Why typed text is not a code. Each has its own message for residents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("no invitation code was given")]
    Empty,
    #[error("an invitation code has {CODE_SYMBOLS} letters and digits, not {0}")]
    Length(usize),
    #[error("{0:?} cannot be part of an invitation code")]
    Character(char),
    #[error("the code is mistyped: its last symbol does not match the others")]
    Check,
}

fn symbol_value(c: char) -> Option<u64> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u64)
}

/// The check symbol of `value` (mod 37): `None` for the five extra check
/// symbols this alphabet leaves out, so such values are never issued.
pub(super) fn check_symbol(value: u128) -> Option<char> {
    ALPHABET.get((value % 37) as usize).map(|&b| b as char)
}

/// The value of a code of `data_symbols` symbols and a check symbol, read
/// as a resident typed it: case, spaces and hyphens of any kind are
/// forgiven, and so are `O` for `0` and `I`/`L` for `1`.
pub(super) fn read_symbols(typed: &str, data_symbols: usize) -> Result<u128, CodeError> {
    let symbols: Vec<char> = typed
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '‐' | '–' | '—' | '－'))
        .collect();
    if symbols.is_empty() {
        return Err(CodeError::Empty);
    }
    if symbols.len() != data_symbols + 1 {
        return Err(CodeError::Length(symbols.len()));
    }
    let mut value = 0u128;
    for &c in &symbols[..data_symbols] {
        value = value << 5 | u128::from(symbol_value(c).ok_or(CodeError::Character(c))?);
    }
    let typed_check = symbols[data_symbols];
    let expected = check_symbol(value).ok_or(CodeError::Check)?;
    match symbol_value(typed_check) {
        None if "*~$=Uu".contains(typed_check) => Err(CodeError::Check),
        None => Err(CodeError::Character(typed_check)),
        Some(v) if ALPHABET[v as usize] as char == expected => Ok(value),
        Some(_) => Err(CodeError::Check),
    }
}

/// `value` written as its `data_symbols` symbols and check symbol, without
/// hyphens.
pub(super) fn write_symbols(value: u128, data_symbols: usize) -> String {
    let mut out = String::with_capacity(data_symbols + 1);
    for i in (0..data_symbols).rev() {
        out.push(ALPHABET[((value >> (5 * i)) & 31) as usize] as char);
    }
    out.push(check_symbol(value).expect("only codes with a plain check symbol exist"));
    out
}

impl InvitationCode {
    /// Read a code as a resident typed it.
    pub fn parse(typed: &str) -> Result<InvitationCode, CodeError> {
        let value = read_symbols(typed, DATA_SYMBOLS)?;
        Ok(InvitationCode {
            value: u64::try_from(value).expect("11 symbols fit in 55 bits"),
        })
    }

    /// The code an invitation's nonce stands for, or `None` when this
    /// nonce would need one of the extra check symbols (pick another).
    pub fn from_nonce(key: &ServerKey, nonce: &[u8]) -> Option<InvitationCode> {
        let mac = key.mac(Purpose::InvitationCode, &[nonce]);
        let value = u64::from_be_bytes(mac[..8].try_into().expect("8 bytes")) >> (64 - DATA_BITS);
        check_symbol(value.into()).map(|_| InvitationCode { value })
    }

    /// The 12 symbols without hyphens, as hashed for lookup.
    pub fn canonical(&self) -> String {
        write_symbols(self.value.into(), DATA_SYMBOLS)
    }

    /// The key the invitation is stored under: a keyed hash, so the
    /// database never holds the code itself.
    pub fn lookup_key(&self, key: &ServerKey) -> String {
        hex::encode(&key.mac(Purpose::InvitationLookup, &[self.canonical().as_bytes()])[..16])
    }
}

/// Written in groups of four, `7K3M-Q9TX-2HBR`.
impl fmt::Display for InvitationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.canonical();
        write!(f, "{}-{}-{}", &c[0..4], &c[4..8], &c[8..12])
    }
}

/// Codes are secrets: debug output never shows one.
impl fmt::Debug for InvitationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationCode(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_codes(n: usize) -> Vec<InvitationCode> {
        let key = ServerKey::from_bytes([3; 32]);
        (0u32..)
            .filter_map(|i| InvitationCode::from_nonce(&key, &i.to_be_bytes()))
            .take(n)
            .collect()
    }

    #[test]
    fn codes_read_back_in_every_forgiving_spelling() {
        for code in some_codes(200) {
            let written = code.to_string();
            assert_eq!(written.len(), 14);
            assert_eq!(InvitationCode::parse(&written).unwrap(), code);
            assert_eq!(InvitationCode::parse(&written.to_lowercase()).unwrap(), code);
            assert_eq!(InvitationCode::parse(&written.replace('-', " ")).unwrap(), code);
            assert_eq!(InvitationCode::parse(&code.canonical()).unwrap(), code);
            let misread = written.replace('0', "O").replace('1', "l");
            assert_eq!(InvitationCode::parse(&misread).unwrap(), code);
        }
    }

    #[test]
    fn every_single_typo_and_neighbour_swap_is_caught() {
        for code in some_codes(60) {
            let symbols: Vec<char> = code.canonical().chars().collect();
            for i in 0..CODE_SYMBOLS {
                for &other in ALPHABET {
                    let other = other as char;
                    if other == symbols[i] {
                        continue;
                    }
                    let mut typo = symbols.clone();
                    typo[i] = other;
                    let typo: String = typo.into_iter().collect();
                    assert_eq!(InvitationCode::parse(&typo), Err(CodeError::Check), "{typo}");
                }
                if i + 1 < CODE_SYMBOLS && symbols[i] != symbols[i + 1] {
                    let mut swapped = symbols.clone();
                    swapped.swap(i, i + 1);
                    let swapped: String = swapped.into_iter().collect();
                    assert_eq!(InvitationCode::parse(&swapped), Err(CodeError::Check), "{swapped}");
                }
            }
        }
    }

    #[test]
    fn malformed_input_says_what_is_wrong() {
        assert_eq!(InvitationCode::parse("  "), Err(CodeError::Empty));
        assert_eq!(InvitationCode::parse("ABCD-EFGH"), Err(CodeError::Length(8)));
        assert_eq!(InvitationCode::parse("ABCD-EFGH-JKM!"), Err(CodeError::Character('!')));
        assert_eq!(InvitationCode::parse("UBCD-EFGH-JKMN"), Err(CodeError::Character('U')));
    }

    #[test]
    fn codes_carry_at_least_fifty_random_bits_and_plain_check_symbols() {
        let expected = (DATA_BITS as f64) + (32.0f64 / 37.0).log2();
        assert!((expected - CODE_ENTROPY_BITS).abs() < 0.01, "{expected}");
        let codes = some_codes(2000);
        let distinct: std::collections::HashSet<String> = codes.iter().map(|c| c.canonical()).collect();
        assert_eq!(distinct.len(), codes.len());
        assert!(codes
            .iter()
            .all(|c| c.canonical().chars().all(|ch| ALPHABET.contains(&(ch as u8)))));
        // Every data symbol position takes many values: no fixed prefix.
        for i in 0..DATA_SYMBOLS {
            let seen: std::collections::HashSet<char> =
                codes.iter().map(|c| c.canonical().chars().nth(i).unwrap()).collect();
            assert!(seen.len() > 28, "position {i}: {}", seen.len());
        }
    }

    #[test]
    fn lookup_keys_depend_on_the_server_key_and_debug_hides_codes() {
        let code = some_codes(1).remove(0);
        let a = code.lookup_key(&ServerKey::from_bytes([1; 32]));
        let b = code.lookup_key(&ServerKey::from_bytes([2; 32]));
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(!a.contains(&code.canonical().to_lowercase()));
        assert_eq!(format!("{code:?}"), "InvitationCode(..)");
    }
}
