//! Errors a resident can meet, each answered with a page in their language
//! and the right status code. Internal details go to the log, never to the
//! page.

use super::render::Renderer;
use crate::lang::Lang;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebErrorKind {
    NotFound,
    BadRequest,
    InvalidUtf8,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    /// The survey's published version opens on a later day.
    NotYetOpen,
    /// The survey's last open day has passed.
    Closed,
    Internal,
}

impl WebErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            WebErrorKind::NotFound => StatusCode::NOT_FOUND,
            WebErrorKind::BadRequest | WebErrorKind::InvalidUtf8 => StatusCode::BAD_REQUEST,
            WebErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            // Not yet: the page exists but may not be used now. Closed: it
            // will not come back, which 410 Gone says.
            WebErrorKind::NotYetOpen => StatusCode::FORBIDDEN,
            WebErrorKind::Closed => StatusCode::GONE,
            WebErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (heading key, message key) in `messages.toml`.
    fn message_keys(self) -> (&'static str, &'static str) {
        match self {
            WebErrorKind::NotFound => ("not_found_title", "not_found_message"),
            WebErrorKind::BadRequest => ("bad_request_title", "bad_request_message"),
            WebErrorKind::InvalidUtf8 => ("bad_request_title", "invalid_utf8_message"),
            WebErrorKind::PayloadTooLarge => ("bad_request_title", "payload_too_large_message"),
            WebErrorKind::UnsupportedMediaType => ("bad_request_title", "unsupported_media_type_message"),
            WebErrorKind::MethodNotAllowed => ("bad_request_title", "method_not_allowed_message"),
            WebErrorKind::NotYetOpen => ("survey_not_yet_open_title", "survey_not_yet_open_message"),
            WebErrorKind::Closed => ("survey_closed_title", "survey_closed_message"),
            WebErrorKind::Internal => ("server_error_title", "server_error_message"),
        }
    }
}

/// An error page to send, already bound to the resident's language.
#[derive(Debug)]
pub struct WebError {
    pub kind: WebErrorKind,
    pub lang: Lang,
    /// For the log only.
    pub detail: String,
    renderer: Arc<Renderer>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

impl WebError {
    pub fn new(kind: WebErrorKind, lang: Lang, renderer: &Arc<Renderer>, detail: impl Into<String>) -> WebError {
        WebError {
            kind,
            lang,
            detail: detail.into(),
            renderer: renderer.clone(),
        }
    }
}

#[derive(Serialize)]
struct ErrorPage<'a> {
    status: u16,
    heading: &'a str,
    message: &'a str,
    home_href: Option<&'a str>,
}

/// Render `error.hbs` in `lang` into `response` (whose status is `status`);
/// a plain-text page if rendering itself fails.
pub(crate) fn error_page(
    mut response: actix_web::HttpResponseBuilder,
    status: StatusCode,
    renderer: &Renderer,
    lang: Lang,
    (heading_key, message_key): (&str, &str),
    home_href: &str,
) -> HttpResponse {
    let heading = renderer.messages.text(lang, heading_key, &[]);
    let message = renderer.messages.text(lang, message_key, &[]);
    let page = ErrorPage {
        status: status.as_u16(),
        heading: &heading,
        message: &message,
        home_href: Some(home_href),
    };
    match renderer.render("error", lang, &heading, false, &page) {
        Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            log::error!("cannot render the error page: {e}");
            response
                .content_type("text/plain; charset=utf-8")
                .body(format!("{heading}\n{message}\n"))
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.kind == WebErrorKind::Internal {
            log::error!("internal error: {}", self.detail);
        } else {
            log::debug!("refused request ({:?}): {}", self.kind, self.detail);
        }
        let mut response = HttpResponse::build(self.kind.status());
        if self.kind == WebErrorKind::MethodNotAllowed {
            response.insert_header((actix_web::http::header::ALLOW, "GET, POST"));
        }
        error_page(
            response,
            self.kind.status(),
            &self.renderer,
            self.lang,
            self.kind.message_keys(),
            "/",
        )
    }
}
