//! The resident's pages: the start page of an invitation wave, the survey
//! form, its submission and the thank-you page. Handlers translate HTTP
//! into calls on the survey model, the fieldwork rules and the database,
//! and back into pages; they make no decisions of their own about what an
//! answer means.
//!
//! Whatever happens to a submission, the answers given so far are either
//! stored or sent back filled in: a refused form (expired, forged, over the
//! rate limit, a wrong code, a missing answer, a database that is down or
//! full) comes back with every answer and a specific message, in the
//! resident's language.

mod pages;
mod resume;
mod review;
mod start;
mod view;

pub use resume::{clear, clear_form, resume, resume_form};
pub use review::review;
pub use start::start;
pub(crate) use view::{render_form, CodeView, FormView, HiddenField, Preview, PreviewLink};

use super::error::{WebError, WebErrorKind};
use super::i18n::{negotiate, query_lang, query_param, LANG_COOKIE};
use super::limits::{retry_after, wait_minutes, Action};
use super::precompressed::{encoding_for, Negotiated, SplicedPage};
use super::security::{
    csrf_cookie, csrf_of, csrf_or_new, issue_form_token, matching_csrf, new_token, verify_form_token, FormBinding,
    FormTokenProblem,
};
use super::text_size::{self, TextSize};
use super::AppState;
use crate::crypto::Purpose;
use crate::db::{DbError, Inserted, InvitationUse, InvitedSubmission, NewResponse, StoredSurvey, Submission};
use crate::fieldwork::quality::{is_straightliner, straightline_blocks};
use crate::fieldwork::{Access, CodeError, CurrentWave, InvitationCode};
use crate::lang::Lang;
use crate::survey::schedule::Availability;
use crate::survey::{RawAnswers, Survey};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use view::{FormError, CODE_ANCHOR};

/// Largest form body accepted. The longest possible honest submission
/// (every text at its maximum, percent-encoded) stays far below it.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Hidden fields the form carries besides the answers.
const FIELD_CSRF: &str = "_csrf";
const FIELD_FORM: &str = "_form";
const FIELD_LANG: &str = "_lang";
const FIELD_VERSION: &str = "_v";
const FIELD_SWITCH: &str = "_switch_lang";
const FIELD_CODE: &str = "_code";
/// The section page a form is (1-based, or `review`); absent in a one-shot form.
const FIELD_PAGE: &str = "_page";
/// Which button: `next`, `back` or (on the review page) `submit`.
const FIELD_GO: &str = "_go";
const FIELD_RESUME: &str = "_resume";
const FIELD_RETURN: &str = "_return";
/// The header's text-size button on a section page: `large` or `normal`.
const FIELD_TEXT: &str = "_text";
/// Every hidden field: a field of any other name is an answer.
#[doc(hidden)]
pub const HIDDEN_FIELDS: [&str; 11] = [
    FIELD_CSRF,
    FIELD_FORM,
    FIELD_LANG,
    FIELD_VERSION,
    FIELD_SWITCH,
    FIELD_CODE,
    FIELD_PAGE,
    FIELD_GO,
    FIELD_RESUME,
    FIELD_RETURN,
    FIELD_TEXT,
];

/// A survey as residents can answer it today: its current version and wave.
pub(crate) struct Answering {
    pub(crate) stored: Arc<StoredSurvey>,
    pub(crate) current: CurrentWave,
}

pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    #[derive(Serialize)]
    struct Item<'a> {
        slug: &'a str,
        title: &'a str,
        href: String,
    }
    #[derive(Serialize)]
    struct Home<'a> {
        intro: String,
        surveys: Vec<Item<'a>>,
    }
    let registry = state.surveys();
    let today = state.clock.today();
    let current: Vec<_> = registry.current().cloned().collect();
    let db = state.db.clone();
    let slugs: Vec<String> = current.iter().map(|s| s.survey.slug.to_string()).collect();
    let waves = web::block(move || {
        slugs
            .iter()
            .map(|slug| db.wave_settings(slug))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?
    .map_err(|e| state.db_error(lang, &e))?;
    // Only surveys residents can answer today are offered.
    let surveys = current
        .iter()
        .zip(&waves)
        .filter(|(s, waves)| {
            let wave = CurrentWave::choose(waves, today);
            s.window.availability(today).and(wave.availability(today)) == Availability::Open
        })
        .map(|(s, _)| Item {
            slug: s.survey.slug.as_str(),
            title: s.survey.title.get(lang),
            href: format!("/s/{}?lang={}", s.survey.slug, lang.code()),
        })
        .collect();
    let messages = &state.renderer.messages;
    let title = messages.text(lang, "site_name", &[]);
    let intro = messages.text(
        lang,
        "home_intro",
        &[("organization", state.identity.organization.get(lang))],
    );
    let html = state
        .renderer
        .render("home", lang, &title, false, &Home { intro, surveys })
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    Ok(with_lang_cookie(&req, HttpResponse::Ok())
        .content_type(ContentType::html())
        .body(html))
}

/// GET /s/{slug}: a fresh, empty form; or, in a wave that takes
/// invitation codes, the start page where the code is entered (filled in
/// from `?code=` when the resident came from a letter's QR code).
pub async fn show_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let answering = state.answering(lang, &path).await?;
    if let Some(page) = query_param(req.query_string(), "page") {
        let mut response = pages::show_page(&req, &state, &answering, lang, &page).await?;
        if let Some(lang) = query_lang(&req) {
            response.add_cookie(&lang_cookie(&req, lang)).ok();
        }
        return Ok(response);
    }
    // Saved answers come first: continue, or start again.
    if let Some((_, partial)) = pages::live_partial(&state, &req, lang, &path).await? {
        return resume::continue_page(&state, &req, &answering, lang, &partial);
    }
    let stale_cookie = req.cookie(pages::RESUME_COOKIE).is_some();
    let access = answering.current.access();
    let without_code = query_param(req.query_string(), "open").as_deref() == Some("1");
    if access.takes_codes() && !(access.admits_open_link() && without_code) {
        let code = query_param(req.query_string(), "code").unwrap_or_default();
        return start::start_page(&state, &req, &answering, lang, &code, None, StatusCode::OK);
    }
    let csrf = csrf_or_new(&req);
    let survey = &answering.stored.survey;
    let form_token = state.issue_form_token(survey, &csrf);
    let cleared = query_param(req.query_string(), "cleared").as_deref() == Some("1");
    let mut response = with_lang_cookie(&req, HttpResponse::Ok());
    response
        .cookie(csrf_cookie(&req, &csrf))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(ContentType::html());
    if stale_cookie {
        response.cookie(pages::forget_resume(&req, &path));
    }
    if cleared {
        let notice = state.renderer.messages.text(lang, "cleared_notice", &[]);
        let view = FormView::build(
            &state,
            survey,
            lang,
            &RawAnswers::default(),
            &[],
            &csrf,
            &form_token,
            first_page(),
        )
        .with_notice(notice);
        return Ok(response.body(render_form(&state, survey, lang, &view)?));
    }
    let tokens = [csrf.as_str(), form_token.as_str()];
    match encoding_for(&req) {
        Negotiated::Gzip => {
            // Encoded here, so at the text size the middleware would mark.
            let page = blank_form(&state, survey, lang, text_size::requested(&req))?;
            if let Some(gzip) = page.gzip(&tokens) {
                return Ok(response
                    .insert_header((header::CONTENT_ENCODING, "gzip"))
                    .insert_header((header::VARY, "Accept-Encoding"))
                    .body(gzip));
            }
        }
        Negotiated::Identity => {
            response.insert_header((header::VARY, "Accept-Encoding"));
        }
        Negotiated::Other => {}
    }
    // Plain, at the default size: the middleware marks it (and may encode it).
    let page = blank_form(&state, survey, lang, TextSize::Default)?;
    Ok(response.body(page.plain(&tokens)))
}

/// The first section page, before anything is saved.
fn first_page() -> view::Layout {
    view::Layout::Page(view::PageInfo {
        index: 0,
        resume_code: None,
        back_to_review: false,
        saved_at: 0,
    })
}

/// Stand-ins for the tokens in a cached blank form: the same shape as the
/// real ones, so the page is exactly what a direct rendering gives, and
/// never issued in practice (a CSRF token is 128 random bits; a form
/// token carries a MAC).
const CSRF_SENTINEL: &str = "c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5";
const FORM_SENTINEL: &str = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";

/// Which blank first page: survey, version, language and text size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BlankForm {
    slug: String,
    version: u32,
    lang: Lang,
    size: TextSize,
}

