//! The signed-in pages: the staff home page (every role) and the audit
//! log (admins only).

use super::{blocking, remember_lang, StaffBar, StaffError, Viewer};
use crate::account::Role;
use crate::lang::Lang;
use crate::web::error::WebErrorKind;
use crate::web::AppState;
use actix_web::http::header::ContentType;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Audit entries shown; older ones stay in the database.
const AUDIT_PAGE_ROWS: i64 = 500;

pub(super) fn page(
    state: &AppState,
    req: &HttpRequest,
    template: &str,
    lang: Lang,
    title_key: &str,
    body: &impl Serialize,
) -> Result<HttpResponse, StaffError> {
    let title = state.renderer.messages.text(lang, title_key, &[]);
    let html = state
        .renderer
        .render(template, lang, &title, false, body)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::Ok();
    remember_lang(req, &mut response);
    Ok(response.content_type(ContentType::html()).body(html))
}

#[derive(Serialize)]
struct VersionRow {
    version: u32,
    responses: i64,
}

#[derive(Serialize)]
struct SurveyRow {
    slug: String,
    title: String,
    form_href: String,
    /// For those who may read results.
    dashboard_href: Option<String>,
    versions: Vec<VersionRow>,
    total: i64,
}

#[derive(Serialize)]
struct HomePage {
    staff: StaffBar,
    role_help: String,
    surveys: Vec<SurveyRow>,
}

/// GET /admin: who is signed in, and the published surveys with the
/// responses each version has.
pub async fn home(req: HttpRequest, state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    let current: Vec<(String, String)> = state
        .surveys()
        .current()
        .map(|s| (s.survey.slug.to_string(), s.survey.title.get(lang).to_string()))
        .collect();
    let db = state.db.clone();
    let slugs: Vec<String> = current.iter().map(|(slug, _)| slug.clone()).collect();
    let counts = blocking(&state, lang, move || {
        slugs
            .iter()
            .map(|slug| db.response_counts(slug))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let surveys = current
        .into_iter()
        .zip(counts)
        .map(|((slug, title), counts)| SurveyRow {
            form_href: format!("/s/{slug}?lang={}", lang.code()),
            dashboard_href: matches!(session.user.role, Role::Admin | Role::Statistician)
                .then(|| format!("/dashboard/{slug}?lang={}", lang.code())),
            total: counts.iter().map(|(_, n)| n).sum(),
            versions: counts
                .into_iter()
                .map(|(version, responses)| VersionRow { version, responses })
                .collect(),
            slug,
            title,
        })
        .collect();
    let body = HomePage {
        staff: StaffBar::new(&state, lang, session),
        role_help: state
            .renderer
            .messages
            .text(lang, &format!("staff_role_help_{}", session.user.role.as_str()), &[]),
        surveys,
    };
    page(&state, &req, "admin_home", lang, "staff_home_title", &body)
}

#[derive(Serialize)]
struct AuditRow {
    /// RFC 3339, UTC, for `<time datetime>`.
    at: String,
    /// As the city's clock showed it, zone named.
    local_at: String,
    username: String,
    action: String,
    action_label: String,
    detail: String,
}

#[derive(Serialize)]
struct AuditPage {
    staff: StaffBar,
    entries: Vec<AuditRow>,
}

/// GET /admin/audit: the audit log, newest first. Admins only.
pub async fn audit(req: HttpRequest, state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &[Role::Admin])?;
    let lang = viewer.lang;
    let db = state.db.clone();
    let entries = blocking(&state, lang, move || db.audit_log(AUDIT_PAGE_ROWS)).await?;
    let messages = &state.renderer.messages;
    let entries = entries
        .into_iter()
        .map(|e| {
            // Known actions are translated; a new one shows its code until it is.
            let key = format!("staff_audit_action_{}", e.action.replace('.', "_"));
            let action_label = if messages.has(&key) {
                messages.text(lang, &key, &[])
            } else {
                e.action.clone()
            };
            AuditRow {
                local_at: state.clock.stored_text(&e.at),
                at: e.at,
                username: e.username,
                action: e.action,
                action_label,
                detail: e.detail,
            }
        })
        .collect();
    let body = AuditPage {
        staff: StaffBar::new(&state, lang, session),
        entries,
    };
    page(&state, &req, "admin_audit", lang, "staff_audit_title", &body)
}
