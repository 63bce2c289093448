//! The designers' pages: the survey list with each survey's status, dates
//! and responses; one survey's versions; exporting a version as its
//! definition file; importing a file as the draft; publishing the draft.
//!
//! Everyone on the staff may look (statisticians need the dates and counts);
//! only designers and admins may import or publish, which is checked here on
//! every request, and every form repeats the session's CSRF token. The rules
//! themselves (what a draft may be, what publishing checks, the audit
//! entries) are those of `db::versions`, the same as the command line's;
//! this module only turns their answers into pages. A publication replaces
//! the registry residents are served from, so it takes effect at once.

use super::{blocking, remember_lang, staff_error_page, StaffBar, StaffError, Viewer};
use crate::account::Role;
use crate::db::{DraftError, Session, StoredSurvey};
use crate::lang::Lang;
use crate::survey::raw::RawSurvey;
use crate::survey::schedule::{parse_date, Availability, DateWindow};
use crate::web::error::WebErrorKind;
use crate::web::i18n::query_param;
use crate::web::security::tokens_match;
use crate::web::AppState;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Who may change definitions.
pub(super) const EDITORS: &[Role] = &[Role::Admin, Role::Designer];

/// Largest import form: a definition file, percent-encoded (the built-in
/// survey is about 29 KB, three times that once encoded).
pub const MAX_DEFINITION_FORM_BYTES: usize = 1024 * 1024;

pub(super) fn render(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    template: &str,
    lang: Lang,
    title: &str,
    body: &impl Serialize,
) -> Result<HttpResponse, StaffError> {
    let html = state
        .renderer
        .render(template, lang, title, false, body)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::build(status);
    remember_lang(req, &mut response);
    Ok(response.content_type(ContentType::html()).body(html))
}

/// The status of a survey for the list: from its published version's dates
/// (`today`, the city's date), or "draft" when nothing is published yet.
fn status_of(current: Option<&StoredSurvey>, today: time::Date) -> &'static str {
    match current.map(|s| s.window.availability(today)) {
        None => "draft",
        Some(Availability::Open) => "open",
        Some(Availability::NotYetOpen(_)) => "not_yet_open",
        Some(Availability::Closed(_)) => "closed",
    }
}

