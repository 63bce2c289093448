//! The pages of the deployment's identity (see `identity`): the privacy
//! notice every resident page links to, and the logo when it is a file
//! civicpulse serves itself.

use super::error::WebErrorKind;
use super::i18n::negotiate;
use super::AppState;
use crate::identity::Logo;
use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// GET /privacy: the privacy notice in the resident's language.
pub async fn privacy(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = negotiate(&req);
    #[derive(Serialize)]
    struct Privacy<'a> {
        title: &'a str,
        paragraphs: Vec<String>,
    }
    let identity = &state.identity;
    let title = identity.privacy_title.get(lang);
    let page = Privacy {
        title,
        paragraphs: identity.privacy_paragraphs(lang),
    };
    match state.renderer.render("privacy", lang, title, false, &page) {
        Ok(html) => HttpResponse::Ok().content_type(ContentType::html()).body(html),
        Err(e) => actix_web::ResponseError::error_response(&state.error(WebErrorKind::Internal, lang, e.to_string())),
    }
}

/// GET /identity/logo: the logo file named in the identity, if any.
pub async fn logo(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match &state.identity.logo {
        Some(Logo::File { bytes, content_type }) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            // An SVG opened on its own runs under this policy: no script.
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ))
            .body(bytes.clone()),
        _ => actix_web::ResponseError::error_response(&state.error(
            WebErrorKind::NotFound,
            negotiate(&req),
            "this deployment serves no logo file",
        )),
    }
}
