//! The section-by-section form: one section per page, each saved as a
//! partial response when the resident leaves it (Continue, Back, or a
//! change of language), and found again by the resume code in a cookie or
//! in the page. Continue checks only the page's own questions; Back and a
//! language switch check nothing. Every page comes from the stored answers
//! after a redirect (Post/Redirect/Get), so a reload or the browser's Back
//! button shows what is saved; only a page with errors is answered
//! directly, with the answers as sent.
//!
//! Skip logic across pages is the server's: a question whose condition is
//! on an earlier page is rendered or not from the stored answers. Within a
//! page, form.js shows and hides.
//!
//! The header's text-size button is a button of the page too (`_text`):
//! like a change of language, it saves the page unchecked and brings the
//! same page back, at the new size.

use super::view::{asked, rendered_on, CodeView, FormError, FormView, Layout, PageInfo};
use super::{render_form, Answering, Submitted};
use crate::db::{NewPartial, Partial};
use crate::fieldwork::{Access, InvitationCode, ResumeCode};
use crate::lang::Lang;
use crate::survey::{RawAnswers, Survey};
use crate::web::error::{error_page, WebError, WebErrorKind};
use crate::web::limits::{retry_after, wait_minutes, Action};
use crate::web::security::{csrf_cookie, csrf_of, csrf_or_new, matching_csrf, verify_form_token};
use crate::web::text_size::{self, TextSize};
use crate::web::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;

/// The cookie that keeps the resume code, scoped to the survey's pages.
pub(super) const RESUME_COOKIE: &str = "cp_resume";

/// A page of the flow as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageRef {
    Section(usize),
    Review,
}

/// Why a page reference cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageProblem {
    Malformed,
    Unknown,
}

impl PageRef {
    /// `1`..`N` (1-based, as in the address) or `review`.
    pub(super) fn parse(text: &str, sections: usize) -> Result<PageRef, PageProblem> {
        let text = text.trim();
        if text == "review" {
            return Ok(PageRef::Review);
        }
        if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PageProblem::Malformed);
        }
        match text.parse::<usize>() {
            Ok(n) if (1..=sections).contains(&n) => Ok(PageRef::Section(n - 1)),
            _ => Err(PageProblem::Unknown),
        }
    }

    /// The page's place in the flow: a section's index, or the number of
    /// sections for the review page (as `Partial::last_page` counts).
    pub(super) fn reach(self, sections: usize) -> usize {
        match self {
            PageRef::Section(i) => i,
            PageRef::Review => sections,
        }
    }

    pub(super) fn from_reach(reach: usize, sections: usize) -> PageRef {
        if reach >= sections {
            PageRef::Review
        } else {
            PageRef::Section(reach)
        }
    }

    pub(super) fn href(self, slug: &str, lang: Lang) -> String {
        match self {
            PageRef::Section(i) => format!("/s/{slug}?page={}&lang={}", i + 1, lang.code()),
            PageRef::Review => format!("/s/{slug}/review?lang={}", lang.code()),
        }
    }
}

pub(super) fn see_other(location: String) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::SeeOther();
    builder.insert_header((header::LOCATION, location));
    builder
}

