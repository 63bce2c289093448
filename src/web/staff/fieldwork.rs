//! The fieldwork page of a survey: set up a wave (who may answer, strata,
//! dates, helpline), enter its sampling frame, create invitation batches
//! and download their codes and letters, and read the fieldwork figures
//! and data-quality flags.
//!
//! Every staff member may look; only statisticians and admins, who run
//! the sample, may change it or download codes. The rules are those of
//! `fieldwork` and `db`, the same as the command line's.

use super::surveys::{checked_form, field, render, see_other};
use super::{blocking, StaffBar, StaffError, Viewer};
use crate::account::Role;
use crate::db::{DbError, Session};
use crate::fieldwork::figures::{FieldworkReport, FieldworkRow};
use crate::fieldwork::wave::{stratum_values, Access};
use crate::fieldwork::{CurrentWave, Flag, FrameStratum, WaveSettings};
use crate::lang::Lang;
use crate::survey::schedule::{date_text, parse_date, DateWindow};
use crate::survey::QuestionKind;
use crate::web::error::WebErrorKind;
use crate::web::i18n::query_param;
use crate::web::letters::{codes_csv, letters_csp, letters_html, LetterSettings};
use crate::web::AppState;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Who runs the sample.
const SAMPLERS: &[Role] = &[Role::Admin, Role::Statistician];