/// A blank first page with slots for the two tokens, rendered (and
/// gzipped) on first use and then reused: the page is the same for
/// everyone but for its tokens. At `TextSize::Large` it is marked as the
/// text-size middleware would mark it.
fn blank_form(state: &AppState, survey: &Survey, lang: Lang, size: TextSize) -> Result<Arc<SplicedPage>, WebError> {
    let key = BlankForm {
        slug: survey.slug.to_string(),
        version: survey.version,
        lang,
        size,
    };
    state.blank_forms.get_or_make(key, || {
        let view = FormView::build(
            state,
            survey,
            lang,
            &RawAnswers::default(),
            &[],
            CSRF_SENTINEL,
            FORM_SENTINEL,
            first_page(),
        );
        let mut html = render_form(state, survey, lang, &view)?;
        if size == TextSize::Large {
            if let Some(marked) = text_size::mark_large(html.as_bytes()) {
                html =
                    String::from_utf8(marked).map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
            }
        }
        Ok(SplicedPage::new(&html, &[CSRF_SENTINEL, FORM_SENTINEL]))
    })
}

/// GET /s/{slug}/thanks: says once that the answers arrived, what
/// happens to them, and when the results come out (the current wave's
/// publication day, set on the fieldwork page).
pub async fn thanks(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let stored = state.published(lang, &path)?;
    let survey = &stored.survey;
    let waves = match state.waves(lang, &path).await {
        Ok(waves) => waves,
        // The answers are stored; the thanks must not fail for want of
        // the day the results come out.
        Err(e) => {
            log::warn!(
                "thank-you page of {} without the results' day: {}",
                survey.slug,
                e.detail
            );
            Vec::new()
        }
    };
    let current = CurrentWave::choose(&waves, state.clock.today());
    let messages = &state.renderer.messages;
    let results = match current.settings().and_then(|w| w.results_published) {
        Some(day) => messages.text(
            lang,
            "thanks_results_on",
            &[("date", &super::i18n::long_date(lang, day))],
        ),
        None => messages.text(lang, "thanks_results_later", &[]),
    };
    #[derive(Serialize)]
    struct Thanks<'a> {
        survey: view::SurveyHeader<'a>,
        message: &'a str,
        already_received: bool,
        results: String,
    }
    let page = Thanks {
        survey: view::SurveyHeader::new(survey, lang),
        message: survey.thanks.get(lang),
        already_received: query_param(req.query_string(), "again").as_deref() == Some("1"),
        results,
    };
    let title = messages.text(lang, "thanks_received_title", &[]);
    let html = state
        .renderer
        .render(
            "thanks",
            lang,
            &format!("{} – {}", title, survey.title.get(lang)),
            false,
            &page,
        )
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    Ok(HttpResponse::Ok().content_type(ContentType::html()).body(html))
}

/// The fields of a submitted survey form. Public (hidden) for the fuzz
/// target of the form decoder (`fuzz/fuzz_targets/form_body.rs`).
#[doc(hidden)]
#[derive(Default)]
pub struct Submitted {
    csrf: Option<String>,
    form: Option<String>,
    lang: Option<String>,
    version: Option<String>,
    switch: Option<String>,
    code: Option<String>,
    page: Option<String>,
    go: Option<String>,
    resume: Option<String>,
    ret: Option<String>,
    text: Option<String>,
    answers: RawAnswers,
}

impl Submitted {
    /// The language the page was shown in (`hint` when the field is
    /// missing or not one of ours).
    fn shown_lang(&self, hint: Lang) -> Lang {
        self.lang.as_deref().and_then(|l| l.parse().ok()).unwrap_or(hint)
    }

    /// The language a language button asks for, if one was pressed.
    fn switch_to(&self) -> Option<Lang> {
        self.switch.as_deref().and_then(|l| l.parse().ok())
    }

    /// The decoded pairs of a form body: hidden fields by name, every
    /// other field an answer (checked later by `Survey::validate`).
    pub fn from_pairs(pairs: &[(String, String)]) -> Submitted {
        let mut s = Submitted::default();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                FIELD_CSRF => &mut s.csrf,
                FIELD_FORM => &mut s.form,
                FIELD_LANG => &mut s.lang,
                FIELD_VERSION => &mut s.version,
                FIELD_SWITCH => &mut s.switch,
                FIELD_CODE => &mut s.code,
                FIELD_PAGE => &mut s.page,
                FIELD_GO => &mut s.go,
                FIELD_RESUME => &mut s.resume,
                FIELD_RETURN => &mut s.ret,
                FIELD_TEXT => &mut s.text,
                _ => {
                    s.answers.push(key, value);
                    continue;
                }
            };
            *slot = Some(value.clone());
        }
        s
    }

    /// The answers as sent, every field that is not a hidden one.
    pub fn answers(&self) -> &RawAnswers {
        &self.answers
    }
}