impl AppState {
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        lang: Lang,
        f: impl FnOnce() -> Result<T, crate::db::DbError> + Send + 'static,
    ) -> Result<T, WebError> {
        web::block(f)
            .await
            .map_err(|e| self.error(WebErrorKind::Internal, lang, e.to_string()))?
            .map_err(|e| self.db_error(lang, &e))
    }

    /// The live partial response stored under `code` (not expired).
    pub(super) async fn partial(&self, lang: Lang, slug: &str, code: &ResumeCode) -> Result<Option<Partial>, WebError> {
        let db = self.db.clone();
        let slug = slug.to_string();
        let key = code.storage_key(&self.key);
        let now = time::OffsetDateTime::now_utc();
        self.blocking(lang, move || {
            db.find_partial(&slug, crate::db::PartialKey::Resume(&key), now)
        })
        .await
    }

    /// The cookie that keeps `code` for as long as its partial lives.
    pub(super) fn resume_cookie(&self, req: &HttpRequest, slug: &str, code: &ResumeCode) -> Cookie<'static> {
        Cookie::build(RESUME_COOKIE, code.canonical())
            .path(format!("/s/{slug}"))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(req.connection_info().scheme() == "https")
            .max_age(actix_web::cookie::time::Duration::seconds(
                self.partial_lifetime.whole_seconds(),
            ))
            .finish()
    }

    /// The version a partial was begun on, while it is published; else
    /// the current one.
    pub(super) fn survey_of(&self, answering: &Answering, slug: &str, version: u32) -> Arc<crate::db::StoredSurvey> {
        self.surveys()
            .version(slug, version)
            .unwrap_or_else(|| answering.stored.clone())
    }
}

/// A cookie that deletes the resume cookie.
pub(super) fn forget_resume(req: &HttpRequest, slug: &str) -> Cookie<'static> {
    let mut cookie = Cookie::build(RESUME_COOKIE, "")
        .path(format!("/s/{slug}"))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(req.connection_info().scheme() == "https")
        .finish();
    cookie.make_removal();
    cookie
}

/// The resume code in the cookie, if it reads as one.
pub(super) fn cookie_code(req: &HttpRequest) -> Option<ResumeCode> {
    req.cookie(RESUME_COOKIE)
        .and_then(|c| ResumeCode::parse(c.value()).ok())
}

/// The resident's live partial response from the cookie: `None` when there
/// is none or it was completed.
pub(super) async fn live_partial(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    slug: &str,
) -> Result<Option<(ResumeCode, Partial)>, WebError> {
    let Some(code) = cookie_code(req) else { return Ok(None) };
    Ok(state
        .partial(lang, slug, &code)
        .await?
        .filter(|p| !p.completed)
        .map(|p| (code, p)))
}

/// An error page about the page asked for, in the resident's language, with
/// a link back to where their answers are.
pub(super) fn page_problem(state: &AppState, lang: Lang, slug: &str, problem: PageProblem) -> HttpResponse {
    let (status, message) = match problem {
        PageProblem::Malformed => (StatusCode::BAD_REQUEST, "err_page_malformed"),
        PageProblem::Unknown => (StatusCode::NOT_FOUND, "err_page_unknown"),
    };
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    error_page(
        response,
        status,
        &state.renderer,
        lang,
        ("err_page_title", message),
        &format!("/s/{slug}?lang={}", lang.code()),
    )
}

/// A section page to send: its answers, errors and tokens.
pub(super) struct PageOut<'a> {
    pub(super) survey: &'a Survey,
    pub(super) lang: Lang,
    pub(super) index: usize,
    pub(super) answers: &'a RawAnswers,
    pub(super) errors: Vec<FormError>,
    pub(super) code: Option<&'a ResumeCode>,
    pub(super) back_to_review: bool,
    pub(super) saved_at: i64,
    pub(super) invitation: Option<CodeView>,
}

impl PageOut<'_> {
    pub(super) fn respond(
        &self,
        state: &AppState,
        req: &HttpRequest,
        status: StatusCode,
        csrf: &str,
        form_token: &str,
    ) -> Result<HttpResponse, WebError> {
        let view = FormView::build(
            state,
            self.survey,
            self.lang,
            self.answers,
            &self.errors,
            csrf,
            form_token,
            Layout::Page(PageInfo {
                index: self.index,
                resume_code: self.code.map(ToString::to_string),
                back_to_review: self.back_to_review,
                saved_at: self.saved_at,
            }),
        )
        .with_code(self.invitation.clone());
        let html = render_form(state, self.survey, self.lang, &view)?;
        let mut response = HttpResponse::build(status);
        response
            .cookie(csrf_cookie(req, csrf))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(code) = self.code {
            response.cookie(state.resume_cookie(req, self.survey.slug.as_str(), code));
        }
        Ok(response.content_type(ContentType::html()).body(html))
    }

    /// With a fresh CSRF pair and form token.
    pub(super) fn fresh(
        &self,
        state: &AppState,
        req: &HttpRequest,
        status: StatusCode,
    ) -> Result<HttpResponse, WebError> {
        let csrf = csrf_or_new(req);
        let token = state.issue_form_token(self.survey, &csrf);
        self.respond(state, req, status, &csrf, &token)
    }
}

