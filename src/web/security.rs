//! Tokens for forms: the CSRF double-submit cookie, and the signed
//! per-form token that makes a double submission harmless and a forged
//! one useless.
//!
//! The form token is issued by the server with each rendered form. It is
//! an HMAC under the server key (`crypto::Purpose::FormToken`) of the
//! survey version, the time it was issued, a random nonce and the CSRF
//! token of the same page, so a client can neither make one up nor pair a
//! real one with a made-up CSRF cookie, and the time it carries gives the
//! completion time of the response without storing anything else.

use crate::crypto::{equal_in_constant_time, Purpose, ServerKey};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use rand::RngCore;

/// Cookie holding the CSRF token; the form repeats it in `_csrf`. A page on
/// another site can make a browser post a form but cannot read or set this
/// cookie, so it cannot make the two match.
pub const CSRF_COOKIE: &str = "cp_csrf";

/// 128 random bits as 32 lowercase hex digits.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compare without an early exit, so timing does not reveal a prefix.
pub fn tokens_match(a: &str, b: &str) -> bool {
    equal_in_constant_time(a.as_bytes(), b.as_bytes())
}

/// Anonymous CSRF tokens (the `cp_csrf` cookie) are 32 lowercase hex digits.
pub fn is_csrf_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The request's CSRF cookie, when it has the shape of one of ours.
pub fn csrf_of(req: &HttpRequest) -> Option<String> {
    req.cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|c| is_csrf_token(c))
}

/// The request's CSRF token, or a new one for a browser without it.
pub fn csrf_or_new(req: &HttpRequest) -> String {
    csrf_of(req).unwrap_or_else(new_token)
}

/// The request's CSRF cookie, when the form sent the same token back.
pub fn matching_csrf(req: &HttpRequest, sent: Option<&str>) -> Option<String> {
    csrf_of(req).filter(|cookie| sent.is_some_and(|sent| tokens_match(cookie, sent)))
}

pub fn csrf_cookie(req: &HttpRequest, token: &str) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        // Lax, not Strict: a resident who arrives from a link in a chat app
        // keeps the token their open form already carries.
        .same_site(SameSite::Lax)
        .secure(req.connection_info().scheme() == "https")
        .finish()
}

/// How long a rendered form may be sent: long enough for a resident who
/// leaves the tab open over a weekend.
pub const FORM_TOKEN_LIFETIME: time::Duration = time::Duration::days(7);
/// Clock difference tolerated between instances that issue and check.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);
/// Hex digits of a form token: issue time (8), nonce (16), MAC (32).
pub const FORM_TOKEN_LEN: usize = 56;

/// Why a form token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormTokenProblem {
    #[error("the form token is missing or malformed")]
    Malformed,
    #[error("the form token was not issued by this server for this form")]
    Forged,
    #[error("the form token has expired")]
    Expired,
}

/// What a form token is bound to.
pub struct FormBinding<'a> {
    pub slug: &'a str,
    pub version: u32,
    pub csrf: &'a str,
}

fn form_mac(key: &ServerKey, binding: &FormBinding<'_>, issued: u32, nonce: &[u8]) -> [u8; 32] {
    key.mac(
        Purpose::FormToken,
        &[
            binding.slug.as_bytes(),
            b"\0",
            &binding.version.to_be_bytes(),
            &issued.to_be_bytes(),
            nonce,
            binding.csrf.as_bytes(),
        ],
    )
}

/// A new form token, issued `now`.
pub fn issue_form_token(key: &ServerKey, binding: &FormBinding<'_>, now: time::OffsetDateTime) -> String {
    let issued = now.unix_timestamp().clamp(0, i64::from(u32::MAX)) as u32;
    let mut nonce = [0u8; 8];
    rand::rng().fill_bytes(&mut nonce);
    let mac = form_mac(key, binding, issued, &nonce);
    format!(
        "{}{}{}",
        hex::encode(issued.to_be_bytes()),
        hex::encode(nonce),
        hex::encode(&mac[..16])
    )
}

