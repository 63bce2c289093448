//! UI messages in every language and the choice of language per request.
//!
//! Texts that come from a survey live in its definition; everything else a
//! resident reads (buttons, errors, notes) lives in `messages.toml`, one
//! entry per key with zh, en and ko side by side so translators see gaps.

use crate::lang::Lang;
use actix_web::HttpRequest;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const CATALOG: &str = include_str!("messages.toml");

/// Name of the cookie that remembers the resident's language.
pub const LANG_COOKIE: &str = "lang";

/// The UI message catalog, checked complete at start-up.
#[derive(Debug, Clone)]
pub struct Messages {
    by_lang: [Arc<Map<String, Value>>; 3],
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("messages.toml is not valid TOML: {0}")]
    Syntax(String),
    #[error("messages.toml: key {key:?} has no {lang} text")]
    Missing { key: String, lang: &'static str },
}

impl Messages {
    pub fn load() -> Result<Messages, CatalogError> {
        Messages::parse(CATALOG)
    }

    pub fn parse(text: &str) -> Result<Messages, CatalogError> {
        let raw: BTreeMap<String, BTreeMap<String, String>> =
            toml::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        let mut by_lang: [Map<String, Value>; 3] = Default::default();
        for (key, texts) in &raw {
            for (i, lang) in Lang::ALL.iter().enumerate() {
                match texts.get(lang.code()).filter(|t| !t.trim().is_empty()) {
                    Some(t) => {
                        by_lang[i].insert(key.clone(), Value::String(t.clone()));
                    }
                    None => {
                        return Err(CatalogError::Missing {
                            key: key.clone(),
                            lang: lang.english_name(),
                        })
                    }
                }
            }
        }
        Ok(Messages {
            by_lang: by_lang.map(Arc::new),
        })
    }

    fn index(lang: Lang) -> usize {
        Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0)
    }

    /// Every message in `lang`, for templates (`{{t.key}}`).
    pub fn all(&self, lang: Lang) -> Arc<Map<String, Value>> {
        self.by_lang[Self::index(lang)].clone()
    }

    /// One message with `{name}` placeholders filled in. A missing key is
    /// shown as the key itself, so a gap is visible rather than fatal; the
    /// test suite checks that every key the code uses exists.
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        let template = self.by_lang[Self::index(lang)]
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(key);
        args.iter().fold(template.to_string(), |acc, (name, value)| {
            acc.replace(&format!("{{{name}}}"), value)
        })
    }

    pub fn has(&self, key: &str) -> bool {
        self.by_lang[0].contains_key(key)
    }
}

/// The resident's language: `?lang=`, then the `lang` cookie, then
/// `Accept-Language`, then Chinese.
pub fn negotiate(req: &HttpRequest) -> Lang {
    query_lang(req)
        .or_else(|| req.cookie(LANG_COOKIE).and_then(|c| c.value().parse().ok()))
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|h| h.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::DEFAULT)
}

/// The language named in the query string, if it names a supported one.
pub fn query_lang(req: &HttpRequest) -> Option<Lang> {
    query_param(req.query_string(), "lang").and_then(|v| v.parse().ok())
}

/// A query parameter's value (first occurrence), percent-decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    super::form::parse_urlencoded(query.as_bytes())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A calendar day as a resident reads it: `2026年12月2日`,
/// `December 2, 2026` (the project writes US English), `2026년 12월 2일`.
pub fn long_date(lang: Lang, date: time::Date) -> String {
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    match lang {
        Lang::Zh => format!("{y}年{m}月{d}日"),
        Lang::En => format!("{} {d}, {y}", date.month()),
        Lang::Ko => format!("{y}년 {m}월 {d}일"),
    }
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn dates_read_naturally_in_each_language() {
        let day = time::macros::date!(2026 - 12 - 02);
        assert_eq!(long_date(Lang::Zh, day), "2026年12月2日");
        assert_eq!(long_date(Lang::En, day), "December 2, 2026");
        assert_eq!(long_date(Lang::Ko, day), "2026년 12월 2일");
    }
}
