//! What the resident's form page shows, as the template wants it: the
//! survey's sections and questions in one language, the answers given so
//! far, the errors, the invitation code, and a staff preview's extras.

use super::super::error::{WebError, WebErrorKind};
use super::super::AppState;
use crate::lang::Lang;
use crate::survey::{AnswerError, AnswerProblem, Question, QuestionKind, RawAnswers, Survey};
use serde::Serialize;

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
pub(super) struct SurveyHeader<'a> {
    slug: &'a str,
    version: u32,
    title: &'a str,
    intro: &'a str,
}

impl<'a> SurveyHeader<'a> {
    pub(super) fn new(survey: &'a Survey, lang: Lang) -> Self {
        SurveyHeader {
            slug: survey.slug.as_str(),
            version: survey.version,
            title: survey.title.get(lang),
            intro: survey.intro.get(lang),
        }
    }
}

/// One entry of the error summary: the message (the link's first line)
/// and the question it is about (a second, smaller line), as separate
/// elements so that each language reads naturally without a joining dash.
#[derive(Serialize, Clone)]
pub(crate) struct FormError {
    anchor: Option<String>,
    /// Where the link goes when the field is on another page (the review
    /// page's errors): that section page, at the field.
    href: Option<String>,
    number: Option<usize>,
    question_text: Option<String>,
    message: String,
    #[serde(skip)]
    question: Option<String>,
}

impl FormError {
    pub(super) fn general(message: String) -> FormError {
        FormError {
            anchor: None,
            href: None,
            number: None,
            question_text: None,
            message,
            question: None,
        }
    }

    /// A message that links to an element of the page.
    pub(super) fn anchored(anchor: &str, message: String) -> FormError {
        FormError {
            anchor: Some(anchor.to_string()),
            href: None,
            number: None,
            question_text: None,
            message,
            question: None,
        }
    }

    /// This error, linking to its field on the section page `page_href`
    /// (which has a query): the page's address with the field's anchor.
    pub(super) fn on_page(mut self, page_href: &str) -> FormError {
        if let Some(anchor) = &self.anchor {
            self.href = Some(format!("{page_href}#{anchor}"));
        }
        self
    }

    /// The number the resident sees for the question, once known.
    pub(super) fn numbered(mut self, number: Option<usize>) -> FormError {
        if self.question.is_some() {
            self.number = number;
        }
        self
    }

    /// The question id this error is about, if any.
    pub(super) fn question(&self) -> Option<&str> {
        self.question.as_deref()
    }

    pub(super) fn from_answer(state: &AppState, survey: &Survey, lang: Lang, e: &AnswerError) -> FormError {
        let m = &state.renderer.messages;
        let question = survey.question(&e.question);
        let message = match (&e.problem, question) {
            (AnswerProblem::Required, Some(q)) => required_message(state, q, lang),
            (AnswerProblem::Required, None) => m.text(lang, "err_required", &[]),
            (AnswerProblem::NotAnOption { .. }, _) => m.text(lang, "err_not_an_option", &[]),
            (AnswerProblem::SingleValue, _) => m.text(lang, "err_single_value", &[]),
            (AnswerProblem::TooLong { max }, _) => m.text(lang, "err_too_long", &[("max", &max.to_string())]),
            (AnswerProblem::TooManyChoices { max }, _) => {
                m.text(lang, "err_choose_at_most", &[("max", &max.to_string())])
            }
            (AnswerProblem::UnknownQuestion, _) => m.text(lang, "err_unknown_question", &[("id", &e.question)]),
        };
        match survey.question_index(&e.question) {
            Some(i) => FormError {
                anchor: Some(dom_id(&e.question)),
                href: None,
                // Replaced by the number the resident sees (see `FormView`).
                number: Some(i + 1),
                question_text: Some(survey.questions[i].text.get(lang).to_string()),
                message,
                question: Some(e.question.clone()),
            },
            None => FormError::general(message),
        }
    }
}

/// What a resident reads when a required question has no answer: what to
/// do: the question's own words when the definition gives them
/// (`required_error`, e.g. "Choose your age group"), otherwise the words
/// of the question's kind.
fn required_message(state: &AppState, q: &Question, lang: Lang) -> String {
    if let Some(own) = q.required_message(lang) {
        return own.to_string();
    }
    let m = &state.renderer.messages;
    match &q.kind {
        QuestionKind::Text { .. } => m.text(lang, "err_write_answer", &[]),
        QuestionKind::MultiChoice { .. } => m.text(lang, "err_choose_some", &[]),
        QuestionKind::Rating { .. } => {
            let options = q.kind.options();
            let low = options.first().map(|o| o.value.as_str()).unwrap_or("0");
            let high = options.last().map(|o| o.value.as_str()).unwrap_or("10");
            m.text(lang, "err_choose_number", &[("low", low), ("high", high)])
        }
        QuestionKind::Likert { .. } | QuestionKind::SingleChoice { .. } => m.text(lang, "err_choose_answer", &[]),
    }
}

