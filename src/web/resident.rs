//! The resident's pages: the survey form, its submission and the
//! thank-you page. Handlers translate HTTP into calls on the survey model
//! and the database, and back into pages; they make no decisions of their own
//! about what an answer means.

use super::error::{WebError, WebErrorKind};
use super::i18n::{negotiate, query_lang, query_param, LANG_COOKIE};
use super::security::{csrf_cookie, new_token, tokens_match, CSRF_COOKIE};
use super::AppState;
use crate::db::{Availability, Inserted, NewResponse};
use crate::lang::Lang;
use crate::survey::{AnswerError, AnswerProblem, QuestionKind, RawAnswers, Survey};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;

/// Largest form body accepted. The longest possible honest submission
/// (every text at its maximum, percent-encoded) stays far below it.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Hidden fields the form carries besides the answers.
const FIELD_CSRF: &str = "_csrf";
const FIELD_FORM: &str = "_form";
const FIELD_LANG: &str = "_lang";
const FIELD_VERSION: &str = "_v";
const FIELD_SWITCH: &str = "_switch_lang";

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
        surveys: Vec<Item<'a>>,
    }
    let registry = state.surveys();
    let today = time::OffsetDateTime::now_utc().date();
    // Only surveys residents can answer today are offered.
    let surveys = registry
        .current()
        .filter(|s| s.availability(today) == crate::db::Availability::Open)
        .map(|s| Item {
            slug: s.survey.slug.as_str(),
            title: s.survey.title.get(lang),
            href: format!("/s/{}?lang={}", s.survey.slug, lang.code()),
        })
        .collect();
    let title = state.renderer.messages.text(lang, "site_name", &[]);
    let html = state
        .renderer
        .render("home", lang, &title, false, &Home { surveys })
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    Ok(with_lang_cookie(&req, HttpResponse::Ok())
        .content_type(ContentType::html())
        .body(html))
}

/// GET /s/{slug}: a fresh, empty form.
pub async fn show_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let stored = state.answerable(lang, &path)?;
    let csrf = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| is_token(v))
        .unwrap_or_else(new_token);
    let form_token = new_token();
    let html = blank_form(&state, &stored.survey, lang)?
        .replace(CSRF_SENTINEL, &csrf)
        .replace(FORM_SENTINEL, &form_token);
    let mut response = with_lang_cookie(&req, HttpResponse::Ok());
    response
        .cookie(csrf_cookie(&req, &csrf))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.content_type(ContentType::html()).body(html))
}

/// Stand-ins for the tokens in a cached blank form: the same shape as a
/// token, so the page is exactly what a direct rendering gives, and never
/// produced by `new_token` in practice (2⁻¹²⁸).
const CSRF_SENTINEL: &str = "c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5";
const FORM_SENTINEL: &str = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";

/// A blank form with sentinel tokens, rendered on first use and then
/// reused: the page is the same for everyone but for its two tokens, and
/// rendering its 36 questions is most of the cost of a page view.
fn blank_form(state: &AppState, survey: &Survey, lang: Lang) -> Result<std::sync::Arc<String>, WebError> {
    let key = (survey.slug.to_string(), survey.version, lang);
    if let Some(html) = state.blank_forms.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(html.clone());
    }
    let view = FormView::new(
        state,
        survey,
        lang,
        &RawAnswers::default(),
        &[],
        CSRF_SENTINEL,
        FORM_SENTINEL,
    );
    let html = std::sync::Arc::new(render_form(state, survey, lang, &view)?);
    state
        .blank_forms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, html.clone());
    Ok(html)
}

/// GET /s/{slug}/thanks
pub async fn thanks(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let stored = state.published(lang, &path)?;
    let survey = &stored.survey;
    #[derive(Serialize)]
    struct Thanks<'a> {
        survey: SurveyHeader<'a>,
        message: &'a str,
        already_received: bool,
    }
    let page = Thanks {
        survey: SurveyHeader::new(survey, lang),
        message: survey.thanks.get(lang),
        already_received: query_param(req.query_string(), "again").as_deref() == Some("1"),
    };
    let title = state.renderer.messages.text(lang, "thanks_title", &[]);
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