/// Check a form token and return when it was issued.
pub fn verify_form_token(
    key: &ServerKey,
    token: &str,
    binding: &FormBinding<'_>,
    now: time::OffsetDateTime,
) -> Result<time::OffsetDateTime, FormTokenProblem> {
    let lowercase_hex = token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if token.len() != FORM_TOKEN_LEN || !lowercase_hex {
        return Err(FormTokenProblem::Malformed);
    }
    let bytes = hex::decode(token).map_err(|_| FormTokenProblem::Malformed)?;
    let issued = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"));
    let (nonce, mac) = (&bytes[4..12], &bytes[12..28]);
    let expected = form_mac(key, binding, issued, nonce);
    if !equal_in_constant_time(&expected[..16], mac) {
        return Err(FormTokenProblem::Forged);
    }
    let issued_at =
        time::OffsetDateTime::from_unix_timestamp(i64::from(issued)).map_err(|_| FormTokenProblem::Malformed)?;
    if issued_at > now + CLOCK_SKEW {
        return Err(FormTokenProblem::Forged);
    }
    if now - issued_at > FORM_TOKEN_LIFETIME {
        return Err(FormTokenProblem::Expired);
    }
    Ok(issued_at)
}

/// Whether `s` has the shape of a form token (for double-submit lookups).
pub fn is_form_token(s: &str) -> bool {
    s.len() == FORM_TOKEN_LEN && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tokens_are_bound_to_their_form_and_age() {
        let key = ServerKey::from_bytes([9; 32]);
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let binding = FormBinding {
            slug: "livability",
            version: 2,
            csrf: "0123456789abcdef0123456789abcdef",
        };
        let token = issue_form_token(&key, &binding, now);
        assert!(is_form_token(&token));
        let later = now + time::Duration::minutes(12);
        assert_eq!(verify_form_token(&key, &token, &binding, later), Ok(now));
        assert_ne!(issue_form_token(&key, &binding, now), token, "a fresh nonce each time");

        let other_version = FormBinding { version: 1, ..binding };
        let other_csrf = FormBinding {
            csrf: "ffffffffffffffffffffffffffffffff",
            ..binding
        };
        let other_survey = FormBinding {
            slug: "pride",
            ..binding
        };
        for b in [&other_version, &other_csrf, &other_survey] {
            assert_eq!(verify_form_token(&key, &token, b, later), Err(FormTokenProblem::Forged));
        }
        let other_key = ServerKey::from_bytes([8; 32]);
        assert_eq!(
            verify_form_token(&other_key, &token, &binding, later),
            Err(FormTokenProblem::Forged)
        );
        // Any changed digit, including the issue time, breaks the MAC.
        for i in 0..FORM_TOKEN_LEN {
            let mut altered = token.clone().into_bytes();
            altered[i] = if altered[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(altered).unwrap();
            assert_eq!(
                verify_form_token(&key, &altered, &binding, later),
                Err(FormTokenProblem::Forged),
                "digit {i}"
            );
        }
        assert_eq!(
            verify_form_token(&key, &"a".repeat(32), &binding, later),
            Err(FormTokenProblem::Malformed)
        );
        assert_eq!(
            verify_form_token(&key, &token.to_uppercase(), &binding, later),
            Err(FormTokenProblem::Malformed)
        );
        let too_late = now + FORM_TOKEN_LIFETIME + time::Duration::seconds(1);
        assert_eq!(
            verify_form_token(&key, &token, &binding, too_late),
            Err(FormTokenProblem::Expired)
        );
        let before = now - time::Duration::hours(1);
        assert_eq!(
            verify_form_token(&key, &token, &binding, before),
            Err(FormTokenProblem::Forged),
            "issued in the future"
        );
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(tokens_match(&a, &a.clone()));
        assert!(!tokens_match(&a, &b));
        assert!(!tokens_match(&a, &a[..31]));
    }
}