/// A form page to send back: the answers as given, with a status and the
/// errors to show.
struct Refill<'a> {
    state: &'a AppState,
    req: &'a HttpRequest,
    survey: &'a Survey,
    lang: Lang,
    answers: &'a RawAnswers,
    code: Option<CodeView>,
}

impl Refill<'_> {
    fn page(
        &self,
        status: StatusCode,
        errors: &[FormError],
        csrf: &str,
        form_token: &str,
    ) -> Result<HttpResponse, WebError> {
        let view = FormView::new(
            self.state,
            self.survey,
            self.lang,
            self.answers,
            errors,
            csrf,
            form_token,
        )
        .with_code(self.code.clone());
        let html = render_form(self.state, self.survey, self.lang, &view)?;
        let mut response = HttpResponse::build(status);
        response
            .cookie(csrf_cookie(self.req, csrf))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        Ok(response.content_type(ContentType::html()).body(html))
    }

    /// The page with fresh tokens (the old ones cannot be used again).
    fn fresh(&self, status: StatusCode, message: String) -> Result<HttpResponse, WebError> {
        let csrf = new_token();
        let token = self.state.issue_form_token(self.survey, &csrf);
        self.page(status, &[FormError::general(message)], &csrf, &token)
    }

    /// Over a rate limit: nothing stored, the same form to send later.
    fn too_many(
        &self,
        csrf: &str,
        token: &str,
        wait: std::time::Duration,
        key: &str,
    ) -> Result<HttpResponse, WebError> {
        let minutes = wait_minutes(wait);
        let message = self
            .state
            .renderer
            .messages
            .text(self.lang, key, &[("minutes", &minutes)]);
        let response = self.page(
            StatusCode::TOO_MANY_REQUESTS,
            &[FormError::general(message)],
            csrf,
            token,
        )?;
        Ok(retry_after(response, wait))
    }

    /// Nothing stored because the database failed: the form back with
    /// every answer and the same tokens, so that sending it again stores
    /// it once even if the failure hid a commit that went through. 503
    /// with `Retry-After` when the database is down, full or overloaded.
    fn not_saved(&self, error: &WebError, csrf: &str, token: &str) -> Result<HttpResponse, WebError> {
        log::error!(
            "a response to {} was not stored; the resident has the answers back to send again: {}",
            self.survey.slug,
            error.detail
        );
        let message = self.state.renderer.messages.text(self.lang, "err_not_saved", &[]);
        let unavailable = error.kind == WebErrorKind::Unavailable;
        let status = if unavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let response = self.page(status, &[FormError::general(message)], csrf, token)?;
        Ok(if unavailable {
            retry_after(response, super::error::RETRY_AFTER)
        } else {
            response
        })
    }

    /// The code field with `error`, answers kept.
    fn code_problem(
        mut self,
        status: StatusCode,
        value: &str,
        error: String,
        csrf: &str,
        token: &str,
    ) -> Result<HttpResponse, WebError> {
        self.code = Some(CodeView {
            value: value.to_string(),
            accepted: false,
            required: self.code.as_ref().is_some_and(|c| c.required),
            error: Some(error.clone()),
        });
        let summary = FormError::anchored(CODE_ANCHOR, error);
        self.page(status, &[summary], csrf, token)
    }
}