/// GET /s/{slug}?page=N: section N from the stored answers.
pub(super) async fn show_page(
    req: &HttpRequest,
    state: &AppState,
    answering: &Answering,
    lang: Lang,
    page: &str,
) -> Result<HttpResponse, WebError> {
    let slug = answering.stored.survey.slug.to_string();
    let sections = answering.stored.survey.sections.len();
    let page = match PageRef::parse(page, sections) {
        Ok(page) => page,
        Err(problem) => return Ok(page_problem(state, lang, &slug, problem)),
    };
    let back_to_review = super::query_param(req.query_string(), "return").as_deref() == Some("review");
    let Some((code, partial)) = live_partial(state, req, lang, &slug).await? else {
        // Nothing saved (or no cookie): the flow starts at its beginning.
        let mut response = see_other(format!("/s/{slug}?lang={}", lang.code()));
        if req.cookie(RESUME_COOKIE).is_some() {
            response.cookie(forget_resume(req, &slug));
        }
        return Ok(response.finish());
    };
    let stored = state.survey_of(answering, &slug, partial.version);
    let survey = &stored.survey;
    let sections = survey.sections.len();
    if page.reach(sections) > partial.last_page {
        // Not reached yet: the furthest page reached instead.
        return Ok(see_other(PageRef::from_reach(partial.last_page, sections).href(&slug, lang)).finish());
    }
    let PageRef::Section(index) = page else {
        return Ok(see_other(PageRef::Review.href(&slug, lang)).finish());
    };
    PageOut {
        survey,
        lang,
        index,
        answers: &partial.answers,
        errors: Vec::new(),
        code: Some(&code),
        back_to_review,
        saved_at: partial.updated_at.unix_timestamp(),
        invitation: None,
    }
    .fresh(state, req, StatusCode::OK)
}

/// What a page's POST does once its answers are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Go {
    Next,
    Back,
    Switch(Lang),
    TextSize(TextSize),
}