fn date_text(date: Option<time::Date>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

#[derive(Serialize)]
struct VersionCount {
    version: u32,
    responses: i64,
}

#[derive(Serialize)]
struct ListRow {
    slug: String,
    title: String,
    href: String,
    status: &'static str,
    status_label: String,
    opens_at: String,
    closes_at: String,
    current_version: Option<u32>,
    draft_version: Option<u32>,
    versions: Vec<VersionCount>,
}

#[derive(Serialize)]
struct ListPage {
    staff: StaffBar,
    surveys: Vec<ListRow>,
    can_edit: bool,
}

/// GET /admin/surveys
pub async fn list(req: HttpRequest, state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    let db = state.db.clone();
    // Drafts included, so a survey not yet published is listed too.
    let rows = blocking(&state, lang, move || -> Result<_, crate::db::DbError> {
        let mut rows = Vec::new();
        for slug in db.survey_slugs()? {
            let counts = db.response_counts(&slug)?;
            let draft = db.draft(&slug)?.map(|d| d.version);
            rows.push((slug, counts, draft));
        }
        Ok(rows)
    })
    .await?;
    let registry = state.surveys();
    let messages = &state.renderer.messages;
    let surveys = rows
        .into_iter()
        .map(|(slug, counts, draft_version)| {
            let current = registry.latest(&slug);
            let status = status_of(current.as_deref(), state.clock.today());
            ListRow {
                href: format!("/admin/surveys/{slug}"),
                title: current
                    .as_ref()
                    .map_or_else(|| slug.clone(), |s| s.survey.title.get(lang).to_string()),
                status,
                status_label: messages.text(lang, &format!("staff_status_{status}"), &[]),
                opens_at: date_text(current.as_ref().and_then(|s| s.window.opens())),
                closes_at: date_text(current.as_ref().and_then(|s| s.window.closes())),
                current_version: current.as_ref().map(|s| s.survey.version),
                draft_version,
                versions: counts
                    .into_iter()
                    .map(|(version, responses)| VersionCount { version, responses })
                    .collect(),
                slug,
            }
        })
        .collect();
    let body = ListPage {
        can_edit: EDITORS.contains(&session.user.role),
        staff: StaffBar::new(&state, lang, session),
        surveys,
    };
    let title = messages.text(lang, "staff_surveys_title", &[]);
    render(&state, &req, StatusCode::OK, "admin_surveys", lang, &title, &body)
}

#[derive(Serialize)]
struct VersionView {
    version: u32,
    status_label: String,
    is_draft: bool,
    created_at: String,
    published_at: String,
    opens_at: String,
    closes_at: String,
    responses: Option<i64>,
    export_href: String,
}

/// What a failed import or publication left to show: a heading in the
/// page's language and the problems as the rules word them.
#[derive(Serialize, Default)]
pub(super) struct Problems {
    pub(super) heading: String,
    pub(super) items: Vec<String>,
}

/// Preview links of one version (draft or published), one per language.
#[derive(Serialize)]
struct PreviewGroup {
    label: String,
    links: Vec<PreviewLinks>,
}

#[derive(Serialize)]
struct PreviewLinks {
    code: &'static str,
    name: &'static str,
    href: String,
    phone_href: String,
}

fn preview_group(label: String, slug: &str, draft: bool) -> PreviewGroup {
    PreviewGroup {
        label,
        links: Lang::ALL
            .iter()
            .map(|l| {
                let href = format!(
                    "/admin/surveys/{slug}/preview?lang={}{}",
                    l.code(),
                    if draft { "&draft=1" } else { "" }
                );
                PreviewLinks {
                    code: l.code(),
                    name: l.native_name(),
                    phone_href: format!("{href}&width=phone"),
                    href,
                }
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct DetailPage {
    staff: StaffBar,
    previews: Vec<PreviewGroup>,
    slug: String,
    title: String,
    status_label: String,
    versions: Vec<VersionView>,
    draft_version: Option<u32>,
    can_edit: bool,
    notice: Option<String>,
    import_problems: Option<Problems>,
    publish_problems: Option<Problems>,
    /// What was sent to a refused import, to fix and send again.
    definition: String,
    opens: String,
    closes: String,
    /// The current wave's fieldwork, once a version is published.
    fieldwork_wave: Option<i32>,
    figures: Option<super::fieldwork::Figures>,
    /// Partial responses of that wave by the furthest page reached.
    dropoff: Option<Dropoff>,
}

#[derive(Serialize)]
struct Dropoff {
    started: u64,
    completed: u64,
    rows: Vec<DropoffRow>,
}

#[derive(Serialize)]
struct DropoffRow {
    label: String,
    stopped: u64,
}

/// One row per page (every section, then the review page), with how many
/// unfinished partial responses got that far and no further.
fn dropoff(state: &AppState, lang: Lang, survey: &crate::survey::Survey, counts: &crate::db::PartialCounts) -> Dropoff {
    let messages = &state.renderer.messages;
    let total = survey.sections.len();
    let stopped = |page: usize| {
        counts
            .stopped_at
            .iter()
            .filter(|(p, _)| *p == page || (page == total && *p > total))
            .map(|(_, n)| n)
            .sum()
    };
    let mut rows: Vec<DropoffRow> = survey
        .sections
        .iter()
        .enumerate()
        .map(|(i, section)| DropoffRow {
            label: format!(
                "{} · {}",
                messages.text(
                    lang,
                    "page_progress",
                    &[("number", &(i + 1).to_string()), ("total", &total.to_string())]
                ),
                section.title.get(lang)
            ),
            stopped: stopped(i),
        })
        .collect();
    rows.push(DropoffRow {
        label: messages.text(lang, "staff_dropoff_review_row", &[]),
        stopped: stopped(total),
    });
    Dropoff {
        started: counts.started,
        completed: counts.completed,
        rows,
    }
}

/// What a form left for the page to show again.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    import_problems: Option<Problems>,
    publish_problems: Option<Problems>,
    definition: String,
    opens: String,
    closes: String,
}

/// The survey page, or a 404 when no version of `slug` is stored.
async fn detail_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    session: &Session,
    slug: String,
    status: StatusCode,
    outcome: Outcome,
) -> Result<HttpResponse, StaffError> {
    let db = state.db.clone();
    let key = slug.clone();
    let registry = state.surveys();
    let today = state.clock.today();
    let (versions, counts, report, partials) =
        blocking(state, lang, move || -> Result<_, crate::analysis::AnalysisError> {
            let report = match registry.latest(&key) {
                Some(_) => Some(crate::analysis::fieldwork(&db, &registry, &key, None, today)?),
                None => None,
            };
            // Where residents stop in the section pages, for the same wave.
            let partials = match &report {
                Some(r) => Some(db.partial_counts(&key, r.wave)?),
                None => None,
            };
            Ok((db.versions(&key)?, db.response_counts(&key)?, report, partials))
        })
        .await?;
    if versions.is_empty() {
        return Err(state
            .error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}"))
            .into());
    }
    let messages = &state.renderer.messages;
    let current = state.surveys().latest(&slug);
    let draft_version = versions.iter().find(|v| v.status == "draft").map(|v| v.version);
    let versions = versions
        .into_iter()
        .map(|v| {
            let is_draft = v.status == "draft";
            VersionView {
                version: v.version,
                status_label: messages.text(lang, &format!("staff_version_{}", v.status), &[]),
                is_draft,
                created_at: state.clock.stored_text(&v.created_at),
                published_at: v.published_at.map(|t| state.clock.stored_text(&t)).unwrap_or_default(),
                opens_at: v.opens_at.unwrap_or_default(),
                closes_at: v.closes_at.unwrap_or_default(),
                responses: counts.iter().find(|(n, _)| *n == v.version).map(|(_, c)| *c),
                export_href: if is_draft {
                    format!("/admin/surveys/{slug}/export?draft=1")
                } else {
                    format!("/admin/surveys/{slug}/export?version={}", v.version)
                },
            }
        })
        .collect();
    let mut previews = Vec::new();
    if draft_version.is_some() {
        previews.push(preview_group(
            messages.text(lang, "staff_preview_draft", &[]),
            &slug,
            true,
        ));
    }
    if current.is_some() {
        previews.push(preview_group(
            messages.text(lang, "staff_preview_published", &[]),
            &slug,
            false,
        ));
    }
    let slug_for_labels = slug.clone();
    let body = DetailPage {
        staff: StaffBar::new(state, lang, session),
        previews,
        title: current
            .as_ref()
            .map_or_else(|| slug.clone(), |s| s.survey.title.get(lang).to_string()),
        status_label: messages.text(
            lang,
            &format!("staff_status_{}", status_of(current.as_deref(), state.clock.today())),
            &[],
        ),
        slug,
        versions,
        draft_version,
        can_edit: EDITORS.contains(&session.user.role),
        notice: outcome.notice,
        import_problems: outcome.import_problems,
        publish_problems: outcome.publish_problems,
        definition: outcome.definition,
        opens: outcome.opens,
        closes: outcome.closes,
        fieldwork_wave: report.as_ref().map(|r| r.wave),
        dropoff: match (&current, &partials) {
            (Some(stored), Some(counts)) => Some(dropoff(state, lang, &stored.survey, counts)),
            _ => None,
        },
        figures: report.as_ref().map(|r| {
            let labels = super::fieldwork::stratum_labels(state, &slug_for_labels, &r.stratum_question, lang);
            super::fieldwork::figures(state, lang, r, &labels)
        }),
    };
    let title = body.title.clone();
    render(state, req, status, "admin_survey", lang, &title, &body)
}

/// GET /admin/surveys/{slug}
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    // After Post/Redirect/Get: say what the form did.
    let messages = &state.renderer.messages;
    let query = req.query_string();
    let notice = if let Some(v) = query_param(query, "imported") {
        Some(messages.text(lang, "staff_imported_notice", &[("version", &v)]))
    } else {
        query_param(query, "published").map(|v| messages.text(lang, "staff_published_notice", &[("version", &v)]))
    };
    let outcome = Outcome {
        notice,
        ..Outcome::default()
    };
    detail_page(&req, &state, lang, session, path.into_inner(), StatusCode::OK, outcome).await
}

/// GET /admin/surveys/{slug}/export?version=N (or ?draft=1; the latest
/// published version without either): the definition file, exactly as stored.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    let slug = path.into_inner();
    let query = req.query_string();
    let draft = query_param(query, "draft").as_deref() == Some("1");
    let version = match query_param(query, "version") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| state.error(WebErrorKind::BadRequest, lang, format!("version {v:?}")))?,
        ),
    };
    let db = state.db.clone();
    let key = slug.clone();
    let found = blocking(&state, lang, move || -> Result<_, crate::db::DbError> {
        Ok(if draft {
            db.draft(&key)?.map(|d| (d.version, d.definition))
        } else {
            db.published_definition(&key, version)?
        })
    })
    .await?;
    let Some((version, text)) = found else {
        return Err(state
            .error(WebErrorKind::NotFound, lang, format!("no such version of {slug:?}"))
            .into());
    };
    // Stored slugs are validated (letters, digits, dashes), so the name needs no quoting rules.
    let filename = if draft {
        format!("{slug}-v{version}-draft.toml")
    } else {
        format!("{slug}-v{version}.toml")
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(text))
}

