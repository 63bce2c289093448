//! Strict decoding of `application/x-www-form-urlencoded` bodies.
//!
//! The usual decoders replace invalid UTF-8 with U+FFFD, which would store
//! a corrupted answer without telling anyone. Here invalid UTF-8 or a
//! broken percent escape is an error, so the resident is told and nothing
//! is stored.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormDecodeError {
    #[error("the form data is not valid UTF-8")]
    InvalidUtf8,
    #[error("the form data has a broken percent-escape")]
    BadEscape,
}

/// Decode `a=1&b=x+y` into pairs, keeping repeated keys in order.
pub fn parse_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, FormDecodeError> {
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            Ok((decode(key)?, decode(value)?))
        })
        .collect()
}

fn decode(input: &[u8]) -> Result<String, FormDecodeError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Exactly two hex digits: `u8::from_str_radix` would also
                // take a sign, reading `%+e` as the byte 0x0e.
                let byte = match input.get(i + 1..i + 3) {
                    Some(&[high, low]) => hex_digit(high).zip(hex_digit(low)).map(|(h, l)| (h << 4) | l),
                    _ => None,
                };
                out.push(byte.ok_or(FormDecodeError::BadEscape)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormDecodeError::InvalidUtf8)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_plus_and_escapes() {
        let pairs = parse_urlencoded(b"a=1&b=x+y&c=%E4%B8%AD&a=2&empty=&flag").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "中".into()),
                ("a".into(), "2".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into()),
            ]
        );
    }

    #[test]
    fn refuses_invalid_utf8_and_broken_escapes() {
        assert_eq!(parse_urlencoded(b"a=%FF%FE"), Err(FormDecodeError::InvalidUtf8));
        assert_eq!(parse_urlencoded(b"a=\xff"), Err(FormDecodeError::InvalidUtf8));
        assert_eq!(parse_urlencoded(b"a=%4"), Err(FormDecodeError::BadEscape));
        assert_eq!(parse_urlencoded(b"a=%zz"), Err(FormDecodeError::BadEscape));
    }

    /// Found by `fuzz/fuzz_targets/form_body.rs`: a sign is not a hex digit,
    /// so `%+e` is a broken escape, not the byte 0x0e.
    #[test]
    fn refuses_a_percent_escape_with_a_sign() {
        for body in [&b"%+e"[..], b"a=%+e", b"a=h%+eiE4%B8%AD", b"a=%+4", b"a=%-1", b"a=%+"] {
            assert_eq!(parse_urlencoded(body), Err(FormDecodeError::BadEscape), "{body:?}");
        }
        assert_eq!(
            parse_urlencoded(b"a=%0e%7a%7A"),
            Ok(vec![("a".into(), "\u{e}zz".into())])
        );
    }
}
