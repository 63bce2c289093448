//! The check-your-answers page, which is also the page that shows what is
//! stored: every question the resident is asked, with the answer saved (or
//! "not answered"), by section, each with a link to change it. Its Submit
//! is the only final submission of the section-by-section flow: the
//! answers are taken from the stored partial response, checked as a whole,
//! and stored as a response with every check of a one-shot form.

use super::pages::{forget_resume, live_partial, see_other, PageRef};
use super::view::{asked, numbers, FormError, SurveyHeader};
use super::Storing;
use super::{invitation_refusal, Answering, Submitted};
use crate::db::{Inserted, Partial};
use crate::fieldwork::{Access, ResumeCode};
use crate::lang::Lang;
use crate::survey::{QuestionKind, Survey};
use crate::web::error::{error_page, WebError, WebErrorKind};
use crate::web::i18n::negotiate;
use crate::web::limits::{retry_after, wait_minutes, Action};
use crate::web::security::{csrf_cookie, csrf_or_new, matching_csrf, verify_form_token, FormTokenProblem};
use crate::web::AppState;
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

#[derive(Serialize)]
struct ReviewView<'a> {
    survey: SurveyHeader<'a>,
    csrf_token: &'a str,
    form_token: &'a str,
    lang: &'static str,
    version: u32,
    resume_code: String,
    sections: Vec<ReviewSection<'a>>,
    errors: Vec<FormError>,
    has_errors: bool,
    clear_href: String,
    /// Whether the resident has been through every page.
    complete: bool,
    continue_href: String,
    languages: Vec<LanguageLink>,
}

#[derive(Serialize)]
struct LanguageLink {
    code: &'static str,
    native_name: &'static str,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct ReviewSection<'a> {
    title: &'a str,
    change_href: String,
    questions: Vec<ReviewItem<'a>>,
}

#[derive(Serialize)]
struct ReviewItem<'a> {
    number: usize,
    text: &'a str,
    answers: Vec<String>,
}