/// POST /s/{slug}: store the answers, or show the form again with what is
/// wrong, or switch its language.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, WebError> {
    let hint = negotiate(&req);
    // Outside the survey's dates nothing is read or stored. When the
    // dates cannot be read (the database is down), the form is read all
    // the same, to hand the answers back.
    let answering = match state.answering(hint, &path).await {
        Err(e) if e.kind != WebErrorKind::Unavailable => return Err(e),
        answering => answering,
    };
    let body = read_body(&req, payload, MAX_FORM_BYTES)
        .await
        .map_err(|kind| state.error(kind, hint, "form body"))?;
    let pairs = state.form_pairs(&req, &body, hint)?;
    let form = Submitted::from_pairs(&pairs);
    if form.page.is_some() {
        // A page of the section-by-section flow.
        return pages::post_page(&req, &state, &answering?, &form, hint).await;
    }
    let parse_lang = |v: &Option<String>| -> Result<Option<Lang>, WebError> {
        v.as_deref()
            .map(|s| {
                s.parse::<Lang>()
                    .map_err(|e| state.error(WebErrorKind::BadRequest, hint, e.to_string()))
            })
            .transpose()
    };
    let form_lang = parse_lang(&form.lang)?.unwrap_or(hint);
    let switch_to = parse_lang(&form.switch)?;
    let lang = switch_to.unwrap_or(form_lang);

    // The form is checked against the version it was rendered from, as long
    // as that version exists; otherwise against the latest one.
    let stored = match form
        .version
        .as_deref()
        .and_then(|v| v.parse::<u32>().ok())
        .and_then(|v| state.survey_version(&path, v))
    {
        Some(stored) => stored,
        None => match &answering {
            Ok(answering) => answering.stored.clone(),
            Err(_) => state.published(lang, &path)?,
        },
    };
    let survey = &stored.survey;
    let typed_code = form.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let code = match &answering {
        Ok(answering) => {
            let access = answering.current.access();
            // A resident who chose the open link of a wave that also
            // takes codes sees no code field; one with a code, or in a
            // wave that requires one, does.
            (access.takes_codes() && (typed_code.is_some() || !access.admits_open_link())).then(|| CodeView {
                value: typed_code.unwrap_or_default().to_string(),
                accepted: typed_code.is_some(),
                required: !access.admits_open_link(),
                error: None,
            })
        }
        // The wave's rules are unknown: a code given is kept.
        Err(_) => typed_code.map(|typed| CodeView {
            value: typed.to_string(),
            accepted: true,
            required: false,
            error: None,
        }),
    };
    let refill = Refill {
        state: &state,
        req: &req,
        survey,
        lang,
        answers: &form.answers,
        code,
    };

    let cookie_csrf = csrf_of(&req);
    let csrf_ok = matching_csrf(&req, form.csrf.as_deref()).is_some();
    let given_token = form.form.clone().unwrap_or_default();
    // The tokens of a form to send again: its own while they are good.
    let own_or_fresh_tokens = || match (csrf_ok, &cookie_csrf) {
        (true, Some(csrf)) => (csrf.clone(), given_token.clone()),
        _ => {
            let csrf = new_token();
            let token = state.issue_form_token(survey, &csrf);
            (csrf, token)
        }
    };

    if switch_to.is_some() {
        // Switching language validates nothing and stores nothing.
        let (csrf, token) = own_or_fresh_tokens();
        return refill.page(StatusCode::OK, &[], &csrf, &token);
    }
    let answering = match answering {
        Ok(answering) => answering,
        Err(unavailable) => {
            let (csrf, token) = own_or_fresh_tokens();
            return refill.not_saved(&unavailable, &csrf, &token);
        }
    };
    let access = answering.current.access();
    let messages = &state.renderer.messages;
    // Every attempt to store counts against the client's limit, before
    // anything else is checked, so a flood costs as little as possible.
    if let Err(wait) = state.limit(&req, Action::Submit) {
        log::info!("submission to {} refused: over the rate limit", survey.slug);
        // The same form can be sent again once the wait is over.
        let (csrf, token) = own_or_fresh_tokens();
        return refill.too_many(&csrf, &token, wait, "err_too_many_submissions");
    }
    if !csrf_ok {
        // Expired or forged: store nothing, but give the resident their
        // answers back with fresh tokens so one more tap sends them.
        return refill.fresh(StatusCode::FORBIDDEN, messages.text(lang, "err_csrf", &[]));
    }
    let csrf = cookie_csrf.unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    let issued = match verify_form_token(&state.key, &given_token, &state.form_binding(survey, &csrf), now) {
        Ok(issued) => issued,
        Err(problem) => {
            log::info!("submission to {} refused: {problem}", survey.slug);
            let key = match problem {
                FormTokenProblem::Expired => "err_form_expired",
                FormTokenProblem::Forged | FormTokenProblem::Malformed => "err_form_not_ours",
            };
            return refill.fresh(StatusCode::FORBIDDEN, messages.text(lang, key, &[]));
        }
    };

    let answers = match survey.validate(&form.answers) {
        Ok(answers) => answers,
        Err(errors) => {
            let errors: Vec<FormError> = errors
                .iter()
                .map(|e| FormError::from_answer(&state, survey, lang, e))
                .collect();
            return refill.page(StatusCode::UNPROCESSABLE_ENTITY, &errors, &csrf, &given_token);
        }
    };

    let code = match (access, typed_code) {
        (Access::Open, _) | (Access::Both, None) => None,
        (Access::Invitation, None) => {
            let error = messages.text(lang, "err_code_missing", &[]);
            return refill.code_problem(StatusCode::UNPROCESSABLE_ENTITY, "", error, &csrf, &given_token);
        }
        (_, Some(typed)) => {
            if let Err(wait) = state.limit(&req, Action::Code) {
                return refill.too_many(&csrf, &given_token, wait, "err_too_many_codes");
            }
            match InvitationCode::parse(typed) {
                Ok(code) => Some(code),
                Err(e) => {
                    let error = code_error_message(&state, lang, &e);
                    return refill.code_problem(StatusCode::UNPROCESSABLE_ENTITY, typed, error, &csrf, &given_token);
                }
            }
        }
    };

    let lookup = code.as_ref().map(|c| c.lookup_key(&state.key));
    // Answers saved from the pages of this browser are completed with it.
    let partial = match pages::cookie_code(&req) {
        Some(code) => match state.partial(lang, survey.slug.as_str(), &code).await {
            Ok(partial) => partial.filter(|p| !p.completed).map(|p| p.id),
            Err(e) => return refill.not_saved(&e, &csrf, &given_token),
        },
        None => None,
    };
    let inserted = match state
        .store_response(Storing {
            stored: &stored,
            wave: answering.current.wave(),
            lang,
            partial,
            started: issued,
            now,
            answers,
            lookup,
            form_token: &given_token,
        })
        .await
    {
        Ok(inserted) => inserted,
        Err(e) => return refill.not_saved(&e, &csrf, &given_token),
    };
    let again = match inserted {
        Inserted::New(_) => {
            log::info!("stored a response to {} v{}", survey.slug, survey.version);
            ""
        }
        Inserted::Duplicate => {
            log::info!("form submitted again; its response is already stored");
            "&again=1"
        }
        Inserted::Refused(refused) => {
            let typed = typed_code.unwrap_or_default();
            let (status, error) = invitation_refusal(&state, lang, &refused);
            return refill.code_problem(status, typed, error, &csrf, &given_token);
        }
    };
    // Post/Redirect/Get: a reload of the thank-you page never re-sends the form.
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/s/{}/thanks?lang={}{}", survey.slug, lang.code(), again),
        ))
        .finish())
}

