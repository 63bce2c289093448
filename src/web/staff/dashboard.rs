//! The officials' pages: `/dashboard/{slug}` (the wave's figures as
//! charts with their tables), the downloads of each chart (SVG, PNG) and
//! table (CSV, Excel), and the yearly report (one self-contained HTML
//! page to print or save as PDF). For statisticians and admins, signed in
//! with the normal session. Everything is built by [`crate::dashboard`]
//! from the same reports the API serves; this module only reads the
//! request and picks the response.

use super::{blocking, remember_lang, staff_error_page, StaffBar, StaffError, Viewer};
use crate::account::Role;
use crate::analysis::{self, AnalysisError};
use crate::charts;
use crate::dashboard::{self, Dashboard, DashboardOptions};
use crate::error::AppError;
use crate::lang::Lang;
use crate::web::analyses::{cached_indices, compute, AnalysisFailure};
use crate::web::download::DownloadError;
use crate::web::error::WebErrorKind;
use crate::web::form::parse_urlencoded;
use crate::web::report::CatalogWording;
use crate::web::AppState;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use std::sync::Arc;

/// Who may read results.
const READERS: [Role; 2] = [Role::Admin, Role::Statistician];

/// Why a dashboard could not be drawn, said to an official.
enum Refusal {
    /// A selector's value is off its list.
    Option(dashboard::OptionError),
    Analysis(Arc<AnalysisError>),
    Busy,
    /// The computation ran past the server's time limit (seconds).
    TimedOut(u64),
    /// The computation stopped without an answer (see the log).
    Stopped,
}

impl From<AnalysisFailure> for Refusal {
    fn from(failure: AnalysisFailure) -> Refusal {
        match failure {
            AnalysisFailure::Analysis(e) => Refusal::Analysis(e),
            AnalysisFailure::Busy => Refusal::Busy,
            AnalysisFailure::TimedOut(seconds) => Refusal::TimedOut(seconds),
            AnalysisFailure::Stopped(why) => {
                log::error!("dashboard computation stopped: {why}");
                Refusal::Stopped
            }
        }
    }
}

impl From<AnalysisError> for Refusal {
    fn from(e: AnalysisError) -> Refusal {
        Refusal::Analysis(Arc::new(e))
    }
}

impl Refusal {
    fn status(&self) -> StatusCode {
        let Refusal::Analysis(e) = self else {
            return match self {
                Refusal::Option(_) => StatusCode::BAD_REQUEST,
                Refusal::Busy | Refusal::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
        };
        crate::web::analyses::status_of(e)
    }

    /// The message key; the engine's own words follow as the detail.
    fn key(&self) -> &'static str {
        let Refusal::Analysis(e) = self else {
            return match self {
                Refusal::Option(_) => "dash_error_option",
                Refusal::Busy => "dash_error_busy",
                Refusal::TimedOut(_) => "dash_error_timed_out",
                _ => "dash_error_internal",
            };
        };
        match &**e {
            AnalysisError::UnknownSurvey(_) => "dash_error_unknown_survey",
            AnalysisError::NoResponses { .. } => "dash_error_no_responses",
            AnalysisError::MarginsRequired { .. } | AnalysisError::Margins(_) => "dash_error_margins",
            AnalysisError::NoFrame { .. } | AnalysisError::Frame(_) => "dash_error_frame",
            AnalysisError::UnknownBy { .. } | AnalysisError::ByNotChoice(_) => "dash_error_by",
            AnalysisError::Database(_) => "dash_error_internal",
            _ => "dash_error_statistics",
        }
    }