/// `labels` as a list to choose from, in the language's own words:
/// “A”, “B” or “C” (zh “A”、“B”或“C”; ko ‘A’, ‘B’ 또는 ‘C’).
fn either_of(m: &crate::web::i18n::Messages, lang: Lang, labels: &[String]) -> String {
    match labels {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => {
            let first = init[1..].iter().fold(init[0].clone(), |acc, next| {
                m.text(lang, "show_if_list", &[("first", &acc), ("next", next)])
            });
            m.text(lang, "show_if_or", &[("first", &first), ("last", last)])
        }
    }
}

pub(super) fn dom_id(question: &str) -> String {
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

/// The invitation code on the form: shown as accepted (and sent back in a
/// hidden field), or as a field to fill in with its error.
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct CodeView {
    pub(crate) value: String,
    pub(crate) accepted: bool,
    pub(crate) required: bool,
    pub(crate) error: Option<String>,
}

/// The anchor the error summary links to for the code field.
pub(super) const CODE_ANCHOR: &str = "invitation-code";

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
    code: Option<CodeView>,
    errors: Vec<FormError>,
    has_errors: bool,
    section_count: usize,
    question_count: usize,
    sections: Vec<SectionView<'a>>,
    /// The survey's introduction and the required-legend: on the first
    /// page only.
    show_intro: bool,
    /// A section page of the section-by-section flow; `None` when every
    /// section is on one page.
    step: Option<PageView>,
    /// What Enter in a field does: the layout's off-screen first button.
    default_submit: DefaultSubmit,
    /// For form.js's numbering and counter: asked questions before this
    /// page, and the asked (and answered) questions on other pages that
    /// do not depend on this page's answers.
    number_start: usize,
    other_total: usize,
    other_done: usize,
    /// Questions on later pages shown or not by an answer on this page.
    later: Vec<LaterView<'a>>,
    /// A note at the top (e.g. that saved answers were cleared).
    notice: Option<String>,
    /// The header's text-size buttons submit this form (a section page:
    /// the answers are saved first); otherwise they reload with `?text=`.
    text_in_form: bool,
}

/// The first submit button of the page (see layout.hbs).
#[derive(Serialize)]
struct DefaultSubmit {
    name: Option<&'static str>,
    value: Option<&'static str>,
    label: String,
}

#[derive(Serialize)]
struct LaterView<'a> {
    question_id: &'a str,
    values_joined: String,
    answered: bool,
}

/// Which part of the survey a form page shows.
pub(crate) enum Layout {
    /// Every section on one page: a one-shot form, the staff preview.
    All,
    /// One section page of the section-by-section flow.
    Page(PageInfo),
}

/// A section page: which one, and what the resident needs around it.
pub(crate) struct PageInfo {
    /// The section's index.
    pub(crate) index: usize,
    /// The resume code, written out, once the answers are saved.
    pub(crate) resume_code: Option<String>,
    /// The page was opened from the review page, and Continue goes back there.
    pub(crate) back_to_review: bool,
    /// When the answers were last saved (Unix seconds), for form.js to
    /// tell its own unsaved copy from an older one.
    pub(crate) saved_at: i64,
}

