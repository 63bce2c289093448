//! Pages that are the same for everyone but for a few short tokens,
//! gzip-compressed once and spliced per response.
//!
//! The first page of a resident form differs between requests only in its
//! two hidden tokens (`_csrf` and `_form`). Compressing all of it again for
//! every request (the `Compress` middleware) held `GET /s/{slug}` to about
//! 4,700 responses a second on two cores. Here the page is compressed once,
//! as one deflate stream in which each token's place holds a filler of the
//! token's length, flushed to a byte boundary before and after it. A
//! response is that stream with each filler's compressed bytes replaced by
//! a stored (uncompressed) block holding the real token, and the CRC-32 of
//! the page worked out by combining those of its static parts and tokens:
//! one gzip member, as any client decodes it, byte for byte the page a
//! plain rendering gives.
//!
//! Why splicing is exact: deflate's back-references copy earlier output, so
//! a later part could only refer into a token's place by repeating bytes it
//! holds. The filler is the byte 0xFF, which never occurs in UTF-8 text, so
//! nothing refers into it, while distances that reach past it stay right
//! because a token is exactly as long as its filler. Each page is also
//! decoded once after compression and compared with the plain page, and
//! served plain (compressed per request) should that ever fail.
//!
//! [`PageCache`] keeps such pages, bounded, and is emptied when the
//! published surveys change.

use actix_web::http::header::{AcceptEncoding, Encoding};
use actix_web::{HttpMessage, HttpRequest};
use std::collections::HashMap;
use std::hash::Hash;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// Stands in for a token while the page is compressed; no UTF-8 text has it.
const FILLER: u8 = 0xFF;

/// A gzip member's header: deflate, no name or time, unknown system.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Bytes a stored block adds to what it holds (type, then LEN and NLEN).
const STORED_BLOCK_OVERHEAD: usize = 5;

/// What a response to this request is encoded with, decided as the
/// `Compress` middleware decides it, so that a spliced page goes out exactly
/// when the middleware would have gzipped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiated {
    Gzip,
    /// No encoding: the response must still say it varies with the header.
    Identity,
    /// Another encoding, left to the middleware (which adds `Vary` itself).
    Other,
}

/// The encodings `Compress` offers with actix-web's `compress-gzip`.
const OFFERED: [Encoding; 3] = [Encoding::identity(), Encoding::gzip(), Encoding::deflate()];

pub fn encoding_for(req: &HttpRequest) -> Negotiated {
    // A missing or unreadable header means no encoding, to the middleware too.
    let Some(accept) = req.get_header::<AcceptEncoding>() else {
        return Negotiated::Identity;
    };
    match accept.negotiate(OFFERED.iter()) {
        Some(e) if e == Encoding::gzip() => Negotiated::Gzip,
        Some(e) if e == Encoding::identity() => Negotiated::Identity,
        _ => Negotiated::Other,
    }
}

/// A page with slots for per-response tokens, plain and precompressed.
pub struct SplicedPage {
    /// The page's static text; a slot lies between each two parts.
    parts: Vec<String>,
    /// Which token fills each slot, and how long it must be.
    slots: Vec<Slot>,
    /// `None` when the compressed page failed its check (never expected).
    gzip: Option<GzipParts>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    token: usize,
    len: usize,
}

struct GzipParts {
    /// The compressed parts, each starting and ending on a byte boundary;
    /// the last one ends the deflate stream.
    pieces: Vec<Vec<u8>>,
    /// The CRC-32 (and length) of each part, combined per response.
    crcs: Vec<crc32fast::Hasher>,
    /// The page's length, the same for every response.
    page_len: usize,
}

impl SplicedPage {
    /// `page` with every occurrence of `sentinels[i]` a slot for the i-th
    /// token; a token must have its sentinel's length to be spliced.
    pub fn new(page: &str, sentinels: &[&str]) -> SplicedPage {
        let mut found: Vec<(usize, usize)> = sentinels
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .flat_map(|(token, s)| page.match_indices(*s).map(move |(at, _)| (at, token)))
            .collect();
        found.sort_unstable();
        let mut parts = Vec::with_capacity(found.len() + 1);
        let mut slots = Vec::with_capacity(found.len());
        let mut from = 0;
        for (at, token) in found {
            // Sentinels that overlap cannot both be replaced; the earlier wins,
            // as in successive `str::replace` calls it does not matter here.
            if at < from {
                continue;
            }
            parts.push(page[from..at].to_string());
            let len = sentinels[token].len();
            slots.push(Slot { token, len });
            from = at + len;
        }
        parts.push(page[from..].to_string());
        let mut spliced = SplicedPage {
            parts,
            slots,
            gzip: None,
        };
        spliced.gzip = spliced.compress(sentinels).ok();
        spliced
    }

