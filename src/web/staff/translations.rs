//! The translators' pages: a draft's texts in three side-by-side columns
//! with a completeness meter per language, and a preview of the resident
//! form exactly as residents will get it, in any language, at phone width.
//!
//! The translations form sends one field per text and language, named
//! `PATH|LANG`, and saving applies them with `survey::translations::apply`
//! to the draft as stored, in the transaction that stores it back: a text
//! the form did not send keeps its value, so nothing is ever dropped on
//! save. An incomplete draft may be saved; completeness only blocks
//! publishing, which `db::versions` checks. Looking is for all staff,
//! saving for designers and admins, with the session's CSRF token.
//!
//! The preview renders `survey_form.hbs` through the resident pages' own
//! `FormView`, so it cannot drift from what residents see; only its form
//! goes back to the preview with GET and its submit button is disabled.
//! Phone width is a narrower page, not a frame: the CSP forbids framing.

use super::surveys::{draft_problems, editor_form, render, see_other, Problems, EDITORS};
use super::{blocking, StaffBar, StaffError, Viewer};
use crate::account::Role;
use crate::db::{DraftError, Session};
use crate::lang::Lang;
use crate::survey::raw::RawSurvey;
use crate::survey::translations::{self, Edit, UnknownPath};
use crate::survey::{RawAnswers, Survey};
use crate::web::error::WebErrorKind;
use crate::web::i18n::{query_param, LANG_COOKIE};
use crate::web::resident::{render_form, FormView, HiddenField, Preview, PreviewLink};
use crate::web::AppState;
use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Largest translations form: every text of a large survey in three
/// languages, percent-encoded (the built-in survey's is about 150 KB).
pub const MAX_TRANSLATIONS_FORM_BYTES: usize = 1024 * 1024;

#[derive(Serialize)]
struct MissingView {
    path: String,
    anchor: String,
}

#[derive(Serialize)]
struct MeterView {
    code: &'static str,
    name: &'static str,
    total: usize,
    filled: usize,
    complete: bool,
    label: String,
    missing: Vec<MissingView>,
}

#[derive(Serialize)]
struct CellView {
    code: &'static str,
    name: &'static str,
    field: String,
    value: String,
    missing: bool,
}

#[derive(Serialize)]
struct RowView {
    path: String,
    anchor: String,
    cells: Vec<CellView>,
}

#[derive(Serialize)]
struct LangHeading {
    code: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct TranslationsPage {
    staff: StaffBar,
    slug: String,
    draft_version: Option<u32>,
    can_edit: bool,
    notice: Option<String>,
    problems: Option<Problems>,
    languages: Vec<LangHeading>,
    meters: Vec<MeterView>,
    rows: Vec<RowView>,
}

/// What a save left for the page to show again.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    problems: Option<Problems>,
    /// What was sent, shown over the stored texts so no typing is lost.
    edits: Vec<Edit>,
}

fn anchor(path: &str) -> String {
    format!("t-{path}")
}