/// POST /s/{slug}: store the answers, or show the form again with what is
/// wrong, or switch its language. Whatever happens, the answers given so far
/// are either stored or sent back filled in.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, WebError> {
    let hint = negotiate(&req);
    // Outside the survey's dates nothing is read or stored.
    let latest = state.answerable(hint, &path)?;
    let body = read_body(&req, payload, MAX_FORM_BYTES)
        .await
        .map_err(|kind| state.error(kind, hint, "form body"))?;
    let pairs = state.form_pairs(&req, &body, hint)?;

    let mut hidden = Hidden::default();
    let mut raw = RawAnswers::default();
    for (key, value) in &pairs {
        match key.as_str() {
            FIELD_CSRF => hidden.csrf = Some(value.clone()),
            FIELD_FORM => hidden.form = Some(value.clone()),
            FIELD_LANG => hidden.lang = Some(value.clone()),
            FIELD_VERSION => hidden.version = Some(value.clone()),
            FIELD_SWITCH => hidden.switch = Some(value.clone()),
            _ => raw.push(key, value),
        }
    }
    let parse_lang = |v: &Option<String>| -> Result<Option<Lang>, WebError> {
        v.as_deref()
            .map(|s| {
                s.parse::<Lang>()
                    .map_err(|e| state.error(WebErrorKind::BadRequest, hint, e.to_string()))
            })
            .transpose()
    };
    let form_lang = parse_lang(&hidden.lang)?.unwrap_or(hint);
    let switch_to = parse_lang(&hidden.switch)?;
    let lang = switch_to.unwrap_or(form_lang);

    let form_token = hidden
        .form
        .filter(|t| is_token(t))
        .ok_or_else(|| state.error(WebErrorKind::BadRequest, lang, "missing or malformed _form token"))?;
    // The form is checked against the version it was rendered from, as long
    // as that version exists; otherwise against the latest one.
    let stored = hidden
        .version
        .as_deref()
        .and_then(|v| v.parse::<u32>().ok())
        .and_then(|v| state.surveys().version(&path, v))
        .unwrap_or(latest);
    let survey = &stored.survey;

    let cookie_csrf = req.cookie(CSRF_COOKIE).map(|c| c.value().to_string());
    let csrf_ok = match (&cookie_csrf, &hidden.csrf) {
        (Some(cookie), Some(field)) => is_token(cookie) && tokens_match(cookie, field),
        _ => false,
    };

    if let Some(new_lang) = switch_to {
        // Switching language validates nothing and stores nothing.
        let csrf = cookie_csrf.filter(|c| is_token(c)).unwrap_or_else(new_token);
        let view = FormView::new(&state, survey, new_lang, &raw, &[], &csrf, &form_token);
        let html = render_form(&state, survey, new_lang, &view)?;
        let mut response = HttpResponse::Ok();
        response
            .cookie(lang_cookie(&req, new_lang))
            .cookie(csrf_cookie(&req, &csrf));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        return Ok(response.content_type(ContentType::html()).body(html));
    }

    if !csrf_ok {
        // Expired or forged: store nothing, but give the resident their
        // answers back with a fresh token so one more tap sends them.
        let csrf = new_token();
        let message = state.renderer.messages.text(lang, "err_csrf", &[]);
        let view = FormView::new(
            &state,
            survey,
            lang,
            &raw,
            &[FormError::general(message)],
            &csrf,
            &form_token,
        );
        let html = render_form(&state, survey, lang, &view)?;
        let mut response = HttpResponse::Forbidden();
        response
            .cookie(csrf_cookie(&req, &csrf))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        return Ok(response.content_type(ContentType::html()).body(html));
    }

    let answers = match survey.validate(&raw) {
        Ok(answers) => answers,
        Err(errors) => {
            let errors: Vec<FormError> = errors
                .iter()
                .map(|e| FormError::from_answer(&state, survey, lang, e))
                .collect();
            let csrf = cookie_csrf.unwrap_or_default();
            let view = FormView::new(&state, survey, lang, &raw, &errors, &csrf, &form_token);
            let html = render_form(&state, survey, lang, &view)?;
            return Ok(HttpResponse::UnprocessableEntity()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .content_type(ContentType::html())
                .body(html));
        }
    };

    let db = state.db.clone();
    let version_id = stored.version_id;
    let slug = survey.slug.to_string();
    let choice_codes = survey.choice_codes(&answers);
    let inserted = web::block(move || {
        db.insert_response(&NewResponse {
            version_id,
            slug: &slug,
            lang,
            submitted_at: time::OffsetDateTime::now_utc(),
            form_token: Some(&form_token),
            answers: &answers,
            choice_codes: &choice_codes,
        })
    })
    .await
    .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?
    .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let again = match inserted {
        Inserted::New(id) => {
            log::info!("stored response {id} to {} v{}", survey.slug, survey.version);
            ""
        }
        Inserted::Duplicate(id) => {
            log::info!("form submitted again; response {id} already stored");
            "&again=1"
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

#[derive(Default)]
struct Hidden {
    csrf: Option<String>,
    form: Option<String>,
    lang: Option<String>,
    version: Option<String>,
    switch: Option<String>,
}

/// Tokens are 32 lowercase hex digits (128 random bits).
fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

pub(crate) fn render_form(
    state: &AppState,
    survey: &Survey,
    lang: Lang,
    view: &FormView<'_>,
) -> Result<String, WebError> {
    state
        .renderer
        .render("survey_form", lang, survey.title.get(lang), true, view)
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))
}