/// Largest fieldwork form: a frame of a few hundred strata at most.
pub const MAX_FIELDWORK_FORM_BYTES: usize = 64 * 1024;

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct WaveLink {
    wave: i32,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct FrameRow {
    stratum: String,
    label: String,
    population: String,
}

#[derive(Serialize)]
struct BatchRow {
    id: i64,
    stratum: String,
    size: u32,
    used: u32,
    created_at: String,
    created_by: String,
    csv_href: String,
    letters_href: String,
}

#[derive(Serialize)]
pub(super) struct FigureRow {
    stratum: String,
    population: String,
    invited: u64,
    completed: u64,
    response_rate: String,
    design_weight: String,
    open_link: u64,
    median_time: String,
}

/// The fieldwork figures as the table shows them.
#[derive(Serialize)]
pub(super) struct Figures {
    rows: Vec<FigureRow>,
    total: FigureRow,
    flags: Vec<(String, u64)>,
    responses: String,
}

#[derive(Serialize)]
struct FieldworkPage {
    staff: StaffBar,
    slug: String,
    title: String,
    can_manage: bool,
    wave: i32,
    set_up: bool,
    waves: Vec<WaveLink>,
    access: Vec<Choice>,
    stratum_questions: Vec<Choice>,
    opens: String,
    closes: String,
    helpline: String,
    results_published: String,
    /// Which zone the dates and times are in.
    zone_note: String,
    frame: Vec<FrameRow>,
    has_frame: bool,
    frame_strata: Vec<Choice>,
    batches: Vec<BatchRow>,
    figures: Figures,
    notice: Option<String>,
    problems: Vec<String>,
    has_problems: bool,
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn figure_row(r: &FieldworkRow, label: String) -> FigureRow {
    FigureRow {
        stratum: label,
        population: r.population.map(number).unwrap_or_default(),
        invited: r.invited,
        completed: r.completed,
        response_rate: r
            .response_rate
            .map(|p| format!("{:.1}%", 100.0 * p))
            .unwrap_or_default(),
        design_weight: r.design_weight.map(|w| format!("{w:.1}")).unwrap_or_default(),
        open_link: r.open_link,
        median_time: r
            .median_completion_seconds
            .map(|s| format!("{}:{:02}", (s as u64) / 60, (s as u64) % 60))
            .unwrap_or_default(),
    }
}

/// The figures table of `report` in `lang`, strata named by their labels.
pub(super) fn figures(
    state: &AppState,
    lang: Lang,
    report: &FieldworkReport,
    labels: &dyn Fn(&str) -> String,
) -> Figures {
    let m = &state.renderer.messages;
    Figures {
        rows: report
            .strata
            .iter()
            .map(|r| figure_row(r, labels(&r.stratum)))
            .collect(),
        total: figure_row(&report.total, m.text(lang, "staff_fieldwork_total", &[])),
        flags: Flag::ALL
            .iter()
            .map(|f| (m.text(lang, &format!("staff_flag_{f}"), &[]), report.flags.get(*f)))
            .collect(),
        responses: m.text(
            lang,
            "staff_fieldwork_responses",
            &[
                ("invited", &report.responses.invited.to_string()),
                ("web", &report.responses.web.to_string()),
                ("import", &report.responses.import.to_string()),
            ],
        ),
    }
}

/// Option labels of the stratum question, in the page's language.
pub(super) fn stratum_labels(state: &AppState, slug: &str, question: &str, lang: Lang) -> impl Fn(&str) -> String {
    let labels: Vec<(String, String)> = state
        .surveys()
        .latest(slug)
        .and_then(|s| {
            s.survey.question(question).map(|q| {
                q.kind
                    .options()
                    .iter()
                    .map(|o| (o.value.to_string(), o.label.get(lang).to_string()))
                    .collect()
            })
        })
        .unwrap_or_default();
    move |value: &str| {
        labels
            .iter()
            .find(|(v, _)| v == value)
            .map_or_else(|| value.to_string(), |(_, l)| format!("{l} ({value})"))
    }
}

struct Loaded {
    settings: Option<WaveSettings>,
    all_waves: Vec<WaveSettings>,
    frame: Vec<FrameStratum>,
    batches: Vec<crate::db::InvitationBatch>,
    report: FieldworkReport,
}

/// What the page shows besides the stored state: which wave, and what the
/// last form did.
struct Shown {
    wave: Option<i32>,
    status: StatusCode,
    notice: Option<String>,
    problems: Vec<String>,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    viewer: &Viewer,
    session: &Session,
    slug: String,
    shown: Shown,
) -> Result<HttpResponse, StaffError> {
    let Shown {
        wave,
        status,
        notice,
        problems,
    } = shown;
    let lang = viewer.lang;
    let stored = state
        .surveys()
        .latest(&slug)
        .ok_or_else(|| state.error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}")))?;
    let db = state.db.clone();
    let registry = state.surveys();
    let key = slug.clone();
    let today = state.clock.today();
    let loaded = blocking(
        state,
        lang,
        move || -> Result<Loaded, crate::analysis::AnalysisError> {
            let all_waves = db.wave_settings(&key)?;
            let wave = wave.unwrap_or_else(|| CurrentWave::choose(&all_waves, today).wave());
            Ok(Loaded {
                settings: db.wave(&key, wave)?,
                frame: db.frame(&key, wave)?,
                batches: db.invitation_batches(&key, Some(wave))?,
                report: crate::analysis::fieldwork(&db, &registry, &key, Some(wave), today)?,
                all_waves,
            })
        },
    )
    .await?;
    let m = &state.renderer.messages;
    let wave = loaded.report.wave;
    let set_up = loaded.settings.is_some();
    let settings = loaded.settings.unwrap_or_else(|| WaveSettings::new(wave));
    let survey = &stored.survey;
    let labels = stratum_labels(state, &slug, &settings.stratum_question, lang);
    let frame_rows = stratum_values(survey, &settings.stratum_question)
        .unwrap_or_default()
        .into_iter()
        .map(|value| FrameRow {
            stratum: value.to_string(),
            label: labels(value),
            population: loaded
                .frame
                .iter()
                .find(|s| s.stratum == value)
                .map(|s| number(s.population))
                .unwrap_or_default(),
        })
        .collect();
    let mut waves: Vec<WaveLink> = loaded
        .all_waves
        .iter()
        .map(|w| WaveLink {
            wave: w.wave,
            href: format!("/admin/surveys/{slug}/fieldwork?wave={}", w.wave),
            current: w.wave == wave,
        })
        .collect();
    if !set_up {
        waves.push(WaveLink {
            wave,
            href: format!("/admin/surveys/{slug}/fieldwork?wave={wave}"),
            current: true,
        });
    }
    let body = FieldworkPage {
        staff: StaffBar::new(state, lang, session),
        title: survey.title.get(lang).to_string(),
        can_manage: SAMPLERS.contains(&session.user.role),
        wave,
        set_up,
        waves,
        access: Access::ALL
            .iter()
            .map(|a| Choice {
                value: a.as_str().to_string(),
                label: m.text(lang, &format!("staff_access_{a}"), &[]),
                selected: *a == settings.access,
            })
            .collect(),
        stratum_questions: survey
            .questions
            .iter()
            .filter(|q| matches!(q.kind, QuestionKind::SingleChoice { .. }))
            .map(|q| Choice {
                value: q.id.to_string(),
                label: format!("{} ({})", q.text.get(lang), q.id),
                selected: q.id.as_str() == settings.stratum_question,
            })
            .collect(),
        opens: date_text(settings.window.opens()).unwrap_or_default(),
        closes: date_text(settings.window.closes()).unwrap_or_default(),
        helpline: settings.helpline.clone(),
        results_published: date_text(settings.results_published).unwrap_or_default(),
        zone_note: m.text(lang, "staff_time_zone_note", &[("zone", state.clock.zone_name())]),
        has_frame: !loaded.frame.is_empty(),
        frame_strata: loaded
            .frame
            .iter()
            .map(|s| Choice {
                value: s.stratum.clone(),
                label: labels(&s.stratum),
                selected: false,
            })
            .collect(),
        frame: frame_rows,
        batches: loaded
            .batches
            .iter()
            .map(|b| BatchRow {
                id: b.id,
                stratum: labels(&b.stratum),
                size: b.size,
                used: b.used,
                created_at: state.clock.stored_text(&b.created_at),
                created_by: b.created_by.clone(),
                csv_href: format!("/admin/surveys/{slug}/invitations/{}/codes.csv", b.id),
                letters_href: format!("/admin/surveys/{slug}/invitations/{}/letters", b.id),
            })
            .collect(),
        figures: figures(state, lang, &loaded.report, &labels),
        notice,
        has_problems: !problems.is_empty(),
        problems,
        slug,
    };
    let title = format!("{} – {}", m.text(lang, "staff_fieldwork_title", &[]), body.title);
    render(state, req, status, "admin_fieldwork", lang, &title, &body)
}

/// GET /admin/surveys/{slug}/fieldwork?wave=W
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    let query = req.query_string();
    let wave = query_param(query, "wave").and_then(|w| w.parse().ok());
    let m = &state.renderer.messages;
    let notice = match query_param(query, "done").as_deref() {
        Some("settings") => Some(m.text(lang, "staff_fieldwork_saved_settings", &[])),
        Some("frame") => Some(m.text(lang, "staff_fieldwork_saved_frame", &[])),
        Some("batch") => Some(m.text(
            lang,
            "staff_fieldwork_created_batch",
            &[("batch", &query_param(query, "batch").unwrap_or_default())],
        )),
        _ => None,
    };
    let shown = Shown {
        wave,
        status: StatusCode::OK,
        notice,
        problems: Vec::new(),
    };
    page(&req, &state, &viewer, session, path.into_inner(), shown).await
}

/// The wave a fieldwork form is about.
fn form_wave(pairs: &[(String, String)]) -> Result<i32, String> {
    let text = field(pairs, "wave");
    text.parse::<i32>()
        .ok()
        .filter(|w| (1900..=9999).contains(w))
        .ok_or_else(|| format!("{text:?} is not a wave (a year such as 2026)"))
}

/// A refused fieldwork form: the page again with the problems, 422.
async fn refused(
    req: &HttpRequest,
    state: &AppState,
    viewer: &Viewer,
    session: &Session,
    slug: String,
    wave: Option<i32>,
    problems: Vec<String>,
) -> Result<HttpResponse, StaffError> {
    let shown = Shown {
        wave,
        status: StatusCode::UNPROCESSABLE_ENTITY,
        notice: None,
        problems,
    };
    page(req, state, viewer, session, slug, shown).await
}

/// A fieldwork form after its checks: the fields, the statistician or
/// admin who sent it, the survey and the wave it is about.
struct FieldworkForm<'v> {
    pairs: Vec<(String, String)>,
    session: &'v Session,
    slug: String,
    stored: std::sync::Arc<crate::db::StoredSurvey>,
    wave: i32,
}