/// The translations page of `slug`'s draft, or a 404 when no version of
/// `slug` is stored.
async fn translations_page(
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
    let (known, draft) = blocking(state, lang, move || -> Result<_, crate::db::DbError> {
        Ok((!db.versions(&key)?.is_empty(), db.draft(&key)?))
    })
    .await?;
    if !known {
        return Err(state
            .error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}"))
            .into());
    }
    let messages = &state.renderer.messages;
    let (mut meters, mut rows) = (Vec::new(), Vec::new());
    if let Some(draft) = &draft {
        let mut raw: RawSurvey = toml::from_str(&draft.definition).map_err(|e| {
            state.error(
                WebErrorKind::Internal,
                lang,
                format!("stored draft of {slug} no longer reads: {e}"),
            )
        })?;
        let slots = translations::slots(&raw);
        let shown: Vec<Edit> = outcome
            .edits
            .iter()
            .filter(|e| slots.iter().any(|s| s.path == e.path))
            .cloned()
            .collect();
        if !shown.is_empty() {
            translations::apply(&mut raw, &shown).expect("only known paths are applied");
        }
        let slots = translations::slots(&raw);
        meters = translations::completeness(&slots)
            .into_iter()
            .map(|c| MeterView {
                code: c.lang.code(),
                name: c.lang.native_name(),
                total: c.total,
                filled: c.filled,
                complete: c.is_complete(),
                label: messages.text(
                    lang,
                    "staff_translations_meter_label",
                    &[
                        ("language", c.lang.native_name()),
                        ("filled", &c.filled.to_string()),
                        ("total", &c.total.to_string()),
                    ],
                ),
                missing: c
                    .missing
                    .into_iter()
                    .map(|path| MissingView {
                        anchor: anchor(&path),
                        path,
                    })
                    .collect(),
            })
            .collect();
        rows = slots
            .iter()
            .map(|slot| RowView {
                path: slot.path.clone(),
                anchor: anchor(&slot.path),
                cells: Lang::ALL
                    .iter()
                    .map(|&l| CellView {
                        code: l.code(),
                        name: l.native_name(),
                        field: format!("{}|{}", slot.path, l.code()),
                        value: slot.get(l).unwrap_or_default().to_string(),
                        missing: !slot.is_filled(l),
                    })
                    .collect(),
            })
            .collect();
    }
    let body = TranslationsPage {
        staff: StaffBar::new(state, lang, session),
        slug,
        draft_version: draft.map(|d| d.version),
        can_edit: EDITORS.contains(&session.user.role),
        notice: outcome.notice,
        problems: outcome.problems,
        languages: Lang::ALL
            .iter()
            .map(|l| LangHeading {
                code: l.code(),
                name: l.native_name(),
            })
            .collect(),
        meters,
        rows,
    };
    let title = messages.text(lang, "staff_translations_title", &[]);
    render(state, req, status, "admin_translations", lang, &title, &body)
}

/// GET /admin/surveys/{slug}/translations
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    let notice = query_param(req.query_string(), "saved").map(|n| {
        // English needs the singular for one; the other languages have no plural.
        let key = match n.as_str() {
            "1" => "staff_translations_saved_one",
            _ => "staff_translations_saved",
        };
        state.renderer.messages.text(lang, key, &[("count", &n)])
    });
    let outcome = Outcome {
        notice,
        ..Outcome::default()
    };
    translations_page(&req, &state, lang, session, path.into_inner(), StatusCode::OK, outcome).await
}