/// POST /s/{slug} with `_page`: save the page and move on, back, or to
/// another language; or show the page's own errors.
pub(super) async fn post_page(
    req: &HttpRequest,
    state: &AppState,
    answering: &Answering,
    form: &Submitted,
    hint: Lang,
) -> Result<HttpResponse, WebError> {
    let slug = answering.stored.survey.slug.to_string();
    let form_lang = form.shown_lang(hint);
    let switch_to = form.switch_to();
    let lang = switch_to.unwrap_or(form_lang);
    let page_text = form.page.as_deref().unwrap_or_default();

    // The partial the page belongs to: the page's own code first, else the
    // cookie's. A code in the page that finds nothing was forged or has
    // expired: the page comes back with its answers, to be saved afresh.
    let mut problems = Vec::new();
    let typed = form.resume.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let found = match typed {
        Some(text) => match ResumeCode::parse(text) {
            Ok(code) => state.partial(lang, &slug, &code).await?.map(|p| (code, p)),
            Err(_) => None,
        },
        None => match cookie_code(req) {
            Some(code) => state.partial(lang, &slug, &code).await?.map(|p| (code, p)),
            None => None,
        },
    };
    if typed.is_some() && found.is_none() {
        problems.push(FormError::general(state.renderer.messages.text(
            lang,
            "err_resume_gone",
            &[],
        )));
    }
    if let Some((_, partial)) = &found {
        if partial.completed {
            return Ok(see_other(format!("/s/{slug}/thanks?lang={}&again=1", lang.code()))
                .cookie(forget_resume(req, &slug))
                .finish());
        }
    }
    let stored = match &found {
        Some((_, partial)) => state.survey_of(answering, &slug, partial.version),
        None => form
            .version
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok())
            .and_then(|v| state.survey_version(&slug, v))
            .unwrap_or_else(|| answering.stored.clone()),
    };
    let survey = &stored.survey;
    let sections = survey.sections.len();
    let previous = found.as_ref().map(|(_, p)| p.answers.clone()).unwrap_or_default();

    let page = PageRef::parse(page_text, sections);
    let index = match page {
        Ok(PageRef::Section(index)) => index,
        Ok(PageRef::Review) => return super::review::post_review(req, state, answering, form, hint).await,
        Err(problem) => {
            // Which questions were meant is unknown: keep whatever answers
            // the survey knows, unvalidated, then say what went wrong.
            if let Some((code, partial)) = &found {
                let mut merged = previous.clone();
                for field in form.answers.fields() {
                    if survey.question(field).is_some() {
                        replace(&mut merged, field, form.answers.values(field));
                    }
                }
                save(state, lang, partial, &merged, partial.last_page).await?;
                let mut response = page_problem(state, lang, &slug, problem);
                response.add_cookie(&state.resume_cookie(req, &slug, code)).ok();
                return Ok(response);
            }
            return Ok(page_problem(state, lang, &slug, problem));
        }
    };

    // The page's answers replace what was stored for the questions it showed.
    let shown = rendered_on(survey, index, &asked(survey, &previous));
    let mut merged = previous.clone();
    for &qi in &shown {
        let id = survey.questions[qi].id.as_str();
        replace(&mut merged, id, form.answers.values(id));
    }
    let text_size = form.text.as_deref().and_then(TextSize::parse);
    let go = match (switch_to, text_size, form.go.as_deref()) {
        (Some(to), _, _) => Go::Switch(to),
        (None, Some(size), _) => Go::TextSize(size),
        (None, None, Some("back")) => Go::Back,
        _ => Go::Next,
    };
    let back_to_review = form.ret.as_deref() == Some("review");
    let invitation = form.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let cookie_csrf = csrf_of(req);
    let csrf_ok = matching_csrf(req, form.csrf.as_deref()).is_some();
    let refill = |errors: Vec<FormError>| PageOut {
        survey,
        lang,
        index,
        answers: &merged,
        errors,
        code: found.as_ref().map(|(c, _)| c),
        back_to_review,
        saved_at: 0,
        invitation: invitation.map(|c| CodeView {
            value: c.to_string(),
            accepted: true,
            required: !answering.current.access().admits_open_link(),
            error: None,
        }),
    };
    let messages = &state.renderer.messages;
    // Every save counts against a generous per-client limit.
    if let Err(wait) = state.limit(req, Action::Save) {
        let minutes = wait_minutes(wait);
        let error = FormError::general(messages.text(lang, "err_too_many_submissions", &[("minutes", &minutes)]));
        let response = refill(vec![error]).fresh(state, req, StatusCode::TOO_MANY_REQUESTS)?;
        return Ok(retry_after(response, wait));
    }
    if !csrf_ok {
        let error = FormError::general(messages.text(lang, "err_csrf", &[]));
        return refill(vec![error]).fresh(state, req, StatusCode::FORBIDDEN);
    }
    let csrf = cookie_csrf.unwrap_or_default();
    let given_token = form.form.clone().unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    if let Err(problem) = verify_form_token(&state.key, &given_token, &state.form_binding(survey, &csrf), now) {
        log::info!("page of {slug} refused: {problem}");
        let key = match problem {
            crate::web::security::FormTokenProblem::Expired => "err_form_expired",
            _ => "err_form_not_ours",
        };
        let error = FormError::general(messages.text(lang, key, &[]));
        return refill(vec![error]).fresh(state, req, StatusCode::FORBIDDEN);
    }

    // Continue checks this page's questions only (the whole survey is
    // checked, so that skip logic is the validator's own).
    let errors: Vec<FormError> = match go {
        Go::Next => match survey.validate(&merged) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .iter()
                .filter(|e| survey.question(&e.question).is_some_and(|q| q.section == index))
                .map(|e| FormError::from_answer(state, survey, lang, e))
                .collect(),
        },
        Go::Back | Go::Switch(_) | Go::TextSize(_) => Vec::new(),
    };
    let target = match go {
        Go::Next if !errors.is_empty() => None,
        Go::Next if back_to_review || index + 1 == sections => Some(PageRef::Review),
        Go::Next => Some(PageRef::Section(index + 1)),
        Go::Back => Some(PageRef::Section(index.saturating_sub(1))),
        Go::Switch(_) | Go::TextSize(_) => Some(PageRef::Section(index)),
    };
    let reached = target.map_or(index, |t| t.reach(sections).max(index));

    // Save: into the partial found, or a new one.
    let code = match &found {
        Some((code, partial)) => {
            if !save(state, lang, partial, &merged, reached).await? {
                return Ok(see_other(format!("/s/{slug}/thanks?lang={}&again=1", lang.code()))
                    .cookie(forget_resume(req, &slug))
                    .finish());
            }
            code.clone()
        }
        None => match create(req, state, answering, &stored, lang, &merged, reached, invitation).await? {
            Created::Code(code) => code,
            Created::NeedsInvitation => {
                return Ok(see_other(format!("/s/{slug}?lang={}", lang.code())).finish());
            }
            Created::TooMany(wait) => {
                let minutes = wait_minutes(wait);
                let error =
                    FormError::general(messages.text(lang, "err_too_many_submissions", &[("minutes", &minutes)]));
                let response =
                    refill(vec![error]).respond(state, req, StatusCode::TOO_MANY_REQUESTS, &csrf, &given_token)?;
                return Ok(retry_after(response, wait));
            }
        },
    };
    let mut response = match target {
        Some(target) if problems.is_empty() => {
            let mut location = target.href(&slug, lang);
            if back_to_review && matches!(target, PageRef::Section(_)) {
                location.push_str("&return=review");
            }
            see_other(location)
                .cookie(state.resume_cookie(req, &slug, &code))
                .finish()
        }
        _ => {
            let mut all = problems;
            all.extend(errors);
            let status = if all.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            PageOut {
                code: Some(&code),
                saved_at: now.unix_timestamp(),
                ..refill(all)
            }
            .respond(state, req, status, &csrf, &given_token)?
        }
    };
    if let Go::TextSize(size) = go {
        // Also on a page shown again with a problem: the middleware renders
        // a page that sets the cookie at the size it sets.
        response
            .add_cookie(&text_size::cookie(req, size))
            .map_err(|e| state.error(WebErrorKind::Internal, lang, e.to_string()))?;
    }
    Ok(response)
}

