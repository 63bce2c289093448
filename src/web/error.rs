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
    /// The database is down, full or overloaded (`db::Outage`): the same
    /// request may work in a few minutes.
    Unavailable,
    Internal,
}

/// What an unavailable page asks the client to wait before trying again.
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

impl WebErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            WebErrorKind::NotFound => StatusCode::NOT_FOUND,
            WebErrorKind::BadRequest | WebErrorKind::InvalidUtf8 => StatusCode::BAD_REQUEST,
            WebErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            // Not yet open is a state of the survey, not a fault of the
            // request: the page answers what the resident asked (when can I
            // answer?), so 200, and link checkers and monitors do not report
            // the address printed on letters as broken before fieldwork
            // starts. Nothing is read or stored all the same. Closed: the
            // survey will not take answers at this address again, which is
            // what 410 Gone says; browsers show the page just the same.
            WebErrorKind::NotYetOpen => StatusCode::OK,
            WebErrorKind::Closed => StatusCode::GONE,
            WebErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
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
            WebErrorKind::NotYetOpen => ("survey_not_yet_open_title", "survey_opens_on"),
            WebErrorKind::Closed => ("survey_closed_title", "survey_closed_on"),
            WebErrorKind::Unavailable => ("unavailable_title", "unavailable_message"),
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
    /// The day the page names: when the survey opens, or its last day.
    pub date: Option<time::Date>,
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
            date: None,
            renderer: renderer.clone(),
        }
    }

    /// The error, naming `date` (see `date`).
    pub fn on(mut self, date: time::Date) -> WebError {
        self.date = Some(date);
        self
    }
}

#[derive(Serialize)]
struct ErrorPage<'a> {
    status: u16,
    heading: &'a str,
    message: &'a str,
    /// What to do now.
    next: Option<String>,
    /// Not a fault (a survey not open): no error code, the helpline instead.
    calm: bool,
    home_href: Option<&'a str>,
}

/// What an error page says besides its heading and message.
#[derive(Default)]
struct Details {
    date: Option<time::Date>,
    next_key: Option<&'static str>,
}

/// Render `error.hbs` in `lang` into `response` (whose status is `status`);
/// a plain-text page if rendering itself fails.
pub(crate) fn error_page(
    response: actix_web::HttpResponseBuilder,
    status: StatusCode,
    renderer: &Renderer,
    lang: Lang,
    (heading_key, message_key): (&str, &str),
    home_href: &str,
) -> HttpResponse {
    page_with(
        response,
        status,
        renderer,
        lang,
        (heading_key, message_key),
        home_href,
        Details::default(),
    )
}

fn page_with(
    mut response: actix_web::HttpResponseBuilder,
    status: StatusCode,
    renderer: &Renderer,
    lang: Lang,
    (heading_key, message_key): (&str, &str),
    home_href: &str,
    details: Details,
) -> HttpResponse {
    let date = details.date.map(|d| super::i18n::long_date(lang, d));
    let heading = renderer.messages.text(lang, heading_key, &[]);
    let message = renderer
        .messages
        .text(lang, message_key, &[("date", date.as_deref().unwrap_or(""))]);
    let page = ErrorPage {
        status: status.as_u16(),
        heading: &heading,
        message: &message,
        next: details.next_key.map(|k| renderer.messages.text(lang, k, &[])),
        calm: details.next_key.is_some(),
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
        match self.kind {
            WebErrorKind::Internal => log::error!("internal error: {}", self.detail),
            WebErrorKind::Unavailable => log::error!("page not served: {}", self.detail),
            _ => log::debug!("refused request ({:?}): {}", self.kind, self.detail),
        }
        let mut response = HttpResponse::build(self.kind.status());
        if self.kind == WebErrorKind::MethodNotAllowed {
            response.insert_header((actix_web::http::header::ALLOW, "GET, POST"));
        }
        if self.kind == WebErrorKind::Unavailable {
            response.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER.as_secs()));
        }
        let mut keys = self.kind.message_keys();
        let next_key = match self.kind {
            WebErrorKind::NotYetOpen => Some("survey_opens_next"),
            WebErrorKind::Closed => Some("survey_closed_next"),
            _ => None,
        };
        if self.date.is_none() {
            // A window always names its day; should one ever not, the
            // general wording still reads right.
            keys = match self.kind {
                WebErrorKind::NotYetOpen => ("survey_not_yet_open_title", "survey_not_yet_open_message"),
                WebErrorKind::Closed => ("survey_closed_title", "survey_closed_message"),
                _ => keys,
            };
        }
        page_with(
            response,
            self.kind.status(),
            &self.renderer,
            self.lang,
            keys,
            &format!("/?lang={}", self.lang.code()),
            Details {
                date: self.date,
                next_key,
            },
        )
    }
}