/// The edits of a translations form: every field but `_csrf` must be
/// named `PATH|LANG`; the names that are not are returned as problems.
fn edits_of(pairs: Vec<(String, String)>) -> Result<Vec<Edit>, Vec<String>> {
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    for (name, text) in pairs {
        if name == "_csrf" {
            continue;
        }
        match name.rsplit_once('|').map(|(path, l)| (path, l.parse::<Lang>())) {
            Some((path, Ok(lang))) => edits.push(Edit {
                path: path.to_string(),
                lang,
                text,
            }),
            _ => problems.push(format!(
                "field {name:?} does not name a text and a language (PATH|zh, en or ko)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(edits)
    } else {
        Err(problems)
    }
}

/// POST /admin/surveys/{slug}/translations: apply every sent text to the
/// stored draft and store it back (audited as `survey.translate`).
pub async fn save(
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
    let refuse = |items: Vec<String>, edits: Vec<Edit>| Outcome {
        problems: Some(Problems {
            heading: state.renderer.messages.text(lang, "staff_translations_failed", &[]),
            items,
        }),
        edits,
        ..Outcome::default()
    };
    let edits = match edits_of(pairs) {
        Ok(edits) => edits,
        Err(items) => {
            let outcome = refuse(items, Vec::new());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return translations_page(&req, &state, lang, session, slug, status, outcome).await;
        }
    };
    let db = state.db.clone();
    let actor = session.user.username.to_string();
    let (key, sent) = (slug.clone(), edits.clone());
    let saved = blocking(&state, lang, move || {
        Ok::<_, std::convert::Infallible>(
            db.update_draft(&key, &actor, "survey.translate", |raw| translations::apply(raw, &sent)),
        )
    })
    .await?;
    let items = match saved {
        Ok(Ok((version, changed))) => {
            log::info!(
                "{} saved {changed} translations of {slug} v{version} (draft)",
                session.user.username
            );
            return Ok(see_other(format!("/admin/surveys/{slug}/translations?saved={changed}")));
        }
        Ok(Err(unknown)) => unknown.iter().map(UnknownPath::to_string).collect(),
        Err(DraftError::Database(e)) => return Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into()),
        Err(e) => draft_problems(&e),
    };
    let outcome = refuse(items, edits);
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    translations_page(&req, &state, lang, session, slug, status, outcome).await
}

#[derive(Serialize)]
struct PreviewProblemsPage {
    staff: StaffBar,
    slug: String,
    version: u32,
    problems: Vec<String>,
}

/// GET /admin/surveys/{slug}/preview?lang=zh|en|ko[&draft=1][&width=phone]:
/// the resident form of the draft (or of the latest published version).
/// The form's own language buttons come back here as `_switch_lang`.
pub async fn preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    // `?lang=` picks the form's language here; the banner and any error
    // page stay in the staff member's own (remembered) language.
    let staff_lang = req
        .cookie(LANG_COOKIE)
        .and_then(|c| c.value().parse().ok())
        .unwrap_or(viewer.lang);
    let slug = path.into_inner();
    let query = req.query_string();
    let form_lang = match ["_switch_lang", "lang", "_lang"]
        .iter()
        .find_map(|name| query_param(query, name))
    {
        None => staff_lang,
        Some(code) => code
            .parse::<Lang>()
            .map_err(|e| state.error(WebErrorKind::BadRequest, staff_lang, e.to_string()))?,
    };
    let draft = query_param(query, "draft").as_deref() == Some("1");
    let phone = query_param(query, "width").as_deref() == Some("phone");

    let survey: std::sync::Arc<Survey> = if draft {
        let db = state.db.clone();
        let key = slug.clone();
        let Some(stored) = blocking(&state, staff_lang, move || db.draft(&key)).await? else {
            return Err(state
                .error(WebErrorKind::NotFound, staff_lang, format!("{slug:?} has no draft"))
                .into());
        };
        let source = format!("{slug} v{} (draft)", stored.version);
        match Survey::from_toml(&source, &stored.definition) {
            Ok(survey) => std::sync::Arc::new(survey),
            Err(e) => {
                let problems = if e.issues().is_empty() {
                    vec![e.to_string()]
                } else {
                    e.issues().iter().map(|i| i.to_string()).collect()
                };
                let body = PreviewProblemsPage {
                    staff: StaffBar::new(&state, staff_lang, session),
                    slug,
                    version: stored.version,
                    problems,
                };
                let title = state
                    .renderer
                    .messages
                    .text(staff_lang, "staff_preview_problems_title", &[]);
                return render(
                    &state,
                    &req,
                    StatusCode::OK,
                    "admin_preview_problems",
                    staff_lang,
                    &title,
                    &body,
                );
            }
        }
    } else {
        match state.surveys().latest(&slug) {
            Some(stored) => std::sync::Arc::new(stored.survey.clone()),
            None => {
                return Err(state
                    .error(
                        WebErrorKind::NotFound,
                        staff_lang,
                        format!("{slug:?} has no published version"),
                    )
                    .into())
            }
        }
    };

    let m = &state.renderer.messages;
    let version = survey.version.to_string();
    let banner_key = if draft {
        "staff_preview_banner_draft"
    } else {
        "staff_preview_banner_published"
    };
    let here = |phone: bool| {
        let mut href = format!("/admin/surveys/{slug}/preview?lang={}", form_lang.code());
        if draft {
            href.push_str("&draft=1");
        }
        if phone {
            href.push_str("&width=phone");
        }
        href
    };
    let mut hidden = Vec::new();
    if draft {
        hidden.push(HiddenField {
            name: "draft",
            value: "1".into(),
        });
    }
    if phone {
        hidden.push(HiddenField {
            name: "width",
            value: "phone".into(),
        });
    }
    let width_link = if phone {
        PreviewLink {
            label: m.text(staff_lang, "staff_preview_full", &[]),
            href: here(false),
        }
    } else {
        PreviewLink {
            label: m.text(staff_lang, "staff_preview_phone", &[]),
            href: here(true),
        }
    };
    let preview = Preview {
        banner: m.text(staff_lang, banner_key, &[("version", &version)]),
        banner_lang: staff_lang.code(),
        phone,
        links: vec![
            width_link,
            PreviewLink {
                label: m.text(staff_lang, "staff_preview_back", &[]),
                href: format!("/admin/surveys/{slug}"),
            },
        ],
        hidden,
    };
    let view = FormView::new(&state, &survey, form_lang, &RawAnswers::default(), &[], "", "")
        .into_preview(format!("/admin/surveys/{slug}/preview"), preview);
    let html = render_form(&state, &survey, form_lang, &view)?;
    Ok(HttpResponse::Ok().content_type(ContentType::html()).body(html))
}