/// Check a fieldwork form (role, CSRF, survey, wave); `Err` is the
/// response to send instead.
async fn fieldwork_form<'v>(
    req: &HttpRequest,
    state: &AppState,
    viewer: &'v Viewer,
    slug: String,
    body: &[u8],
) -> Result<Result<FieldworkForm<'v>, HttpResponse>, StaffError> {
    let (pairs, session) = match checked_form(req, state, viewer, body, SAMPLERS).await? {
        Ok(form) => form,
        Err(refused) => return Ok(Err(refused)),
    };
    let Some(stored) = state.surveys().latest(&slug) else {
        return Err(state
            .error(WebErrorKind::NotFound, viewer.lang, format!("no survey {slug:?}"))
            .into());
    };
    match form_wave(&pairs) {
        Ok(wave) => Ok(Ok(FieldworkForm {
            pairs,
            session,
            slug,
            stored,
            wave,
        })),
        Err(problem) => Ok(Err(
            refused(req, state, viewer, session, slug, None, vec![problem]).await?
        )),
    }
}

/// POST /admin/surveys/{slug}/fieldwork/wave: set up or change a wave.
pub async fn save_wave(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let FieldworkForm {
        pairs,
        session,
        slug,
        stored,
        wave,
    } = match fieldwork_form(&req, &state, &viewer, path.into_inner(), &body).await? {
        Ok(form) => form,
        Err(response) => return Ok(response),
    };
    let lang = viewer.lang;
    let mut problems = Vec::new();
    let access = field(&pairs, "access")
        .parse::<Access>()
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let question = field(&pairs, "stratum_question");
    if let Err(e) = stratum_values(&stored.survey, &question) {
        problems.push(e.to_string());
    }
    let date = |name: &str| {
        let text = field(&pairs, name);
        (!text.is_empty()).then(|| parse_date(&text)).transpose()
    };
    let window = match (date("opens"), date("closes")) {
        (Ok(o), Ok(c)) => DateWindow::new(o, c).map_err(|e| problems.push(e.to_string())).ok(),
        (o, c) => {
            problems.extend([o.err(), c.err()].into_iter().flatten());
            None
        }
    };
    let results_published = date("results_published").map_err(|e| problems.push(e)).ok().flatten();
    let (Some(access), Some(window), true) = (access, window, problems.is_empty()) else {
        return refused(&req, &state, &viewer, session, slug, Some(wave), problems).await;
    };
    let settings = WaveSettings {
        wave,
        access,
        stratum_question: question,
        window,
        helpline: field(&pairs, "helpline"),
        results_published,
    };
    let problems = super::broken_rules(&state, lang, &settings);
    if !problems.is_empty() {
        return refused(&req, &state, &viewer, session, slug, Some(wave), problems).await;
    }
    let db = state.db.clone();
    let (key, actor) = (slug.clone(), session.user.username.to_string());
    blocking(&state, lang, move || db.set_wave(&key, &settings, &actor)).await?;
    Ok(see_other(format!(
        "/admin/surveys/{slug}/fieldwork?wave={wave}&done=settings"
    )))
}