#[derive(Serialize)]
struct PageView {
    /// 1-based.
    number: usize,
    total: usize,
    progress_label: String,
    has_back: bool,
    is_last: bool,
    resume_code: Option<String>,
    back_to_review: bool,
    saved_at: i64,
    review_href: String,
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
    /// The number the resident sees: only asked questions are numbered.
    number: Option<usize>,
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

/// Which questions the resident is asked, given the answers so far: those
/// without a condition, and those whose condition the (unvalidated)
/// answers meet, a condition on a question not asked counting as unmet.
pub(crate) fn asked(survey: &Survey, raw: &RawAnswers) -> Vec<bool> {
    let mut asked: Vec<bool> = Vec::with_capacity(survey.questions.len());
    for q in &survey.questions {
        let shown = match &q.show_if {
            None => true,
            Some(rule) => asked[rule.question] && survey.is_shown_raw(q, raw),
        };
        asked.push(shown);
    }
    asked
}

/// The number each asked question is shown with, in survey order.
pub(crate) fn numbers(asked: &[bool]) -> Vec<Option<usize>> {
    let mut n = 0;
    asked
        .iter()
        .map(|&a| {
            a.then(|| {
                n += 1;
                n
            })
        })
        .collect()
}

/// Which questions a page renders: its section's questions that are asked,
/// and those whose condition is on the same page (form.js shows or hides
/// them; without it they show with their condition written out).
pub(crate) fn rendered_on(survey: &Survey, section: usize, asked: &[bool]) -> Vec<usize> {
    let mut rendered = vec![false; survey.questions.len()];
    for qi in survey.sections[section].questions.clone() {
        let q = &survey.questions[qi];
        rendered[qi] = match &q.show_if {
            None => true,
            Some(rule) if survey.questions[rule.question].section == section => rendered[rule.question],
            Some(_) => asked[qi],
        };
    }
    survey.sections[section]
        .questions
        .clone()
        .filter(|&qi| rendered[qi])
        .collect()
}

pub(crate) fn is_answered(raw: &RawAnswers, id: &str) -> bool {
    raw.values(id).iter().any(|v| !v.trim().is_empty())
}

impl<'a> FormView<'a> {
    /// The form with an invitation code field.
    pub(crate) fn with_code(mut self, code: Option<CodeView>) -> FormView<'a> {
        self.code = code;
        self
    }

    /// The same form as residents get, turned into a staff preview whose
    /// form goes to `action` (the preview itself) instead of `/s/{slug}`.
    pub(crate) fn into_preview(mut self, action: String, preview: Preview) -> FormView<'a> {
        self.form.action = action;
        self.preview = Some(preview);
        self.text_in_form = false;
        self
    }

    /// Every section on one page.
    pub(crate) fn new(
        state: &AppState,
        survey: &'a Survey,
        lang: Lang,
        raw: &RawAnswers,
        errors: &[FormError],
        csrf_token: &'a str,
        form_token: &'a str,
    ) -> FormView<'a> {
        FormView::build(state, survey, lang, raw, errors, csrf_token, form_token, Layout::All)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        state: &AppState,
        survey: &'a Survey,
        lang: Lang,
        raw: &RawAnswers,
        errors: &[FormError],
        csrf_token: &'a str,
        form_token: &'a str,
        layout: Layout,
    ) -> FormView<'a> {
        let m = &state.renderer.messages;
        let total = survey.sections.len().to_string();
        let asked = asked(survey, raw);
        let numbers = numbers(&asked);
        let (on_page, page_section): (Vec<usize>, Option<usize>) = match &layout {
            Layout::All => ((0..survey.questions.len()).collect(), None),
            Layout::Page(info) => (rendered_on(survey, info.index, &asked), Some(info.index)),
        };
        let in_page = |qi: usize| page_section.is_none_or(|s| survey.questions[qi].section == s);
        let section_range: Vec<usize> = match page_section {
            Some(s) => vec![s],
            None => (0..survey.sections.len()).collect(),
        };
        let sections = section_range
            .into_iter()
            .map(|si| {
                let section = &survey.sections[si];
                SectionView {
                    id: section.id.as_str(),
                    number: si + 1,
                    progress_label: m.text(
                        lang,
                        "page_progress",
                        &[("number", &(si + 1).to_string()), ("total", &total)],
                    ),
                    title: section.title.get(lang),
                    description: section.description.as_ref().map(|d| d.get(lang)),
                    questions: section
                        .questions
                        .clone()
                        .filter(|qi| on_page.contains(qi))
                        .map(|qi| question_view(state, survey, qi, lang, raw, errors, numbers[qi], &numbers))
                        .collect(),
                }
            })
            .collect();
        // The counter: questions elsewhere that this page's answers cannot
        // show or hide are fixed; the others form.js works out.
        let depends_on_page = |qi: usize| {
            survey.questions[qi]
                .show_if
                .as_ref()
                .is_some_and(|rule| in_page(rule.question))
        };
        let mut other_total = 0;
        let mut other_done = 0;
        let mut later = Vec::new();
        for (qi, q) in survey.questions.iter().enumerate() {
            if in_page(qi) {
                continue;
            }
            if depends_on_page(qi) {
                let rule = q.show_if.as_ref().expect("a condition");
                later.push(LaterView {
                    question_id: survey.questions[rule.question].id.as_str(),
                    values_joined: rule.values.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" "),
                    answered: is_answered(raw, q.id.as_str()),
                });
            } else if asked[qi] {
                other_total += 1;
                if is_answered(raw, q.id.as_str()) {
                    other_done += 1;
                }
            }
        }
        let number_start = match page_section {
            Some(s) => (0..survey.sections[s].questions.start).filter(|&qi| asked[qi]).count(),
            None => 0,
        };
        let errors: Vec<FormError> = errors
            .iter()
            .cloned()
            .map(|mut e| {
                if let Some(qi) = e.question().and_then(|id| survey.question_index(id)) {
                    e.number = numbers[qi];
                }
                e
            })
            .collect();
        let step = match &layout {
            Layout::All => None,
            Layout::Page(info) => Some(PageView {
                number: info.index + 1,
                total: survey.sections.len(),
                progress_label: m.text(
                    lang,
                    "page_progress",
                    &[("number", &(info.index + 1).to_string()), ("total", &total)],
                ),
                has_back: info.index > 0,
                is_last: info.index + 1 == survey.sections.len(),
                resume_code: info.resume_code.clone(),
                back_to_review: info.back_to_review,
                saved_at: info.saved_at,
                review_href: format!("/s/{}/review?lang={}", survey.slug, lang.code()),
            }),
        };
        let default_submit = match &layout {
            Layout::All => DefaultSubmit {
                name: None,
                value: None,
                label: m.text(lang, "submit", &[]),
            },
            Layout::Page(_) => DefaultSubmit {
                name: Some("_go"),
                value: Some("next"),
                label: m.text(lang, "page_continue", &[]),
            },
        };
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
            code: None,
            has_errors: !errors.is_empty(),
            errors,
            section_count: survey.sections.len(),
            question_count: survey.questions.len(),
            sections,
            show_intro: page_section.is_none_or(|s| s == 0),
            step,
            default_submit,
            number_start,
            other_total,
            other_done,
            later,
            notice: None,
            text_in_form: matches!(layout, Layout::Page(_)),
        }
    }

    pub(crate) fn with_notice(mut self, notice: String) -> FormView<'a> {
        self.notice = Some(notice);
        self
    }
}