#[derive(Serialize)]
struct SurveyHeader<'a> {
    slug: &'a str,
    version: u32,
    title: &'a str,
    intro: &'a str,
}

impl<'a> SurveyHeader<'a> {
    fn new(survey: &'a Survey, lang: Lang) -> Self {
        SurveyHeader {
            slug: survey.slug.as_str(),
            version: survey.version,
            title: survey.title.get(lang),
            intro: survey.intro.get(lang),
        }
    }
}

/// One entry of the error summary.
#[derive(Serialize, Clone)]
pub(crate) struct FormError {
    anchor: Option<String>,
    number: Option<usize>,
    question_text: Option<String>,
    message: String,
    #[serde(skip)]
    question: Option<String>,
}

impl FormError {
    fn general(message: String) -> FormError {
        FormError {
            anchor: None,
            number: None,
            question_text: None,
            message,
            question: None,
        }
    }

    fn from_answer(state: &AppState, survey: &Survey, lang: Lang, e: &AnswerError) -> FormError {
        let m = &state.renderer.messages;
        let message = match &e.problem {
            AnswerProblem::Required => m.text(lang, "err_required", &[]),
            AnswerProblem::NotAnOption { .. } => m.text(lang, "err_not_an_option", &[]),
            AnswerProblem::SingleValue => m.text(lang, "err_single_value", &[]),
            AnswerProblem::TooLong { max } => m.text(lang, "err_too_long", &[("max", &max.to_string())]),
            AnswerProblem::TooManyChoices { max } => m.text(lang, "err_too_many_choices", &[("max", &max.to_string())]),
            AnswerProblem::UnknownQuestion => m.text(lang, "err_unknown_question", &[("id", &e.question)]),
        };
        match survey.question_index(&e.question) {
            Some(i) => FormError {
                anchor: Some(dom_id(&e.question)),
                number: Some(i + 1),
                question_text: Some(survey.questions[i].text.get(lang).to_string()),
                message,
                question: Some(e.question.clone()),
            },
            None => FormError::general(message),
        }
    }
}

fn dom_id(question: &str) -> String {
    format!("q-{question}")
}

#[derive(Serialize)]
struct FormMeta<'a> {
    action: String,
    csrf_token: &'a str,
    form_token: &'a str,
    lang: &'static str,
    version: u32,
}

/// What a staff preview adds to the form: a banner, the form sent back to
/// the preview with GET (so switching language works and nothing can be
/// stored), the submit button disabled, and optionally phone width.
#[derive(Serialize)]
pub(crate) struct Preview {
    /// The banner's text, in the staff member's language (`banner_lang`).
    pub banner: String,
    pub banner_lang: &'static str,
    pub phone: bool,
    pub links: Vec<PreviewLink>,
    /// Query fields the GET form must repeat (`draft`, `width`).
    pub hidden: Vec<HiddenField>,
}

