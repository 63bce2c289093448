//! The designers' structure page: a draft's sections and questions in
//! order, with small forms to move, add and remove them, to add and remove
//! options, and to set a question's required, dimension, weight and
//! show_if.
//!
//! Every form sends one operation (`op`) and its fields; saving applies it
//! with `survey::edit` to the draft as stored, in the transaction that
//! stores it back (`Database::update_draft`), so an edit is all or
//! nothing and never works on a stale copy. A refused operation shows the
//! page again with 422 and the problem. A question is never renamed: it is
//! removed (retired) and a new one added, and the id of a question of a
//! published version cannot be reused. Looking is for all staff, editing
//! for designers and admins, with the session's CSRF token; every edit is
//! audited as `survey.edit`.

use super::surveys::{draft_problems, editor_form, render, see_other, Problems, EDITORS};
use super::{blocking, StaffBar, StaffError, Viewer};
use crate::account::Role;
use crate::db::{DbError, DraftError, Session};
use crate::lang::Lang;
use crate::survey::edit::{self, Direction, EditError};
use crate::survey::raw::{RawOption, RawQuestion, RawQuestionType, RawShowIf, RawSurvey, RawText};
use crate::web::error::WebErrorKind;
use crate::web::i18n::query_param;
use crate::web::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use std::collections::HashSet;

/// Largest structure form: one operation, with a question's texts and options.
pub const MAX_STRUCTURE_FORM_BYTES: usize = 64 * 1024;

const TYPES: [&str; 5] = ["likert", "single_choice", "multi_choice", "rating", "text"];

#[derive(Serialize)]
struct Choice {
    value: String,
    selected: bool,
}

#[derive(Serialize)]
struct OptionView {
    value: String,
    label: String,
}

#[derive(Serialize)]
struct QuestionView {
    id: String,
    kind: &'static str,
    scale: String,
    text: String,
    required: bool,
    dimension: String,
    dimensions: Vec<Choice>,
    weight: String,
    show_if_question: String,
    show_if_values: String,
    has_own_options: bool,
    options: Vec<OptionView>,
}

#[derive(Serialize)]
struct SectionView {
    id: String,
    title: String,
    first: bool,
    last: bool,
    empty: bool,
    questions: Vec<QuestionView>,
}

#[derive(Serialize)]
struct LangField {
    code: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct StructurePage {
    staff: StaffBar,
    slug: String,
    draft_version: Option<u32>,
    can_edit: bool,
    notice: Option<String>,
    problems: Option<Problems>,
    sections: Vec<SectionView>,
    scales: Vec<String>,
    types: [&'static str; 5],
    languages: Vec<LangField>,
}

fn type_name(kind: RawQuestionType) -> &'static str {
    match kind {
        RawQuestionType::Likert => "likert",
        RawQuestionType::SingleChoice => "single_choice",
        RawQuestionType::MultiChoice => "multi_choice",
        RawQuestionType::Rating => "rating",
        RawQuestionType::Text => "text",
    }
}

fn parse_type(s: &str) -> Option<RawQuestionType> {
    Some(match s {
        "likert" => RawQuestionType::Likert,
        "single_choice" => RawQuestionType::SingleChoice,
        "multi_choice" => RawQuestionType::MultiChoice,
        "rating" => RawQuestionType::Rating,
        "text" => RawQuestionType::Text,
        _ => return None,
    })
}

/// The text in `lang`, or else in any language it has.
fn shown(text: &RawText, lang: Lang) -> String {
    let of = |l: Lang| match l {
        Lang::Zh => &text.zh,
        Lang::En => &text.en,
        Lang::Ko => &text.ko,
    };
    std::iter::once(lang)
        .chain(Lang::ALL)
        .find_map(|l| of(l).clone().filter(|t| !t.trim().is_empty()))
        .unwrap_or_default()
}

fn question_view(raw: &RawSurvey, q: &RawQuestion, lang: Lang) -> QuestionView {
    let dimension = q.dimension.clone().unwrap_or_default();
    let (show_if_question, show_if_values) = match &q.show_if {
        Some(c) => (
            c.question.clone(),
            c.equals
                .iter()
                .chain(c.any_of.iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        None => Default::default(),
    };
    QuestionView {
        id: q.id.clone(),
        kind: type_name(q.kind),
        scale: q.scale.clone().unwrap_or_default(),
        text: shown(&q.text, lang),
        required: q.required == Some(true),
        dimensions: raw
            .dimensions
            .iter()
            .map(|d| Choice {
                selected: d.id == dimension,
                value: d.id.clone(),
            })
            .collect(),
        dimension,
        weight: q.weight.map(|w| w.to_string()).unwrap_or_default(),
        show_if_question,
        show_if_values,
        has_own_options: matches!(q.kind, RawQuestionType::SingleChoice | RawQuestionType::MultiChoice),
        options: q
            .options
            .iter()
            .flatten()
            .map(|o| OptionView {
                value: o.value.clone(),
                label: shown(&o.label, lang),
            })
            .collect(),
    }
}

/// What a save left for the page to show.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    problems: Option<Problems>,
}

/// The structure page of `slug`'s draft, or a 404 when no version of
/// `slug` is stored.
async fn structure_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    session: &Session,
    slug: String,
    status: StatusCode,
    outcome: Outcome,
) -> Result<HttpResponse, StaffError> {
    let Outcome { notice, problems } = outcome;
    let db = state.db.clone();
    let key = slug.clone();
    let (known, draft) = blocking(state, lang, move || -> Result<_, DbError> {
        Ok((!db.versions(&key)?.is_empty(), db.draft(&key)?))
    })
    .await?;
    if !known {
        return Err(state
            .error(WebErrorKind::NotFound, lang, format!("no survey {slug:?}"))
            .into());
    }
    let (mut sections, mut scales) = (Vec::new(), Vec::new());
    if let Some(draft) = &draft {
        let raw: RawSurvey = toml::from_str(&draft.definition).map_err(|e| {
            state.error(
                WebErrorKind::Internal,
                lang,
                format!("stored draft of {slug} no longer reads: {e}"),
            )
        })?;
        let count = raw.sections.len();
        sections = raw
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| SectionView {
                id: s.id.clone(),
                title: shown(&s.title, lang),
                first: i == 0,
                last: i + 1 == count,
                empty: s.questions.is_empty(),
                questions: s.questions.iter().map(|q| question_view(&raw, q, lang)).collect(),
            })
            .collect();
        scales = raw.scales.keys().cloned().collect();
    }
    let body = StructurePage {
        staff: StaffBar::new(state, lang, session),
        slug,
        draft_version: draft.map(|d| d.version),
        can_edit: EDITORS.contains(&session.user.role),
        notice,
        problems,
        sections,
        scales,
        types: TYPES,
        languages: Lang::ALL
            .iter()
            .map(|l| LangField {
                code: l.code(),
                name: l.native_name(),
            })
            .collect(),
    };
    let title = state.renderer.messages.text(lang, "staff_structure_title", &[]);
    render(state, req, status, "admin_structure", lang, &title, &body)
}

