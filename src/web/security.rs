//! Tokens for forms: the CSRF double-submit cookie and the per-form token
//! that makes a double submission harmless.

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
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

#[cfg(test)]
mod tests {
    use super::*;

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