/// A hidden input of the preview's GET form.
#[derive(Serialize)]
pub(crate) struct HiddenField {
    pub name: &'static str,
    pub value: String,
}

/// A link of the preview banner.
#[derive(Serialize)]
pub(crate) struct PreviewLink {
    pub label: String,
    pub href: String,
}

#[derive(Serialize)]
pub(crate) struct FormView<'a> {
    survey: SurveyHeader<'a>,
    form: FormMeta<'a>,
    preview: Option<Preview>,
    errors: Vec<FormError>,
    has_errors: bool,
    section_count: usize,
    question_count: usize,
    sections: Vec<SectionView<'a>>,
}

#[derive(Serialize)]
struct SectionView<'a> {
    id: &'a str,
    number: usize,
    progress_label: String,
    title: &'a str,
    description: Option<&'a str>,
    questions: Vec<QuestionView<'a>>,
}

#[derive(Serialize)]
struct OptionView<'a> {
    value: &'a str,
    label: &'a str,
    input_id: String,
    checked: bool,
    is_dont_know: bool,
}

#[derive(Serialize)]
struct ShowIfView<'a> {
    question_id: &'a str,
    values_joined: String,
    hint: String,
}

#[derive(Serialize)]
struct QuestionView<'a> {
    id: &'a str,
    number: usize,
    dom_id: String,
    text: &'a str,
    help: Option<&'a str>,
    required: bool,
    required_attr: bool,
    kind: &'static str,
    is_likert: bool,
    is_single: bool,
    is_multi: bool,
    is_rating: bool,
    is_text: bool,
    options: Vec<OptionView<'a>>,
    text_value: String,
    max_length: u32,
    max_choices_hint: Option<String>,
    low_label: Option<String>,
    high_label: Option<String>,
    error: Option<String>,
    show_if: Option<ShowIfView<'a>>,
}

impl<'a> FormView<'a> {
    /// The same form as residents get, turned into a staff preview whose
    /// form goes to `action` (the preview itself) instead of `/s/{slug}`.
    pub(crate) fn into_preview(mut self, action: String, preview: Preview) -> FormView<'a> {
        self.form.action = action;
        self.preview = Some(preview);
        self
    }

    pub(crate) fn new(
        state: &AppState,
        survey: &'a Survey,
        lang: Lang,
        raw: &RawAnswers,
        errors: &[FormError],
        csrf_token: &'a str,
        form_token: &'a str,
    ) -> FormView<'a> {
        let m = &state.renderer.messages;
        let total = survey.sections.len().to_string();
        let sections = survey
            .sections
            .iter()
            .enumerate()
            .map(|(si, section)| SectionView {
                id: section.id.as_str(),
                number: si + 1,
                progress_label: m.text(
                    lang,
                    "section_progress",
                    &[("number", &(si + 1).to_string()), ("total", &total)],
                ),
                title: section.title.get(lang),
                description: section.description.as_ref().map(|d| d.get(lang)),
                questions: section
                    .questions
                    .clone()
                    .map(|qi| question_view(state, survey, qi, lang, raw, errors))
                    .collect(),
            })
            .collect();
        FormView {
            survey: SurveyHeader::new(survey, lang),
            form: FormMeta {
                action: format!("/s/{}", survey.slug),
                csrf_token,
                form_token,
                lang: lang.code(),
                version: survey.version,
            },
            preview: None,
            has_errors: !errors.is_empty(),
            errors: errors.to_vec(),
            section_count: survey.sections.len(),
            question_count: survey.questions.len(),
            sections,
        }
    }
}