/// GET /admin/surveys/{slug}/structure
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let lang = viewer.lang;
    let notice = query_param(req.query_string(), "saved").map(|v| {
        state
            .renderer
            .messages
            .text(lang, "staff_structure_saved", &[("version", &v)])
    });
    let outcome = Outcome { notice, problems: None };
    structure_page(&req, &state, lang, session, path.into_inner(), StatusCode::OK, outcome).await
}

/// One operation of the structure forms, read and checked for form.
enum Operation {
    MoveQuestion(String, Direction),
    RemoveQuestion(String),
    Settings {
        question: String,
        required: bool,
        dimension: Option<String>,
        weight: Option<f64>,
        show_if: Option<RawShowIf>,
    },
    AddQuestion {
        section: String,
        question: Box<RawQuestion>,
    },
    AddOption {
        question: String,
        value: String,
        label: RawText,
    },
    RemoveOption {
        question: String,
        value: String,
    },
    MoveSection(String, Direction),
    AddSection(String, RawText),
    RemoveSection(String),
}

struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    fn direction(&self) -> Result<Direction, String> {
        self.get("direction").parse()
    }

    /// `{prefix}_zh`, `{prefix}_en`, `{prefix}_ko`; blank ones are left out.
    fn text(&self, prefix: &str) -> RawText {
        let part = |l: Lang| self.optional(&format!("{prefix}_{}", l.code()));
        RawText {
            zh: part(Lang::Zh),
            en: part(Lang::En),
            ko: part(Lang::Ko),
        }
    }
}

/// Options written one a line: `value` or `value | zh | en | ko`.
fn options_of(text: &str) -> Vec<RawOption> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut parts = line
                .split('|')
                .map(|p| Some(p.trim().to_string()).filter(|p| !p.is_empty()));
            let value = parts.next().flatten().unwrap_or_default();
            let mut next = || parts.next().flatten();
            RawOption {
                value,
                label: RawText {
                    zh: next(),
                    en: next(),
                    ko: next(),
                },
                score: None,
                missing: None,
            }
        })
        .collect()
}