/// What a resident reads about a code that is not well-formed.
fn code_error_message(state: &AppState, lang: Lang, e: &CodeError) -> String {
    let m = &state.renderer.messages;
    match e {
        CodeError::Empty => m.text(lang, "err_code_missing", &[]),
        CodeError::Length(n) => m.text(lang, "err_code_length", &[("count", &n.to_string())]),
        CodeError::Character(c) => m.text(lang, "err_code_character", &[("character", &c.to_string())]),
        CodeError::Check => m.text(lang, "err_code_mistyped", &[]),
    }
}

/// The status and message for a code that cannot be used.
fn invitation_refusal(state: &AppState, lang: Lang, refused: &InvitationUse) -> (StatusCode, String) {
    let m = &state.renderer.messages;
    match refused {
        InvitationUse::Used | InvitationUse::UsedByThisForm => {
            (StatusCode::CONFLICT, m.text(lang, "err_code_used", &[]))
        }
        InvitationUse::OtherWave { wave } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            m.text(lang, "err_code_other_wave", &[("wave", &wave.to_string())]),
        ),
        InvitationUse::Unknown | InvitationUse::Usable { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, m.text(lang, "err_code_unknown", &[]))
        }
    }
}

/// Read the body up to `limit` bytes; a longer body is refused before it
/// is read in full.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, WebErrorKind> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(WebErrorKind::PayloadTooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| WebErrorKind::BadRequest)?;
        if body.len() + chunk.len() > limit {
            return Err(WebErrorKind::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn lang_cookie(req: &HttpRequest, lang: Lang) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .max_age(actix_web::cookie::time::Duration::days(365))
        .same_site(SameSite::Lax)
        .secure(req.connection_info().scheme() == "https")
        .finish()
}

/// Remember a language chosen with `?lang=`.
fn with_lang_cookie(req: &HttpRequest, mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    if let Some(lang) = query_lang(req) {
        builder.cookie(lang_cookie(req, lang));
    }
    builder
}

impl AppState {
    pub(crate) fn error(&self, kind: WebErrorKind, lang: Lang, detail: impl Into<String>) -> WebError {
        WebError::new(kind, lang, &self.renderer, detail)
    }

    /// The page for a failed database call: "try again in a few minutes"
    /// when the database is down, full or overloaded, else an internal
    /// error. The log line says which, and names the database.
    pub(crate) fn db_error(&self, lang: Lang, e: &DbError) -> WebError {
        let message = crate::db::one_line(&e.to_string());
        match e.outage() {
            Some(outage) => self.error(
                WebErrorKind::Unavailable,
                lang,
                format!("{} ({}): {message}", outage.describe(), self.db.url()),
            ),
            None => self.error(WebErrorKind::Internal, lang, message),
        }
    }

    /// What a form token of `survey` is bound to.
    fn form_binding<'a>(&self, survey: &'a Survey, csrf: &'a str) -> FormBinding<'a> {
        FormBinding {
            slug: survey.slug.as_str(),
            version: survey.version,
            csrf,
        }
    }

    pub(crate) fn issue_form_token(&self, survey: &Survey, csrf: &str) -> String {
        issue_form_token(
            &self.key,
            &self.form_binding(survey, csrf),
            time::OffsetDateTime::now_utc(),
        )
    }

    /// Count one `action` by this request's client.
    pub(crate) fn limit(&self, req: &HttpRequest, action: Action) -> Result<(), std::time::Duration> {
        let client = self.clients.key(req);
        self.limiter
            .take(action, client, self.limits.get(action), std::time::Instant::now())
    }

    /// The version of `slug` residents answer now, or a 404 page.
    fn published(&self, lang: Lang, slug: &str) -> Result<Arc<StoredSurvey>, WebError> {
        self.surveys().latest(slug).ok_or_else(|| self.not_found(lang, slug))
    }

    /// The waves of `slug` that were set up.
    async fn waves(&self, lang: Lang, slug: &str) -> Result<Vec<crate::fieldwork::WaveSettings>, WebError> {
        let db = self.db.clone();
        let owned = slug.to_string();
        web::block(move || db.wave_settings(&owned))
            .await
            .map_err(|e| self.error(WebErrorKind::Internal, lang, e.to_string()))?
            .map_err(|e| self.db_error(lang, &e))
    }

    /// The version and wave of `slug` residents answer now, if today (the
    /// city's date, see `clock`) is within the dates of both; otherwise a
    /// page that says when it opens or when it closed.
    pub(crate) async fn answering(&self, lang: Lang, slug: &str) -> Result<Answering, WebError> {
        let stored = self.published(lang, slug)?;
        let waves = self.waves(lang, slug).await?;
        let today = self.clock.today();
        let current = CurrentWave::choose(&waves, today);
        match stored.window.availability(today).and(current.availability(today)) {
            Availability::Open => Ok(Answering { stored, current }),
            Availability::NotYetOpen(opens) => Err(self
                .error(WebErrorKind::NotYetOpen, lang, format!("{slug} opens on {opens}"))
                .on(opens)),
            Availability::Closed(closes) => Err(self
                .error(WebErrorKind::Closed, lang, format!("{slug} closed after {closes}"))
                .on(closes)),
        }
    }

    fn not_found(&self, lang: Lang, slug: &str) -> WebError {
        self.error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}"))
    }
}

