//! The large-text setting for residents who find the default type too
//! small, kept for a year in a cookie so it holds on every visit, and
//! working without JavaScript.
//!
//! Every page's header has a toggle: a small GET form that reloads the
//! current page with `?text=large` (or `normal`), like the language links
//! with `?lang=`. This middleware remembers the choice in the `text` cookie
//! and gives the page's `<html>` the class `text-large`, which the
//! style sheet turns into a larger root font size. It works on the page
//! as rendered, so cached forms, error pages and staff pages all follow
//! without each handler knowing about it; pages at the default size pass
//! through untouched. A page its handler encoded itself (the precompressed
//! form, see `precompressed`) cannot be marked here: that handler renders
//! it at the size [`requested`] gives.
//!
//! On a section page of the survey the toggle is a button of the page's
//! form instead (`_text`), so that unsaved answers are saved rather than
//! lost; that handler sets the same cookie with [`cookie`], and a page
//! that sets the cookie is rendered at the size it sets.

use super::i18n::query_param;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

/// The cookie that remembers the choice.
pub const TEXT_COOKIE: &str = "text";

/// The start of the layout's root element, right after the doctype.
const HTML_TAG: &[u8] = b"<html ";
const MARK_WITHIN: usize = 64;
const LARGE_CLASS: &[u8] = b" class=\"text-large\"";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextSize {
    Default,
    Large,
}

impl TextSize {
    pub fn parse(value: &str) -> Option<TextSize> {
        match value {
            "large" => Some(TextSize::Large),
            "normal" => Some(TextSize::Default),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            TextSize::Large => "large",
            TextSize::Default => "normal",
        }
    }
}

/// The cookie that keeps `size` for a year.
pub fn cookie(req: &actix_web::HttpRequest, size: TextSize) -> Cookie<'static> {
    remember(size, req.connection_info().scheme() == "https")
}

fn remember(size: TextSize, secure: bool) -> Cookie<'static> {
    Cookie::build(TEXT_COOKIE, size.as_str())
        .path("/")
        .max_age(actix_web::cookie::time::Duration::days(365))
        .same_site(SameSite::Lax)
        .http_only(true)
        .secure(secure)
        .finish()
}

/// The size a request asks for: `?text=`, else the cookie, else the default.
/// A handler that encodes its page itself renders it at this size (see
/// `apply`, which cannot mark an encoded page).
pub fn requested(req: &actix_web::HttpRequest) -> TextSize {
    choose(req.query_string(), req.cookie(TEXT_COOKIE).as_ref().map(Cookie::value)).1
}

/// What `?text=` chose, if anything, and the size: the query's choice,
/// else the cookie's, else the default.
fn choose(query: &str, cookie: Option<&str>) -> (Option<TextSize>, TextSize) {
    let chosen = query_param(query, "text").and_then(|v| TextSize::parse(&v));
    let size = chosen
        .or_else(|| cookie.and_then(TextSize::parse))
        .unwrap_or(TextSize::Default);
    (chosen, size)
}

/// `html` with its `<html>` marked for large text; `None` when the page
/// does not start the way `layout.hbs` does (then it is left alone).
pub fn mark_large(html: &[u8]) -> Option<Vec<u8>> {
    let head = &html[..html.len().min(MARK_WITHIN)];
    let open = head.windows(HTML_TAG.len()).position(|w| w == HTML_TAG)?;
    let close = open + html[open..].iter().position(|&b| b == b'>')?;
    if html[open..close].windows(6).any(|w| w == b"class=") {
        return None;
    }
    let mut out = Vec::with_capacity(html.len() + LARGE_CLASS.len());
    out.extend_from_slice(&html[..close]);
    out.extend_from_slice(LARGE_CLASS);
    out.extend_from_slice(&html[close..]);
    Some(out)
}

pub async fn apply(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (chosen, size) = choose(req.query_string(), req.cookie(TEXT_COOKIE).as_ref().map(Cookie::value));
    let secure = req.connection_info().scheme() == "https";
    let mut res = next.call(req).await?.map_into_boxed_body();
    // A handler that set the cookie itself (a section page's toggle) decides.
    let set_here = res
        .response()
        .cookies()
        .filter(|c| c.name() == TEXT_COOKIE)
        .last()
        .and_then(|c| TextSize::parse(c.value()));
    let size = set_here.unwrap_or(size);
    if let (Some(chosen), None) = (chosen, set_here) {
        res.response_mut()
            .add_cookie(&remember(chosen, secure))
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return Ok(res);
    }
    res.headers_mut()
        .append(header::VARY, header::HeaderValue::from_static("Cookie"));
    // An encoded page (a precompressed form) was rendered at `requested`.
    if size == TextSize::Default || res.headers().contains_key(header::CONTENT_ENCODING) {
        return Ok(res);
    }
    let (req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    let body = match mark_large(&bytes) {
        Some(marked) => BoxBody::new(marked),
        None => BoxBody::new(bytes),
    };
    Ok(ServiceResponse::new(req, response.set_body(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_layouts_html_element_is_marked() {
        let page = b"<!doctype html>\n<html lang=\"zh-Hans\">\n<p><html lang=\"x\"></p>";
        let marked = String::from_utf8(mark_large(page).unwrap()).unwrap();
        assert!(marked.starts_with("<!doctype html>\n<html lang=\"zh-Hans\" class=\"text-large\">\n"));
        assert_eq!(marked.matches("text-large").count(), 1, "{marked}");
        let late = format!("{}<html lang=\"en\">", " ".repeat(200));
        assert!(mark_large(late.as_bytes()).is_none());
        assert!(mark_large(b"{\"json\": true}").is_none());
        assert_eq!(TextSize::parse("large"), Some(TextSize::Large));
        assert_eq!(TextSize::parse("huge"), None);
    }
}