fn operation_of(fields: &Fields) -> Result<Operation, String> {
    let op = fields.get("op");
    Ok(match op.as_str() {
        "move_question" => Operation::MoveQuestion(fields.get("question"), fields.direction()?),
        "remove_question" => Operation::RemoveQuestion(fields.get("question")),
        "settings" => {
            let weight = match fields.optional("weight") {
                None => None,
                Some(w) => Some(
                    w.parse::<f64>()
                        .map_err(|_| format!("the weight must be a positive number, not {w:?}"))?,
                ),
            };
            let show_if = match fields.optional("show_if_question") {
                None => None,
                Some(question) => {
                    let values: Vec<String> = fields
                        .get("show_if_values")
                        .split(',')
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .collect();
                    let (equals, any_of) = match values.len() {
                        1 => (values.into_iter().next(), None),
                        0 => (None, None),
                        _ => (None, Some(values)),
                    };
                    Some(RawShowIf {
                        question,
                        equals,
                        any_of,
                    })
                }
            };
            Operation::Settings {
                question: fields.get("question"),
                required: fields.get("required") == "1",
                dimension: fields.optional("dimension"),
                weight,
                show_if,
            }
        }
        "add_question" => {
            let kind_text = fields.get("type");
            let kind = parse_type(&kind_text)
                .ok_or_else(|| format!("{kind_text:?} is not a question type ({})", TYPES.join(", ")))?;
            let options = options_of(&fields.get("options"));
            let question = RawQuestion {
                id: fields.get("id"),
                kind,
                scale: (kind == RawQuestionType::Likert)
                    .then(|| fields.optional("scale"))
                    .flatten(),
                reverse: None,
                not_applicable: None,
                required: None,
                dimension: None,
                weight: None,
                text: fields.text("text"),
                help: None,
                required_error: None,
                options: (!options.is_empty()).then_some(options),
                max_choices: None,
                low_label: None,
                high_label: None,
                max_length: None,
                show_if: None,
            };
            Operation::AddQuestion {
                section: fields.get("section"),
                question: Box::new(question),
            }
        }
        "add_option" => Operation::AddOption {
            question: fields.get("question"),
            value: fields.get("value"),
            label: fields.text("label"),
        },
        "remove_option" => Operation::RemoveOption {
            question: fields.get("question"),
            value: fields.get("value"),
        },
        "move_section" => Operation::MoveSection(fields.get("section"), fields.direction()?),
        "add_section" => Operation::AddSection(fields.get("id"), fields.text("title")),
        "remove_section" => Operation::RemoveSection(fields.get("section")),
        other => return Err(format!("{other:?} is not an operation of this page")),
    })
}

fn apply(raw: &mut RawSurvey, operation: Operation, earlier_ids: &HashSet<String>) -> Result<(), EditError> {
    match operation {
        Operation::MoveQuestion(id, direction) => edit::move_question(raw, &id, direction),
        Operation::RemoveQuestion(id) => edit::remove_question(raw, &id).map(|_| ()),
        Operation::Settings {
            question,
            required,
            dimension,
            weight,
            show_if,
        } => edit::set_question_settings(raw, &question, required, dimension, weight, show_if),
        Operation::AddQuestion { section, question } => edit::add_question(raw, &section, None, *question, earlier_ids),
        Operation::AddOption { question, value, label } => edit::add_option(raw, &question, &value, label),
        Operation::RemoveOption { question, value } => edit::remove_option(raw, &question, &value),
        Operation::MoveSection(id, direction) => edit::move_section(raw, &id, direction),
        Operation::AddSection(id, title) => edit::add_section(raw, &id, title),
        Operation::RemoveSection(id) => edit::remove_section(raw, &id),
    }
}

/// The question ids of every published version of `slug`.
fn published_question_ids(db: &crate::db::Database, slug: &str) -> Result<HashSet<String>, DbError> {
    let mut ids = HashSet::new();
    for info in db.versions(slug)?.into_iter().filter(|v| v.status == "published") {
        if let Some((version, text)) = db.published_definition(slug, Some(info.version))? {
            let raw: RawSurvey = toml::from_str(&text).map_err(|e| DbError::StoredDefinition {
                slug: slug.to_string(),
                version,
                message: e.to_string(),
            })?;
            ids.extend(raw.sections.into_iter().flat_map(|s| s.questions).map(|q| q.id));
        }
    }
    Ok(ids)
}

/// POST /admin/surveys/{slug}/structure: apply one operation to the
/// stored draft and store it back (audited as `survey.edit`).
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
    let refuse = |items: Vec<String>| Outcome {
        notice: None,
        problems: Some(Problems {
            heading: state.renderer.messages.text(lang, "staff_structure_failed", &[]),
            items,
        }),
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let operation = match operation_of(&Fields(pairs)) {
        Ok(operation) => operation,
        Err(problem) => {
            return structure_page(&req, &state, lang, session, slug, status, refuse(vec![problem])).await;
        }
    };
    let db = state.db.clone();
    let actor = session.user.username.to_string();
    let key = slug.clone();
    let saved = blocking(&state, lang, move || -> Result<_, DbError> {
        let earlier_ids = match operation {
            Operation::AddQuestion { .. } => published_question_ids(&db, &key)?,
            _ => HashSet::new(),
        };
        Ok(db.update_draft(&key, &actor, "survey.edit", |raw| apply(raw, operation, &earlier_ids)))
    })
    .await?;
    let items = match saved {
        Ok(Ok((version, ()))) => {
            log::info!(
                "{} edited the structure of {slug} v{version} (draft)",
                session.user.username
            );
            return Ok(see_other(format!("/admin/surveys/{slug}/structure?saved={version}")));
        }
        Ok(Err(refused)) => vec![refused.to_string()],
        Err(DraftError::Database(e)) => return Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into()),
        Err(e) => draft_problems(&e),
    };
    structure_page(&req, &state, lang, session, slug, status, refuse(items)).await
}