    /// The engine's own words, where they help (never a database error).
    fn detail(&self) -> Option<String> {
        match self {
            Refusal::Option(e) => Some(e.to_string()),
            Refusal::TimedOut(seconds) => Some(format!("{seconds} s")),
            Refusal::Analysis(e) if !matches!(**e, AnalysisError::Database(_)) => Some(e.to_string()),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct RefusedPage {
    staff: StaffBar,
    slug: String,
    message: String,
    detail: Option<String>,
    reset_href: String,
}

/// The dashboard of the request, or the page that says why not.
async fn dashboard_for(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    viewer: &Viewer,
    slug: String,
) -> Result<Result<Arc<Dashboard>, HttpResponse>, StaffError> {
    let session = viewer.require(state, &READERS)?;
    let lang = viewer.lang;
    let refused = |refusal: Refusal| -> Result<HttpResponse, StaffError> {
        if let Refusal::Analysis(e) = &refusal {
            if let AnalysisError::Database(e) = &**e {
                log::error!("dashboard of {slug}: {e}");
            }
        }
        let page = RefusedPage {
            staff: StaffBar::new(state, lang, session),
            slug: slug.clone(),
            message: state.renderer.messages.text(lang, refusal.key(), &[]),
            detail: refusal.detail(),
            reset_href: format!("/dashboard/{}?lang={}", slug, lang.code()),
        };
        let title = state.renderer.messages.text(lang, "dash_title", &[]);
        let html = state
            .renderer
            .render("dashboard_refused", lang, &title, false, &page)
            .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
        let mut response = HttpResponse::build(refusal.status());
        if matches!(refusal, Refusal::Busy) {
            response.insert_header((header::RETRY_AFTER, 5));
        }
        Ok(response.content_type(ContentType::html()).body(html))
    };
    let pairs = parse_urlencoded(req.query_string().as_bytes())
        .map_err(|e| state.error(WebErrorKind::BadRequest, lang, e.to_string()))?;
    let options = match DashboardOptions::from_pairs(&pairs) {
        Ok(options) => options,
        Err(e) => return refused(Refusal::Option(e)).map(Err),
    };
    match gather(state, &slug, &options, lang).await {
        Ok(dashboard) => Ok(Ok(Arc::new(dashboard))),
        Err(refusal) => refused(refusal).map(Err),
    }
}

/// Plan the page, fetch its reports (kept or computed under the server's
/// bound), and build it.
async fn gather(
    state: &web::Data<AppState>,
    slug: &str,
    options: &DashboardOptions,
    lang: Lang,
) -> Result<Dashboard, Refusal> {
    let plan = {
        let (worker, slug, options) = (state.clone(), slug.to_string(), options.clone());
        web::block(move || dashboard::plan(&worker.db, &worker.current_surveys(), &slug, &options))
            .await
            .map_err(|e| AnalysisFailure::Stopped(e.to_string()))??
    };
    let floor = state.min_cell_floor;
    let current = cached_indices(state, slug, &options.index_options(plan.wave, floor)).await?;
    let mut earlier = Vec::new();
    for wave in plan.earlier_waves() {
        let report = cached_indices(state, slug, &options.index_options(wave, floor)).await;
        earlier.push((wave, report.map_err(|e| e.to_string())));
    }
    let fieldwork = if plan.invitations {
        let (slug, wave, today) = (slug.to_string(), plan.wave, state.clock.today());
        Some(
            compute(state, move |s, _| {
                analysis::fieldwork(&s.db, &s.current_surveys(), &slug, Some(wave), today)
            })
            .await?,
        )
    } else {
        None
    };
    let reports = dashboard::Reports {
        current,
        earlier,
        fieldwork,
    };
    let wording = CatalogWording {
        messages: &state.renderer.messages,
        lang,
    };
    Ok(dashboard::build(
        &state.surveys(),
        slug,
        options,
        floor,
        &plan,
        reports,
        &wording,
    )?)
}

#[derive(Serialize)]
struct DashboardPage<'a> {
    staff: StaffBar,
    dashboard: &'a Dashboard,
}

/// GET /dashboard/{slug}: the wave's figures, charts and tables, with the
/// selectors as a plain GET form (no script needed).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let dashboard = match dashboard_for(&req, &state, &viewer, path.into_inner()).await? {
        Ok(d) => d,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let session = viewer.require(&state, &READERS)?;
    let title = state.renderer.messages.text(
        lang,
        "dash_page_title",
        &[("survey", &dashboard.title), ("wave", &dashboard.wave.to_string())],
    );
    let page = DashboardPage {
        staff: StaffBar::new(&state, lang, session),
        dashboard: &dashboard,
    };
    let html = state
        .renderer
        .render("dashboard", lang, &title, false, &page)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::Ok();
    remember_lang(&req, &mut response);
    Ok(response.content_type(ContentType::html()).body(html))
}

/// `name.ext` of a download, split; `None` when it is not one.
fn download_name<'a>(file: &'a str, extensions: &[&str]) -> Option<(&'a str, &'a str)> {
    let (name, ext) = file.rsplit_once('.')?;
    extensions.contains(&ext).then_some((name, ext))
}

fn attachment(response: &mut actix_web::HttpResponseBuilder, dashboard: &Dashboard, name: &str, ext: &str) {
    response.insert_header((
        header::CONTENT_DISPOSITION,
        format!(
            "attachment; filename=\"{}-{}-{name}.{ext}\"",
            dashboard.slug, dashboard.wave
        ),
    ));
}