/// The answers to `id` as the resident reads them: option labels, or the text.
fn answer_texts(survey: &Survey, id: &str, partial: &Partial, lang: Lang) -> Vec<String> {
    let Some(q) = survey.question(id) else {
        return Vec::new();
    };
    let values = partial.answers.values(id);
    match &q.kind {
        QuestionKind::Text { .. } => values.iter().filter(|v| !v.trim().is_empty()).cloned().collect(),
        _ => values
            .iter()
            .filter_map(|v| q.option(v))
            .map(|c| c.label.get(lang).to_string())
            .collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn render_review(
    state: &AppState,
    req: &HttpRequest,
    survey: &Survey,
    lang: Lang,
    code: &ResumeCode,
    partial: &Partial,
    errors: Vec<FormError>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let csrf = csrf_or_new(req);
    let form_token = state.issue_form_token(survey, &csrf);
    let asked = asked(survey, &partial.answers);
    let numbers = numbers(&asked);
    let slug = survey.slug.as_str();
    let sections = survey
        .sections
        .iter()
        .enumerate()
        .map(|(si, section)| ReviewSection {
            title: section.title.get(lang),
            change_href: format!("{}&return=review", PageRef::Section(si).href(slug, lang)),
            questions: section
                .questions
                .clone()
                .filter_map(|qi| {
                    let q = &survey.questions[qi];
                    Some(ReviewItem {
                        number: numbers[qi]?,
                        text: q.text.get(lang),
                        answers: answer_texts(survey, q.id.as_str(), partial, lang),
                    })
                })
                .collect(),
        })
        .collect();
    let view = ReviewView {
        survey: SurveyHeader::new(survey, lang),
        csrf_token: &csrf,
        form_token: &form_token,
        lang: lang.code(),
        version: survey.version,
        resume_code: code.to_string(),
        sections,
        has_errors: !errors.is_empty(),
        errors,
        clear_href: format!("/s/{slug}/clear?lang={}", lang.code()),
        complete: partial.last_page >= survey.sections.len(),
        continue_href: PageRef::from_reach(partial.last_page, survey.sections.len()).href(slug, lang),
        languages: Lang::ALL
            .iter()
            .map(|&l| LanguageLink {
                code: l.code(),
                native_name: l.native_name(),
                href: format!("/s/{slug}/review?lang={}", l.code()),
                current: l == lang,
            })
            .collect(),
    };
    let title = state.renderer.messages.text(lang, "review_title", &[]);
    let html = state
        .renderer
        .render(
            "survey_review",
            lang,
            &format!("{title} – {}", survey.title.get(lang)),
            true,
            &view,
        )
        .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    let mut response = HttpResponse::build(status);
    response
        .cookie(csrf_cookie(req, &csrf))
        .cookie(state.resume_cookie(req, slug, code))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.content_type(ContentType::html()).body(html))
}

/// GET /s/{slug}/review
pub async fn review(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let lang = negotiate(&req);
    let answering = state.answering(lang, &path).await?;
    let Some((code, partial)) = live_partial(&state, &req, lang, &path).await? else {
        return Ok(see_other(format!("/s/{}?lang={}", path, lang.code())).finish());
    };
    let stored = state.survey_of(&answering, &path, partial.version);
    let mut response = render_review(
        &state,
        &req,
        &stored.survey,
        lang,
        &code,
        &partial,
        Vec::new(),
        StatusCode::OK,
    )?;
    if let Some(lang) = crate::web::i18n::query_lang(&req) {
        response.add_cookie(&super::lang_cookie(&req, lang)).ok();
    }
    Ok(response)
}

/// POST /s/{slug} from the review page: the final submission.
pub(super) async fn post_review(
    req: &HttpRequest,
    state: &AppState,
    answering: &Answering,
    form: &Submitted,
    hint: Lang,
) -> Result<HttpResponse, WebError> {
    let slug = answering.stored.survey.slug.to_string();
    let lang = form.shown_lang(hint);
    if let Some(to) = form.switch_to() {
        return Ok(see_other(PageRef::Review.href(&slug, to)).finish());
    }
    let typed = form.resume.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let code = match typed {
        Some(text) => ResumeCode::parse(text).ok(),
        None => super::pages::cookie_code(req),
    };
    let found = match &code {
        Some(code) => state.partial(lang, &slug, code).await?,
        None => None,
    };
    let (Some(code), Some(partial)) = (code, found) else {
        let status = StatusCode::GONE;
        let mut response = HttpResponse::build(status);
        response.cookie(forget_resume(req, &slug));
        return Ok(error_page(
            response,
            status,
            &state.renderer,
            lang,
            ("err_saved_gone_title", "err_resume_gone"),
            &format!("/s/{slug}?lang={}", lang.code()),
        ));
    };
    if partial.completed {
        return Ok(see_other(format!("/s/{slug}/thanks?lang={}&again=1", lang.code()))
            .cookie(forget_resume(req, &slug))
            .finish());
    }
    let stored = state.survey_of(answering, &slug, partial.version);
    let survey = &stored.survey;
    if form.go.as_deref() != Some("submit") {
        return Ok(see_other(PageRef::Review.href(&slug, lang)).finish());
    }
    let messages = &state.renderer.messages;
    let refuse = |status: StatusCode, message: String| {
        render_review(
            state,
            req,
            survey,
            lang,
            &code,
            &partial,
            vec![FormError::general(message)],
            status,
        )
    };
    if let Err(wait) = state.limit(req, Action::Submit) {
        let minutes = wait_minutes(wait);
        let response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            messages.text(lang, "err_too_many_submissions", &[("minutes", &minutes)]),
        )?;
        return Ok(retry_after(response, wait));
    }
    let Some(csrf) = matching_csrf(req, form.csrf.as_deref()) else {
        return refuse(StatusCode::FORBIDDEN, messages.text(lang, "err_csrf", &[]));
    };
    let given_token = form.form.clone().unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    if let Err(problem) = verify_form_token(&state.key, &given_token, &state.form_binding(survey, &csrf), now) {
        let key = match problem {
            FormTokenProblem::Expired => "err_form_expired",
            FormTokenProblem::Forged | FormTokenProblem::Malformed => "err_form_not_ours",
        };
        return refuse(StatusCode::FORBIDDEN, messages.text(lang, key, &[]));
    }
    // The whole survey, as stored. What is missing (say, a question that
    // an answer changed from here brought in) is listed here, each with a
    // link to its page that opens at the field and comes back here.
    let answers = match survey.validate(&partial.answers) {
        Ok(answers) => answers,
        Err(errors) => {
            let numbers = numbers(&asked(survey, &partial.answers));
            let linked = errors
                .iter()
                .map(|e| {
                    let error = FormError::from_answer(state, survey, lang, e);
                    match survey.question_index(&e.question) {
                        Some(qi) => {
                            let section = survey.questions[qi].section;
                            let page = format!("{}&return=review", PageRef::Section(section).href(&slug, lang));
                            error.on_page(&page).numbered(numbers[qi])
                        }
                        None => error,
                    }
                })
                .collect();
            return render_review(
                state,
                req,
                survey,
                lang,
                &code,
                &partial,
                linked,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let access = answering.current.access();
    if access == Access::Invitation && partial.invitation_lookup.is_none() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            messages.text(lang, "err_code_missing", &[]),
        );
    }
    let lookup = partial.invitation_lookup.clone().filter(|_| access.takes_codes());
    let inserted = state
        .store_response(Storing {
            stored: &stored,
            wave: answering.current.wave(),
            lang,
            partial: Some(partial.id),
            started: partial.started_at,
            now,
            answers,
            lookup,
            form_token: &given_token,
        })
        .await?;
    let again = match inserted {
        Inserted::New(_) => {
            log::info!("stored a response to {} v{} from its pages", slug, survey.version);
            ""
        }
        Inserted::Duplicate => "&again=1",
        Inserted::Refused(refused) => {
            let (status, error) = invitation_refusal(state, lang, &refused);
            return refuse(status, error);
        }
    };
    Ok(see_other(format!("/s/{slug}/thanks?lang={}{again}", lang.code()))
        .cookie(forget_resume(req, &slug))
        .finish())
}