fn question_view<'a>(
    state: &AppState,
    survey: &'a Survey,
    index: usize,
    lang: Lang,
    raw: &RawAnswers,
    errors: &[FormError],
) -> QuestionView<'a> {
    let m = &state.renderer.messages;
    let q = &survey.questions[index];
    let id = q.id.as_str();
    let given = raw.values(id);
    let options = q
        .kind
        .options()
        .iter()
        .map(|o| OptionView {
            value: o.value.as_str(),
            label: o.label.get(lang),
            input_id: format!("q-{id}-{}", o.value),
            checked: given.iter().any(|g| g == o.value.as_str()),
            is_dont_know: o.score.is_none() && matches!(q.kind, QuestionKind::Likert { .. }),
        })
        .collect();
    let (low_label, high_label) = match &q.kind {
        QuestionKind::Rating {
            low_label, high_label, ..
        } => (
            Some(
                low_label
                    .as_ref()
                    .map_or_else(|| m.text(lang, "rating_low_default", &[]), |l| l.get(lang).to_string()),
            ),
            Some(
                high_label
                    .as_ref()
                    .map_or_else(|| m.text(lang, "rating_high_default", &[]), |l| l.get(lang).to_string()),
            ),
        ),
        _ => (None, None),
    };
    let show_if = q.show_if.as_ref().map(|rule| {
        let controlling = &survey.questions[rule.question];
        let labels: Vec<String> = rule
            .values
            .iter()
            .filter_map(|v| controlling.option(v.as_str()))
            .map(|c| format!("“{}”", c.label.get(lang)))
            .collect();
        ShowIfView {
            question_id: controlling.id.as_str(),
            values_joined: rule.values.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" "),
            hint: m.text(
                lang,
                "show_if_hint",
                &[
                    ("answers", &labels.join(" / ")),
                    ("number", &(rule.question + 1).to_string()),
                ],
            ),
        }
    });
    QuestionView {
        id,
        number: index + 1,
        dom_id: dom_id(id),
        text: q.text.get(lang),
        help: q.help.as_ref().map(|h| h.get(lang)),
        required: q.required,
        // A question that may be hidden cannot carry `required`, or a browser
        // without our script could not send the form.
        required_attr: q.required && q.show_if.is_none(),
        kind: q.kind.type_name(),
        is_likert: matches!(q.kind, QuestionKind::Likert { .. }),
        is_single: matches!(q.kind, QuestionKind::SingleChoice { .. }),
        is_multi: matches!(q.kind, QuestionKind::MultiChoice { .. }),
        is_rating: matches!(q.kind, QuestionKind::Rating { .. }),
        is_text: matches!(q.kind, QuestionKind::Text { .. }),
        options,
        text_value: if matches!(q.kind, QuestionKind::Text { .. }) {
            given.first().cloned().unwrap_or_default()
        } else {
            String::new()
        },
        max_length: match q.kind {
            QuestionKind::Text { max_length } => max_length,
            _ => 0,
        },
        max_choices_hint: match q.kind {
            QuestionKind::MultiChoice {
                max_choices: Some(max), ..
            } => Some(m.text(lang, "choose_up_to", &[("max", &max.to_string())])),
            _ => None,
        },
        low_label,
        high_label,
        error: errors
            .iter()
            .find(|e| e.question.as_deref() == Some(id))
            .map(|e| e.message.clone()),
        show_if,
    }
}

impl AppState {
    pub(crate) fn error(&self, kind: WebErrorKind, lang: Lang, detail: impl Into<String>) -> WebError {
        WebError::new(kind, lang, &self.renderer, detail)
    }

    /// The version of `slug` residents answer now, or a 404 page.
    fn published(&self, lang: Lang, slug: &str) -> Result<std::sync::Arc<crate::db::StoredSurvey>, WebError> {
        self.surveys().latest(slug).ok_or_else(|| self.not_found(lang, slug))
    }

    /// The version of `slug` residents answer now, if today (UTC) is within
    /// its dates; otherwise a "not open yet" or "closed" page.
    fn answerable(&self, lang: Lang, slug: &str) -> Result<std::sync::Arc<crate::db::StoredSurvey>, WebError> {
        let stored = self.published(lang, slug)?;
        match stored.availability(time::OffsetDateTime::now_utc().date()) {
            Availability::Open => Ok(stored),
            Availability::NotYetOpen(opens) => {
                Err(self.error(WebErrorKind::NotYetOpen, lang, format!("{slug} opens on {opens}")))
            }
            Availability::Closed(closes) => {
                Err(self.error(WebErrorKind::Closed, lang, format!("{slug} closed after {closes}")))
            }
        }
    }

    fn not_found(&self, lang: Lang, slug: &str) -> WebError {
        self.error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}"))
    }
}