/// The fields of a designer's form and the signed-in editor who sent it,
/// after the role and CSRF checks; `Err` is the response to send instead.
pub(super) async fn editor_form<'v>(
    req: &HttpRequest,
    state: &AppState,
    viewer: &'v Viewer,
    body: &[u8],
) -> Result<Result<(Vec<(String, String)>, &'v Session), HttpResponse>, StaffError> {
    checked_form(req, state, viewer, body, EDITORS).await
}

/// The fields of a staff form and the signed-in member with one of
/// `roles` who sent it, after the role and CSRF checks; `Err` is the
/// response to send instead.
pub(super) async fn checked_form<'v>(
    req: &HttpRequest,
    state: &AppState,
    viewer: &'v Viewer,
    body: &[u8],
    roles: &[Role],
) -> Result<Result<(Vec<(String, String)>, &'v Session), HttpResponse>, StaffError> {
    let session = viewer.require(state, roles)?;
    let pairs = state.form_pairs(req, body, viewer.lang)?;
    let csrf = pairs.iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v.as_str());
    if !csrf.is_some_and(|field| tokens_match(&session.csrf_token, field)) {
        log::info!(
            "{} refused for {}: CSRF token missing or not matching",
            req.path(),
            session.user.username
        );
        return Ok(Err(staff_error_page(
            &state.renderer,
            StatusCode::FORBIDDEN,
            viewer.lang,
            "staff_form_expired_title",
            "staff_form_expired_message",
        )));
    }
    Ok(Ok((pairs, session)))
}

