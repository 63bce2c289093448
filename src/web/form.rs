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
                let hex = input.get(i + 1..i + 3).ok_or(FormDecodeError::BadEscape)?;
                let hex = std::str::from_utf8(hex).map_err(|_| FormDecodeError::BadEscape)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| FormDecodeError::BadEscape)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormDecodeError::InvalidUtf8)
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
}