/// Put `values` in the place of what `field` had.
pub(super) fn replace(answers: &mut RawAnswers, field: &str, values: &[String]) {
    let mut fresh = RawAnswers::default();
    for f in answers.fields() {
        if f != field {
            for v in answers.values(f) {
                fresh.push(f, v);
            }
            if answers.values(f).is_empty() {
                fresh.push(f, "");
            }
        }
    }
    fresh.push(field, "");
    for v in values {
        fresh.push(field, v);
    }
    *answers = fresh;
}

/// Save `answers` into `partial`; false when it was completed meanwhile.
async fn save(
    state: &AppState,
    lang: Lang,
    partial: &Partial,
    answers: &RawAnswers,
    reached: usize,
) -> Result<bool, WebError> {
    let db = state.db.clone();
    let id = partial.id;
    let answers = answers.clone();
    let now = time::OffsetDateTime::now_utc();
    let expires = now + state.partial_lifetime;
    state
        .blocking(lang, move || db.save_partial(id, &answers, reached, lang, now, expires))
        .await
}

enum Created {
    Code(ResumeCode),
    /// The wave takes invitation codes only, and the page brought none
    /// that can be used.
    NeedsInvitation,
    TooMany(std::time::Duration),
}

/// A new partial response for these answers; in an invitation wave, the
/// one begun with the same code if there is one.
#[allow(clippy::too_many_arguments)]
async fn create(
    req: &HttpRequest,
    state: &AppState,
    answering: &Answering,
    stored: &crate::db::StoredSurvey,
    lang: Lang,
    answers: &RawAnswers,
    reached: usize,
    invitation: Option<&str>,
) -> Result<Created, WebError> {
    let slug = stored.survey.slug.to_string();
    let access = answering.current.access();
    let lookup = match (access, invitation) {
        (Access::Open, _) | (Access::Both, None) => None,
        (Access::Invitation, None) => return Ok(Created::NeedsInvitation),
        (_, Some(typed)) => match InvitationCode::parse(typed) {
            Ok(code) => {
                let lookup = code.lookup_key(&state.key);
                let db = state.db.clone();
                let (s, l, wave) = (slug.clone(), lookup.clone(), answering.current.wave());
                let usable = state.blocking(lang, move || db.check_invitation(&s, wave, &l)).await?;
                match usable {
                    crate::db::InvitationUse::Usable { .. } => Some(lookup),
                    _ if access == Access::Invitation => return Ok(Created::NeedsInvitation),
                    _ => None,
                }
            }
            Err(_) if access == Access::Invitation => return Ok(Created::NeedsInvitation),
            Err(_) => None,
        },
    };
    // A new partial counts as a submission (the same limit as a whole form).
    if let Err(wait) = state.limit(req, Action::Submit) {
        return Ok(Created::TooMany(wait));
    }
    let code = ResumeCode::generate();
    let key = code.storage_key(&state.key);
    let now = time::OffsetDateTime::now_utc();
    let expires_at = now + state.partial_lifetime;
    let db = state.db.clone();
    let (version_id, version, wave) = (stored.version_id, stored.survey.version, answering.current.wave());
    let answers = answers.clone();
    state
        .blocking(lang, move || {
            if let Some(lookup) = &lookup {
                if let Some(existing) = db.find_partial(&slug, crate::db::PartialKey::Invitation(lookup), now)? {
                    db.rekey_partial(existing.id, &key, now, expires_at)?;
                    db.save_partial(existing.id, &answers, reached, lang, now, expires_at)?;
                    return Ok(());
                }
            }
            db.create_partial(&NewPartial {
                resume_key: &key,
                slug: &slug,
                version_id,
                version,
                wave,
                lang,
                answers: &answers,
                last_page: reached,
                invitation_lookup: lookup.as_deref(),
                now,
                expires_at,
            })
            .map(|_| ())
        })
        .await?;
    Ok(Created::Code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_references_read_strictly() {
        assert_eq!(PageRef::parse("1", 8), Ok(PageRef::Section(0)));
        assert_eq!(PageRef::parse("8", 8), Ok(PageRef::Section(7)));
        assert_eq!(PageRef::parse("review", 8), Ok(PageRef::Review));
        assert_eq!(PageRef::parse("0", 8), Err(PageProblem::Unknown));
        assert_eq!(PageRef::parse("9", 8), Err(PageProblem::Unknown));
        assert_eq!(PageRef::parse("x", 8), Err(PageProblem::Malformed));
        assert_eq!(PageRef::parse("-1", 8), Err(PageProblem::Malformed));
        assert_eq!(PageRef::parse("99999999", 8), Err(PageProblem::Malformed));
        assert_eq!(PageRef::from_reach(8, 8), PageRef::Review);
    }

    #[test]
    fn replacing_a_field_keeps_the_others() {
        let mut raw = RawAnswers::default();
        raw.push("a", "1");
        raw.push("b", "x");
        raw.push("b", "y");
        replace(&mut raw, "b", &["z".to_string()]);
        replace(&mut raw, "c", &[]);
        assert_eq!(raw.values("a"), ["1"]);
        assert_eq!(raw.values("b"), ["z"]);
        assert!(raw.values("c").is_empty());
    }
}