pub(super) fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

pub(super) fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The problems of a refused draft, one line each as the rules word them.
pub(super) fn draft_problems(e: &DraftError) -> Vec<String> {
    match e {
        DraftError::Invalid(def) if !def.issues().is_empty() => def.issues().iter().map(|i| i.to_string()).collect(),
        DraftError::Incompatible { problems, .. } => problems.iter().map(|p| p.to_string()).collect(),
        other => vec![other.to_string()],
    }
}

/// POST /admin/surveys/{slug}/import: `definition` (a file's text) becomes
/// the draft of this survey.
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let (pairs, session) = match editor_form(&req, &state, &viewer, &body).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let slug = path.into_inner();
    // "Edit" on a published survey: the new draft starts as a copy of the
    // version residents answer now.
    let from_published = pairs.iter().any(|(k, v)| k == "from_published" && v == "1");
    let definition = if from_published {
        let db = state.db.clone();
        let wanted = slug.clone();
        let published = web::block(move || db.published_definition(&wanted, None))
            .await
            .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?
            .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
        match published {
            Some((_, text)) => text,
            None => {
                return Err(state
                    .error(WebErrorKind::NotFound, lang, format!("no published version of {slug}"))
                    .into())
            }
        }
    } else {
        pairs
            .iter()
            .find(|(k, _)| k == "definition")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let refuse = |items: Vec<String>| Outcome {
        import_problems: Some(Problems {
            heading: state.renderer.messages.text(lang, "staff_import_failed", &[]),
            items,
        }),
        definition: definition.clone(),
        ..Outcome::default()
    };
    let raw: RawSurvey = match toml::from_str(&definition) {
        Ok(raw) => raw,
        Err(e) => {
            let outcome = refuse(vec![format!("not a valid survey definition: {e}")]);
            return detail_page(
                &req,
                &state,
                lang,
                session,
                slug,
                StatusCode::UNPROCESSABLE_ENTITY,
                outcome,
            )
            .await;
        }
    };
    if raw.slug != slug {
        let outcome = refuse(vec![format!(
            "the file is a definition of survey {:?}, not of {slug:?}",
            raw.slug
        )]);
        return detail_page(
            &req,
            &state,
            lang,
            session,
            slug,
            StatusCode::UNPROCESSABLE_ENTITY,
            outcome,
        )
        .await;
    }
    let db = state.db.clone();
    let actor = session.user.username.to_string();
    let stored = blocking(&state, lang, move || {
        Ok::<_, std::convert::Infallible>(db.store_draft(raw, &actor))
    })
    .await?;
    match stored {
        Ok(version) => {
            log::info!("{} stored {slug} v{version} as the draft", session.user.username);
            Ok(see_other(format!("/admin/surveys/{slug}?imported={version}")))
        }
        Err(DraftError::Database(e)) => Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into()),
        Err(e) => {
            let outcome = refuse(draft_problems(&e));
            detail_page(
                &req,
                &state,
                lang,
                session,
                slug,
                StatusCode::UNPROCESSABLE_ENTITY,
                outcome,
            )
            .await
        }
    }
}

