//! What the resident's form page shows, as the template wants it: the
//! survey's sections and questions in one language, the answers given so
//! far, the errors, the invitation code, and a staff preview's extras.

use super::super::error::{WebError, WebErrorKind};
use super::super::AppState;
use crate::lang::Lang;
use crate::survey::{AnswerError, AnswerProblem, QuestionKind, RawAnswers, Survey};
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
    pub(super) fn general(message: String) -> FormError {
        FormError {
            anchor: None,
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
            number: None,
            question_text: None,
            message,
            question: None,
        }
    }

    pub(super) fn from_answer(state: &AppState, survey: &Survey, lang: Lang, e: &AnswerError) -> FormError {
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
            code: None,
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