#[allow(clippy::too_many_arguments)]
fn question_view<'a>(
    state: &AppState,
    survey: &'a Survey,
    index: usize,
    lang: Lang,
    raw: &RawAnswers,
    errors: &[FormError],
    number: Option<usize>,
    numbers: &[Option<usize>],
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
            // "Don't know" and "does not apply" stand apart from the scale.
            is_dont_know: o.missing.is_some(),
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
            .map(|c| m.text(lang, "show_if_quoted", &[("label", c.label.get(lang))]))
            .collect();
        ShowIfView {
            question_id: controlling.id.as_str(),
            values_joined: rule.values.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(" "),
            hint: m.text(
                lang,
                "show_if_hint",
                &[
                    ("answers", &either_of(m, lang, &labels)),
                    (
                        "number",
                        &numbers[rule.question].map_or_else(String::new, |n| n.to_string()),
                    ),
                ],
            ),
        }
    });
    QuestionView {
        id,
        number,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_a_condition_are_quoted_and_joined_with_the_languages_or() {
        let m = crate::web::i18n::Messages::load().unwrap();
        let quoted = |lang: Lang, labels: &[&str]| -> Vec<String> {
            labels
                .iter()
                .map(|l| m.text(lang, "show_if_quoted", &[("label", l)]))
                .collect()
        };
        let en = quoted(Lang::En, &["Renting", "Living with family", "Other"]);
        assert_eq!(either_of(&m, Lang::En, &en[..1]), "“Renting”");
        assert_eq!(either_of(&m, Lang::En, &en[..2]), "“Renting” or “Living with family”");
        assert_eq!(
            either_of(&m, Lang::En, &en),
            "“Renting”, “Living with family” or “Other”"
        );
        let zh = quoted(Lang::Zh, &["租房", "与家人同住", "其他"]);
        assert_eq!(either_of(&m, Lang::Zh, &zh[..2]), "“租房”或“与家人同住”");
        assert_eq!(either_of(&m, Lang::Zh, &zh), "“租房”、“与家人同住”或“其他”");
        let ko = quoted(Lang::Ko, &["전세", "월세", "기타"]);
        assert_eq!(either_of(&m, Lang::Ko, &ko[..2]), "‘전세’ 또는 ‘월세’");
        assert_eq!(either_of(&m, Lang::Ko, &ko), "‘전세’, ‘월세’ 또는 ‘기타’");
        assert_eq!(either_of(&m, Lang::Ko, &[]), "");
    }
}