/// POST /admin/surveys/{slug}/publish: validate and publish the draft with
/// the optional `opens`/`closes` dates, then serve it to residents at once.
pub async fn publish(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let (pairs, session) = match editor_form(&req, &state, &viewer, &body).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let slug = path.into_inner();
    let (opens, closes) = (field(&pairs, "opens"), field(&pairs, "closes"));
    let refuse = |items: Vec<String>| Outcome {
        publish_problems: Some(Problems {
            heading: state.renderer.messages.text(lang, "staff_publish_failed", &[]),
            items,
        }),
        opens: opens.clone(),
        closes: closes.clone(),
        ..Outcome::default()
    };
    let date = |text: &str| (!text.is_empty()).then(|| parse_date(text)).transpose();
    let window = match (date(&opens), date(&closes)) {
        (Ok(o), Ok(c)) => DateWindow::new(o, c).map_err(|e| vec![e.to_string()]),
        (o, c) => Err([o.err(), c.err()].into_iter().flatten().collect()),
    };
    let window = match window {
        Ok(window) => window,
        Err(items) => {
            let outcome = refuse(items);
            return detail_page(
                &req,
                &state,
                lang,
                session,
                slug,
                StatusCode::UNPROCESSABLE_ENTITY,
                outcome,
            )
            .await;
        }
    };
    let db = state.db.clone();
    let actor = session.user.username.to_string();
    let key = slug.clone();
    let published = blocking(&state, lang, move || {
        Ok::<_, std::convert::Infallible>(db.publish_draft(&key, window, &actor))
    })
    .await?;
    match published {
        Ok(version) => {
            log::info!("{} published {slug} v{version}", session.user.username);
            let app = state.clone();
            blocking(&state, lang, move || app.reload_surveys()).await?;
            Ok(see_other(format!("/admin/surveys/{slug}?published={version}")))
        }
        Err(DraftError::Database(e)) => Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into()),
        Err(e) => {
            let outcome = refuse(draft_problems(&e));
            detail_page(
                &req,
                &state,
                lang,
                session,
                slug,
                StatusCode::UNPROCESSABLE_ENTITY,
                outcome,
            )
            .await
        }
    }
}

#[derive(Serialize)]
struct CreateProblemsPage {
    staff: StaffBar,
    problems: Vec<String>,
    definition: String,
}

/// POST /admin/surveys: a new survey from a pasted definition file, stored
/// as its first draft; the designer goes on from the survey's own page.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let (pairs, session) = match editor_form(&req, &state, &viewer, &body).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let definition = pairs
        .iter()
        .find(|(k, _)| k == "definition")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let problems = match toml::from_str::<RawSurvey>(&definition) {
        Err(e) => vec![format!("not a valid survey definition: {e}")],
        Ok(raw) => match crate::survey::Slug::parse(&raw.slug) {
            Err(message) => vec![message],
            Ok(slug) => {
                let db = state.db.clone();
                let actor = session.user.username.to_string();
                let stored = blocking(&state, lang, move || {
                    Ok::<_, std::convert::Infallible>(db.store_draft(raw, &actor))
                })
                .await?;
                match stored {
                    Ok(version) => return Ok(see_other(format!("/admin/surveys/{slug}?imported={version}"))),
                    Err(DraftError::Database(e)) => {
                        return Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into())
                    }
                    Err(e) => draft_problems(&e),
                }
            }
        },
    };
    let body = CreateProblemsPage {
        staff: StaffBar::new(&state, lang, session),
        problems,
        definition,
    };
    let title = state.renderer.messages.text(lang, "staff_import_failed", &[]);
    render(
        &state,
        &req,
        StatusCode::UNPROCESSABLE_ENTITY,
        "admin_create_problems",
        lang,
        &title,
        &body,
    )
}