    /// The page with `tokens` in their slots.
    pub fn plain(&self, tokens: &[&str]) -> String {
        let mut out = String::with_capacity(self.parts.iter().map(String::len).sum::<usize>() + 128);
        out.push_str(&self.parts[0]);
        for (slot, part) in self.slots.iter().zip(&self.parts[1..]) {
            out.push_str(tokens[slot.token]);
            out.push_str(part);
        }
        out
    }

    /// The gzip-encoded page with `tokens` in their slots; `None` when a
    /// token is not its sentinel's length (or the page has no gzip form).
    pub fn gzip(&self, tokens: &[&str]) -> Option<Vec<u8>> {
        let gzip = self.gzip.as_ref()?;
        if self
            .slots
            .iter()
            .any(|s| tokens.get(s.token).map(|t| t.len()) != Some(s.len))
        {
            return None;
        }
        let size = GZIP_HEADER.len()
            + gzip.pieces.iter().map(Vec::len).sum::<usize>()
            + self.slots.iter().map(|s| s.len + STORED_BLOCK_OVERHEAD).sum::<usize>()
            + 8;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&GZIP_HEADER);
        out.extend_from_slice(&gzip.pieces[0]);
        let mut crc = gzip.crcs[0].clone();
        for (i, slot) in self.slots.iter().enumerate() {
            let token = tokens[slot.token].as_bytes();
            stored_block(&mut out, token);
            let mut own = crc32fast::Hasher::new();
            own.update(token);
            crc.combine(&own);
            crc.combine(&gzip.crcs[i + 1]);
            out.extend_from_slice(&gzip.pieces[i + 1]);
        }
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32.
        out.extend_from_slice(&(gzip.page_len as u32).to_le_bytes());
        Some(out)
    }

    fn compress(&self, sentinels: &[&str]) -> Result<GzipParts, SpliceError> {
        if self.slots.iter().any(|s| s.len > usize::from(u16::MAX)) {
            return Err(SpliceError::TokenTooLong);
        }
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let mut pieces = Vec::with_capacity(self.parts.len());
        let mut start = 0;
        for (part, slot) in self.parts.iter().zip(&self.slots) {
            encoder.write_all(part.as_bytes())?;
            // A sync flush ends the blocks so far on a byte boundary.
            encoder.flush()?;
            let end = encoder.get_ref().len();
            pieces.push(encoder.get_ref()[start..end].to_vec());
            encoder.write_all(&vec![FILLER; slot.len])?;
            encoder.flush()?;
            start = encoder.get_ref().len();
        }
        let last = self.parts.last().expect("a page has at least one part");
        encoder.write_all(last.as_bytes())?;
        let stream = encoder.finish()?;
        pieces.push(stream[start..].to_vec());
        let crcs = self
            .parts
            .iter()
            .map(|p| {
                let mut h = crc32fast::Hasher::new();
                h.update(p.as_bytes());
                h
            })
            .collect();
        let page_len =
            self.parts.iter().map(String::len).sum::<usize>() + self.slots.iter().map(|s| s.len).sum::<usize>();
        let gzip = GzipParts { pieces, crcs, page_len };
        // The check: spliced with its sentinels, it must decode to the page.
        let candidate = SplicedPage {
            parts: Vec::new(),
            slots: self.slots.clone(),
            gzip: Some(gzip),
        };
        let encoded = candidate.gzip(sentinels).ok_or(SpliceError::Mismatch)?;
        let mut decoded = Vec::with_capacity(page_len);
        flate2::read::GzDecoder::new(&encoded[..]).read_to_end(&mut decoded)?;
        if decoded != self.plain(sentinels).as_bytes() {
            log::warn!("a precompressed page did not decode to itself; it is compressed per response");
            return Err(SpliceError::Mismatch);
        }
        Ok(candidate.gzip.expect("set above"))
    }
}