/// POST /admin/surveys/{slug}/fieldwork/frame: `population.STRATUM` fields.
pub async fn save_frame(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let FieldworkForm {
        pairs,
        session,
        slug,
        stored,
        wave,
    } = match fieldwork_form(&req, &state, &viewer, path.into_inner(), &body).await? {
        Ok(form) => form,
        Err(response) => return Ok(response),
    };
    let lang = viewer.lang;
    let db = state.db.clone();
    let key = slug.clone();
    let settings = blocking(&state, lang, move || db.wave(&key, wave))
        .await?
        .unwrap_or_else(|| WaveSettings::new(wave));
    let values = match stratum_values(&stored.survey, &settings.stratum_question) {
        Ok(v) => v.into_iter().map(str::to_string).collect::<Vec<_>>(),
        Err(e) => return refused(&req, &state, &viewer, session, slug, Some(wave), vec![e.to_string()]).await,
    };
    let mut strata = Vec::new();
    let mut problems = Vec::new();
    for value in &values {
        let text = field(&pairs, &format!("population.{value}"));
        if text.is_empty() {
            continue;
        }
        match text.replace([',', ' '], "").parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 1.0 => strata.push(FrameStratum {
                stratum: value.clone(),
                population: n,
            }),
            _ => problems.push(format!(
                "{value}: population must be a number of at least 1, not {text:?}"
            )),
        }
    }
    if strata.is_empty() && problems.is_empty() {
        problems.push("enter the population of at least one stratum".to_string());
    }
    if !problems.is_empty() {
        return refused(&req, &state, &viewer, session, slug, Some(wave), problems).await;
    }
    let db = state.db.clone();
    let (key, actor) = (slug.clone(), session.user.username.to_string());
    blocking(&state, lang, move || db.set_frame(&key, &settings, &strata, &actor)).await?;
    Ok(see_other(format!(
        "/admin/surveys/{slug}/fieldwork?wave={wave}&done=frame"
    )))
}