/// The dashboard of a download's request, and the block and format
/// `file` (`name.ext`, `ext` one of `extensions`) names: a 404 page for
/// any other file, or the page that says why no dashboard.
async fn download<'a>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    viewer: &Viewer,
    slug: String,
    file: &'a str,
    extensions: &[&str],
) -> Result<Result<(Arc<Dashboard>, &'a str, &'a str), HttpResponse>, StaffError> {
    viewer.require(state, &READERS)?;
    let not_found =
        || StaffError::Page(state.error(WebErrorKind::NotFound, viewer.lang, format!("no download {file}")));
    let (name, ext) = download_name(file, extensions).ok_or_else(not_found)?;
    let dashboard = match dashboard_for(req, state, viewer, slug).await? {
        Ok(d) => d,
        Err(refused) => return Ok(Err(refused)),
    };
    dashboard.block(name).ok_or_else(not_found)?;
    Ok(Ok((dashboard, name, ext)))
}

/// GET /dashboard/{slug}/chart/{name}.svg|png: one chart, as drawn on
/// the page.
pub async fn chart(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, StaffError> {
    let (slug, file) = path.into_inner();
    let (dashboard, name, ext) = match download(&req, &state, &viewer, slug, &file, &["svg", "png"]).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let svg = dashboard.block(name).map(|b| b.svg.clone()).unwrap_or_default();
    let mut response = HttpResponse::Ok();
    attachment(&mut response, &dashboard, name, ext);
    if ext == "svg" {
        return Ok(response.content_type("image/svg+xml; charset=utf-8").body(svg));
    }
    let png = blocking(&state, viewer.lang, move || charts::png(&svg)).await?;
    Ok(response.content_type("image/png").body(png))
}

/// GET /dashboard/{slug}/table/{name}.csv|xlsx: the data behind a chart,
/// unrounded.
pub async fn table(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, StaffError> {
    let (slug, file) = path.into_inner();
    let (dashboard, name, ext) = match download(&req, &state, &viewer, slug, &file, &["csv", "xlsx"]).await? {
        Ok(found) => found,
        Err(refused) => return Ok(refused),
    };
    let Some(block) = dashboard.block(name) else {
        return Err(StaffError::Page(state.error(WebErrorKind::NotFound, viewer.lang, file)));
    };
    let mut response = HttpResponse::Ok();
    attachment(&mut response, &dashboard, name, ext);
    let failed =
        |e: charts::ChartError| StaffError::Page(state.error(WebErrorKind::Internal, viewer.lang, e.to_string()));
    if ext == "csv" {
        let mut body = Vec::new();
        charts::table::write_csv(&block.table, &mut body).map_err(failed)?;
        return Ok(response.content_type("text/csv; charset=utf-8").body(body));
    }
    let body = charts::table::xlsx(&block.table).map_err(failed)?;
    Ok(response
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .body(body))
}

/// GET /dashboard/{slug}/report: the yearly report's satisfaction
/// chapter, one page with its own print stylesheet.
pub async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let dashboard = match dashboard_for(&req, &state, &viewer, path.into_inner()).await? {
        Ok(d) => d,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let html = crate::web::report::render(&state.renderer, &dashboard, lang)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CONTENT_SECURITY_POLICY, crate::web::report::csp()))
        .body(html))
}

/// GET /dashboard/{slug}/export.zip?wave=W&lang=L: the analysts' export
/// (responses with the design, labelled responses, codebook, load.R and
/// load.do) as one zip. Written to a temporary file under the server's
/// bound on heavy work, then streamed, so a city-sized wave never sits in
/// memory.
pub async fn export_zip(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    viewer.require(&state, &READERS)?;
    let lang = viewer.lang;
    let slug = path.into_inner();
    let pairs = parse_urlencoded(req.query_string().as_bytes())
        .map_err(|e| state.error(WebErrorKind::BadRequest, lang, e.to_string()))?;
    let wave = match pairs.iter().find(|(k, _)| k == "wave").map(|(_, v)| v.parse::<i32>()) {
        None => None,
        Some(Ok(w)) => Some(w),
        Some(Err(_)) => {
            return Err(StaffError::Page(state.error(
                WebErrorKind::BadRequest,
                lang,
                "wave is not a year",
            )))
        }
    };
    match crate::web::download::export_archive(&state, slug, wave, lang).await {
        Ok(response) => Ok(response),
        Err(DownloadError::Busy) => Ok(staff_error_page(
            &state.renderer,
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "dash_title",
            "dash_error_busy",
        )),
        Err(DownloadError::Export(AppError::UnknownSurvey(slug))) => Err(state
            .error(WebErrorKind::NotFound, lang, format!("no survey {slug}"))
            .into()),
        Err(DownloadError::Export(e)) => Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into()),
        Err(DownloadError::Internal(e)) => Err(state.error(WebErrorKind::Internal, lang, e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_named_with_known_extensions_only() {
        assert_eq!(download_name("items.svg", &["svg", "png"]), Some(("items", "svg")));
        assert_eq!(download_name("items.exe", &["svg", "png"]), None);
        assert_eq!(download_name("items", &["svg", "png"]), None);
    }
}