/// Why a page has no precompressed form.
#[derive(Debug, thiserror::Error)]
enum SpliceError {
    #[error("a token is longer than a stored block holds")]
    TokenTooLong,
    #[error("compressing the page: {0}")]
    Io(#[from] std::io::Error),
    #[error("the spliced page did not decode to the page")]
    Mismatch,
}

/// A non-final stored block holding `data`, starting on a byte boundary
/// (BFINAL 0 and BTYPE 00 in the low bits, the rest padding).
fn stored_block(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len() as u16;
    out.push(0);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

/// Spliced pages by key, at most `capacity` of them: when full it starts
/// again empty, as the keys in use (published versions × languages × text
/// sizes) are few and each is cheap to make again.
pub struct PageCache<K> {
    pages: Mutex<HashMap<K, Arc<SplicedPage>>>,
    capacity: usize,
}

impl<K: Eq + Hash> PageCache<K> {
    pub fn new(capacity: usize) -> PageCache<K> {
        PageCache {
            pages: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The page under `key`, made with `make` when missing. The lock is not
    /// held while a page is made: two requests may both make it, once.
    pub fn get_or_make<E>(&self, key: K, make: impl FnOnce() -> Result<SplicedPage, E>) -> Result<Arc<SplicedPage>, E> {
        if let Some(page) = self.lock().get(&key) {
            return Ok(page.clone());
        }
        let page = Arc::new(make()?);
        let mut pages = self.lock();
        if pages.len() >= self.capacity {
            pages.clear();
        }
        pages.insert(key, page.clone());
        Ok(page)
    }

    /// Forget every page (the surveys they show were published anew).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<SplicedPage>>> {
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    /// A page long and repetitive enough that the compressor refers back
    /// across the slots, including to text just before and after them.
    fn page() -> String {
        let mut page = String::from("<!doctype html>\n<html lang=\"en\">\n");
        for i in 0..200 {
            page.push_str(&format!(
                "<input type=\"hidden\" name=\"_csrf\" value=\"{}\"><p>question {i} 安全</p>\n",
                if i % 50 == 0 { "AAAA" } else { "aaaa" }
            ));
            if i == 120 {
                page.push_str("<input name=\"_form\" value=\"BBBBBBBB\">");
            }
        }
        page
    }

    #[test]
    fn spliced_gzip_decodes_to_the_plain_page_for_any_tokens() {
        let page = SplicedPage::new(&page(), &["AAAA", "BBBBBBBB"]);
        assert_eq!(page.slots.len(), 5);
        for tokens in [
            ["AAAA", "BBBBBBBB"],
            ["aaaa", "<input n"],
            ["\u{ff}xy", "question"],
            ["ques", "value=\"a"],
        ] {
            let gz = page.gzip(&tokens).expect("tokens of the right length");
            // `GzDecoder` reads one gzip member: the page is all in it.
            assert_eq!(gunzip(&gz), page.plain(&tokens).as_bytes(), "{tokens:?}");
        }
        assert_eq!(page.plain(&["AAAA", "BBBBBBBB"]), self::page());
        let plain = self::page().replace("AAAA", "1234").replace("BBBBBBBB", "abcdefgh");
        assert_eq!(page.plain(&["1234", "abcdefgh"]), plain);
    }

    #[test]
    fn the_compressed_page_is_much_smaller_than_the_page() {
        let page = SplicedPage::new(&page(), &["AAAA", "BBBBBBBB"]);
        let gz = page.gzip(&["1234", "abcdefgh"]).unwrap();
        assert!(
            gz.len() * 5 < self::page().len(),
            "{} of {}",
            gz.len(),
            self::page().len()
        );
    }

    #[test]
    fn tokens_of_another_length_are_not_spliced() {
        let page = SplicedPage::new(&page(), &["AAAA", "BBBBBBBB"]);
        assert!(page.gzip(&["AAA", "BBBBBBBB"]).is_none());
        assert!(page.gzip(&["AAAA", "BBBBBBBBB"]).is_none());
        assert!(page.gzip(&["AAAA"]).is_none());
    }

    #[test]
    fn pages_without_slots_and_adjacent_slots_work() {
        for (text, sentinels) in [
            ("no tokens here", &["XX", "YY"][..]),
            ("XXYY", &["XX", "YY"][..]),
            ("", &["XX"][..]),
            ("XX", &["XX"][..]),
        ] {
            let page = SplicedPage::new(text, sentinels);
            let tokens = ["12", "34"];
            let gz = page.gzip(&tokens[..sentinels.len()]).unwrap();
            assert_eq!(
                gunzip(&gz),
                page.plain(&tokens[..sentinels.len()]).as_bytes(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_cache_is_bounded_and_can_be_emptied() {
        let cache = PageCache::new(3);
        for i in 0..10 {
            let page = cache
                .get_or_make(i, || Ok::<_, ()>(SplicedPage::new(&format!("page {i}"), &[])))
                .unwrap();
            assert_eq!(page.plain(&[]), format!("page {i}"));
            assert!(cache.len() <= 3);
        }
        let again = cache.get_or_make(9, || Err("made again")).unwrap();
        assert_eq!(again.plain(&[]), "page 9");
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.get_or_make(9, || Err("made again")).err(), Some("made again"));
    }
}