/// The fields of a small resident form (a code, a confirmation), with the
/// language it was shown in.
pub(super) struct SmallForm(Vec<(String, String)>);

impl SmallForm {
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The language the form was shown in, else `hint`.
    pub(super) fn lang(&self, hint: Lang) -> Lang {
        self.field("_lang").and_then(|l| l.parse().ok()).unwrap_or(hint)
    }
}

/// A response about to be stored, from a one-shot form or from the review
/// page of saved answers.
pub(super) struct Storing<'a> {
    pub(super) stored: &'a StoredSurvey,
    pub(super) wave: i32,
    pub(super) lang: Lang,
    /// The saved answers this response completes, if any.
    pub(super) partial: Option<i64>,
    /// When the resident began (the form token's issue, or the first save).
    pub(super) started: time::OffsetDateTime,
    pub(super) now: time::OffsetDateTime,
    pub(super) answers: crate::survey::Answers,
    /// The invitation's lookup key, in a wave that takes codes.
    pub(super) lookup: Option<String>,
    /// The form token the submission came with: it marks a double tap.
    pub(super) form_token: &'a str,
}

impl AppState {
    /// Store a checked response (and complete its saved answers) in one
    /// transaction, with its quality flags and how it came in.
    pub(super) async fn store_response(&self, new: Storing<'_>) -> Result<Inserted, WebError> {
        let survey = &new.stored.survey;
        let form_mark = hex::encode(&self.key.mac(Purpose::InvitationUse, &[new.form_token.as_bytes()])[..16]);
        let choice_codes = survey.choice_codes(&new.answers);
        let straightliner = is_straightliner(&straightline_blocks(survey), &choice_codes);
        let db = self.db.clone();
        let (version_id, wave, lang, now, partial) = (new.stored.version_id, new.wave, new.lang, new.now, new.partial);
        let slug = survey.slug.to_string();
        let duration = (now - new.started).whole_seconds().clamp(0, i64::from(u32::MAX)) as u32;
        let (answers, lookup, token) = (new.answers, new.lookup, new.form_token.to_string());
        self.blocking(lang, move || {
            let how = match &lookup {
                Some(lookup) => Submission::Invited(InvitedSubmission {
                    lookup,
                    form_mark: &form_mark,
                }),
                None => Submission::Web { form_token: &token },
            };
            db.submit_partial(
                partial,
                &NewResponse {
                    version_id,
                    slug: &slug,
                    wave,
                    lang,
                    submitted_at: now,
                    duration_seconds: Some(duration),
                    answers: &answers,
                    choice_codes: &choice_codes,
                    straightliner,
                    how,
                },
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{Submitted, HIDDEN_FIELDS};

    #[test]
    fn hidden_fields_are_not_answers_and_every_other_field_is() {
        let mut pairs: Vec<(String, String)> = HIDDEN_FIELDS.iter().map(|f| (f.to_string(), "x".into())).collect();
        pairs.push(("_unknown".into(), "1".into()));
        pairs.push(("district".into(), "2".into()));
        let form = Submitted::from_pairs(&pairs);
        assert_eq!(form.answers().fields().collect::<Vec<_>>(), ["_unknown", "district"]);
        assert!([
            &form.csrf,
            &form.form,
            &form.lang,
            &form.version,
            &form.switch,
            &form.code,
            &form.page,
            &form.go,
            &form.resume,
            &form.ret,
            &form.text
        ]
        .iter()
        .all(|v| v.as_deref() == Some("x")));
    }

    /// Every message the resident handlers and the letters look up by name.
    #[test]
    fn every_message_the_code_asks_for_is_in_the_catalog() {
        let messages = crate::web::i18n::Messages::load().unwrap();
        for key in [
            "err_csrf",
            "err_csrf_start",
            "err_form_expired",
            "err_not_saved",
            "err_form_not_ours",
            "err_too_many_submissions",
            "err_too_many_codes",
            "err_code_missing",
            "err_code_length",
            "err_code_character",
            "err_code_mistyped",
            "err_code_unknown",
            "err_code_used",
            "err_code_other_wave",
            "letter_salutation",
            "letter_body",
            "letter_how",
            "letter_dates",
            "letter_privacy",
            "letter_helpline",
            "letter_closing",
            "letter_code_label",
            "letter_qr_label",
            "page_progress",
            "page_continue",
            "err_choose_answer",
            "err_choose_some",
            "err_choose_number",
            "err_write_answer",
            "err_choose_at_most",
            "err_page_title",
            "err_page_malformed",
            "err_page_unknown",
            "err_saved_gone_title",
            "err_resume_gone",
            "err_resume_unknown",
            "err_resume_completed",
            "err_resume_length",
            "review_title",
            "continue_title",
            "resume_title",
            "clear_title",
            "cleared_notice",
            "staff_dropoff_review_row",
        ] {
            assert!(messages.has(key), "messages.toml has no {key}");
        }
    }
}