/// POST /admin/surveys/{slug}/fieldwork/invitations: `stratum` and `count`.
pub async fn create_batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let FieldworkForm {
        pairs,
        session,
        slug,
        stored,
        wave,
    } = match fieldwork_form(&req, &state, &viewer, path.into_inner(), &body).await? {
        Ok(form) => form,
        Err(response) => return Ok(response),
    };
    let lang = viewer.lang;
    let stratum = field(&pairs, "stratum");
    let count_text = field(&pairs, "count");
    let Ok(count) = count_text.parse::<u64>() else {
        let problem = format!("{count_text:?} is not a number of invitations");
        return refused(&req, &state, &viewer, session, slug, Some(wave), vec![problem]).await;
    };
    let request = crate::fieldwork::InvitationRequest { stratum, count };
    let problems = super::broken_rules(&state, lang, &request);
    if !problems.is_empty() {
        return refused(&req, &state, &viewer, session, slug, Some(wave), problems).await;
    }
    let crate::fieldwork::InvitationRequest { stratum, count } = request;
    let db = state.db.clone();
    let key = slug.clone();
    let settings = blocking(&state, lang, move || db.wave(&key, wave)).await?;
    let Some(settings) = settings else {
        let problem = crate::db::FieldworkError::NoWave {
            slug: slug.clone(),
            wave,
        }
        .to_string();
        return refused(&req, &state, &viewer, session, slug, Some(wave), vec![problem]).await;
    };
    // The letters must be printable before any code is issued.
    let base_url = state.public_url(&req);
    let letter_settings = LetterSettings {
        survey: &stored.survey,
        wave: &settings,
        version_window: stored.window,
        base_url: &base_url,
        langs: &Lang::ALL,
    };
    if let Err(e) = letter_settings.check() {
        return refused(&req, &state, &viewer, session, slug, Some(wave), vec![e.to_string()]).await;
    }
    let db = state.db.clone();
    let server_key = state.key.clone();
    let (key, actor) = (slug.clone(), session.user.username.to_string());
    let created = blocking(&state, lang, move || -> Result<_, String> {
        match db.create_invitations(&key, wave, &stratum, count, &server_key, &actor) {
            Ok((batch, _)) => Ok(Ok(batch.id)),
            Err(DbError::Fieldwork(e)) => Ok(Err(e.to_string())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    match created {
        Ok(batch) => Ok(see_other(format!(
            "/admin/surveys/{slug}/fieldwork?wave={wave}&done=batch&batch={batch}"
        ))),
        Err(problem) => refused(&req, &state, &viewer, session, slug, Some(wave), vec![problem]).await,
    }
}

/// The batch `{slug}/invitations/{batch}` with its codes and wave.
async fn batch_of(
    state: &AppState,
    lang: Lang,
    slug: &str,
    batch: i64,
) -> Result<
    (
        crate::db::InvitationBatch,
        Vec<crate::db::IssuedInvitation>,
        WaveSettings,
    ),
    StaffError,
> {
    let db = state.db.clone();
    let key = state.key.clone();
    let owned = slug.to_string();
    let found = blocking(state, lang, move || -> Result<_, String> {
        match db.invitation_batch(&owned, batch, &key) {
            Ok((b, issued)) => {
                let settings = db.wave(&owned, b.wave).map_err(|e| e.to_string())?;
                Ok(Some((b, issued, settings)))
            }
            Err(DbError::Fieldwork(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    match found {
        Some((b, issued, settings)) => {
            let settings = settings.unwrap_or_else(|| WaveSettings::new(b.wave));
            Ok((b, issued, settings))
        }
        None => Err(state
            .error(WebErrorKind::NotFound, lang, format!("no batch {batch} of {slug}"))
            .into()),
    }
}

/// GET /admin/surveys/{slug}/invitations/{batch}/codes.csv
pub async fn batch_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, SAMPLERS)?;
    let lang = viewer.lang;
    let (slug, batch) = path.into_inner();
    let (batch, issued, _) = batch_of(&state, lang, &slug, batch).await?;
    let csv = codes_csv(&state.public_url(&req), &batch, &issued)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    log::info!(
        "{} downloaded the codes of batch {} of {slug}",
        session.user.username,
        batch.id
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{slug}-{}-{}-batch{}.csv\"",
                batch.wave, batch.stratum, batch.id
            ),
        ))
        .body(csv))
}

/// GET /admin/surveys/{slug}/invitations/{batch}/letters[?lang=zh|en|ko]
pub async fn batch_letters(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, StaffError> {
    viewer.require(&state, SAMPLERS)?;
    let lang = viewer.lang;
    let (slug, batch) = path.into_inner();
    let Some(stored) = state.surveys().latest(&slug) else {
        return Err(state
            .error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}"))
            .into());
    };
    let (batch, issued, settings) = batch_of(&state, lang, &slug, batch).await?;
    let langs: Vec<Lang> = match query_param(req.query_string(), "letters").and_then(|l| l.parse::<Lang>().ok()) {
        Some(one) => vec![one],
        None => Lang::ALL.to_vec(),
    };
    let base_url = state.public_url(&req);
    let letter_settings = LetterSettings {
        survey: &stored.survey,
        wave: &settings,
        version_window: stored.window,
        base_url: &base_url,
        langs: &langs,
    };
    let html = letters_html(&state.renderer, &letter_settings, &batch, &issued)
        .map_err(|e| state.error(WebErrorKind::BadRequest, lang, e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, letters_csp()))
        .body(html))
}
