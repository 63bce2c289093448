//! Structural edits of a draft, one operation at a time: moving, adding
//! and removing sections, questions and options, and a question's
//! settings (required, dimension, weight, show_if).
//!
//! Every operation checks everything first and changes the definition
//! only when it can be applied whole, so a refused edit leaves the draft
//! exactly as it was. A draft need not pass validation (texts may still be
//! missing), but an edit never makes a well-formed id or option value
//! malformed, never repeats one, and never reuses the id of a question of
//! an earlier published version: ids are stable across versions, so a
//! question is renamed by removing it (retiring its id) and adding a new
//! one. The version rules themselves (`versioning`) are checked again when
//! the draft is stored.
//!
//! Pure code: no I/O.

use super::raw::{RawOption, RawQuestion, RawQuestionType, RawSection, RawShowIf, RawSurvey, RawText};
use super::versioning::option_values;
use super::{Id, OptionValue};
use std::collections::HashSet;
use std::str::FromStr;

/// Which way to move a question or a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Direction, String> {
        match s {
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            other => Err(format!("{other:?} is not a direction (up or down)")),
        }
    }
}

/// Why an edit was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("there is no question {0:?} in this draft")]
    NoQuestion(String),
    #[error("there is no section {0:?} in this draft")]
    NoSection(String),
    #[error("question {0:?} is already the first question of the survey")]
    QuestionAlreadyFirst(String),
    #[error("question {0:?} is already the last question of the survey")]
    QuestionAlreadyLast(String),
    #[error("section {0:?} is already the first section")]
    SectionAlreadyFirst(String),
    #[error("section {0:?} is already the last section")]
    SectionAlreadyLast(String),
    #[error("question {question:?} is not in section {section:?}")]
    NotInSection { question: String, section: String },
    #[error("{0:?} is not a valid id: use a-z, 0-9 and '_', start with a letter, at most 64 characters")]
    BadId(String),
    #[error("there is already a question {0:?} in this draft")]
    QuestionExists(String),
    #[error(
        "question id {0:?} belongs to a question of an earlier version; ids are stable across versions, \
         so a retired id cannot be reused: choose a new id"
    )]
    RetiredId(String),
    #[error("there is already a section {0:?} in this draft")]
    SectionExists(String),
    #[error("section {0:?} still has questions; remove or move them first")]
    SectionNotEmpty(String),
    #[error("question {question:?} cannot be removed: the show_if of question {by:?} refers to it")]
    Referenced { question: String, by: String },
    #[error("question {0:?} has no options of its own (only single_choice and multi_choice questions have)")]
    NoOwnOptions(String),
    #[error("{0:?} is not a valid option value: use a-z, 0-9, '_', '-' and '+'")]
    BadValue(String),
    #[error("question {question:?} already has an option {value:?}")]
    OptionExists { question: String, value: String },
    #[error("question {question:?} has no option {value:?}")]
    NoOption { question: String, value: String },
    #[error("question {0:?} needs at least one option")]
    LastOption(String),
    #[error("the weight must be a positive number, not {0}")]
    BadWeight(f64),
    #[error("there is no dimension {0:?} in this draft")]
    NoDimension(String),
    #[error("show_if of question {question:?} must refer to an earlier question, and {target:?} is not one")]
    ShowIfNotEarlier { question: String, target: String },
    #[error("show_if needs at least one value of question {0:?}")]
    ShowIfNoValue(String),
    #[error("{value:?} is not an answer of question {target:?} (it offers: {offered})")]
    ShowIfValue {
        target: String,
        value: String,
        offered: String,
    },
    #[error("a likert question needs a scale of this draft ({known}), not {given:?}")]
    NoScale { given: String, known: String },
    #[error("a {0} question needs at least one option")]
    NeedsOptions(&'static str),
}

fn locate(raw: &RawSurvey, id: &str) -> Result<(usize, usize), EditError> {
    raw.sections
        .iter()
        .enumerate()
        .find_map(|(s, section)| section.questions.iter().position(|q| q.id == id).map(|q| (s, q)))
        .ok_or_else(|| EditError::NoQuestion(id.to_string()))
}

fn section_index(raw: &RawSurvey, id: &str) -> Result<usize, EditError> {
    raw.sections
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| EditError::NoSection(id.to_string()))
}

fn questions(raw: &RawSurvey) -> impl Iterator<Item = &RawQuestion> {
    raw.sections.iter().flat_map(|s| s.questions.iter())
}

/// Move a question one place up or down within its section; at the first
/// or last place it crosses into the previous or next section (as its
/// last or first question).
pub fn move_question(raw: &mut RawSurvey, id: &str, direction: Direction) -> Result<(), EditError> {
    let (s, q) = locate(raw, id)?;
    let len = raw.sections[s].questions.len();
    match direction {
        Direction::Up if q > 0 => raw.sections[s].questions.swap(q, q - 1),
        Direction::Down if q + 1 < len => raw.sections[s].questions.swap(q, q + 1),
        Direction::Up if s == 0 => return Err(EditError::QuestionAlreadyFirst(id.to_string())),
        Direction::Down if s + 1 == raw.sections.len() => return Err(EditError::QuestionAlreadyLast(id.to_string())),
        Direction::Up => {
            let question = raw.sections[s].questions.remove(q);
            raw.sections[s - 1].questions.push(question);
        }
        Direction::Down => {
            let question = raw.sections[s].questions.remove(q);
            raw.sections[s + 1].questions.insert(0, question);
        }
    }
    Ok(())
}

/// Remove (retire) a question. Refused while another question's show_if
/// refers to it.
pub fn remove_question(raw: &mut RawSurvey, id: &str) -> Result<RawQuestion, EditError> {
    let (s, q) = locate(raw, id)?;
    if let Some(by) = questions(raw).find(|q| q.show_if.as_ref().is_some_and(|c| c.question == id)) {
        return Err(EditError::Referenced {
            question: id.to_string(),
            by: by.id.clone(),
        });
    }
    Ok(raw.sections[s].questions.remove(q))
}

/// Add `question` to section `section`, right after question `after`, or
/// at the end of the section when `after` is `None`. Its id must be
/// well-formed, unused in this draft and not one of `earlier_ids` (the
/// question ids of every published version). A likert question needs a
/// scale of the draft, a choice question at least one option.
pub fn add_question(
    raw: &mut RawSurvey,
    section: &str,
    after: Option<&str>,
    question: RawQuestion,
    earlier_ids: &HashSet<String>,
) -> Result<(), EditError> {
    let s = section_index(raw, section)?;
    let at = match after {
        None => raw.sections[s].questions.len(),
        Some(after) => {
            let (found, q) = locate(raw, after)?;
            if found != s {
                return Err(EditError::NotInSection {
                    question: after.to_string(),
                    section: section.to_string(),
                });
            }
            q + 1
        }
    };
    let id = question.id.as_str();
    Id::parse(id).map_err(|_| EditError::BadId(id.to_string()))?;
    if questions(raw).any(|q| q.id == id) {
        return Err(EditError::QuestionExists(id.to_string()));
    }
    if earlier_ids.contains(id) {
        return Err(EditError::RetiredId(id.to_string()));
    }
    match question.kind {
        RawQuestionType::Likert => {
            let given = question.scale.clone().unwrap_or_default();
            if !raw.scales.contains_key(&given) {
                return Err(EditError::NoScale {
                    given,
                    known: raw.scales.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
        RawQuestionType::SingleChoice | RawQuestionType::MultiChoice => {
            let options = question.options.as_deref().unwrap_or_default();
            if options.is_empty() {
                let kind = if question.kind == RawQuestionType::SingleChoice {
                    "single_choice"
                } else {
                    "multi_choice"
                };
                return Err(EditError::NeedsOptions(kind));
            }
            let mut seen = HashSet::new();
            for option in options {
                OptionValue::parse(&option.value).map_err(|_| EditError::BadValue(option.value.clone()))?;
                if !seen.insert(option.value.as_str()) {
                    return Err(EditError::OptionExists {
                        question: id.to_string(),
                        value: option.value.clone(),
                    });
                }
            }
        }
        RawQuestionType::Rating | RawQuestionType::Text => {}
    }
    raw.sections[s].questions.insert(at, question);
    Ok(())
}

/// Set what a question's settings are: `required` (written only when
/// true; an optional question drops its `required_error`), its dimension, its weight (`None`: the default, 1) and its
/// show_if condition. The dimension must be declared, the weight positive
/// and finite, and show_if must name an earlier question and answers it
/// offers.
pub fn set_question_settings(
    raw: &mut RawSurvey,
    id: &str,
    required: bool,
    dimension: Option<String>,
    weight: Option<f64>,
    show_if: Option<RawShowIf>,
) -> Result<(), EditError> {
    let (s, q) = locate(raw, id)?;
    if let Some(dimension) = &dimension {
        if !raw.dimensions.iter().any(|d| &d.id == dimension) {
            return Err(EditError::NoDimension(dimension.clone()));
        }
    }
    if let Some(weight) = weight {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(EditError::BadWeight(weight));
        }
    }
    if let Some(condition) = &show_if {
        let target = questions(raw)
            .take_while(|q| q.id != id)
            .find(|q| q.id == condition.question)
            .ok_or_else(|| EditError::ShowIfNotEarlier {
                question: id.to_string(),
                target: condition.question.clone(),
            })?;
        let values: Vec<&String> = condition
            .equals
            .iter()
            .chain(condition.any_of.iter().flatten())
            .collect();
        if values.is_empty() {
            return Err(EditError::ShowIfNoValue(target.id.clone()));
        }
        let offered = option_values(raw, target).unwrap_or_default();
        if let Some(value) = values.into_iter().find(|v| !offered.contains(v)) {
            return Err(EditError::ShowIfValue {
                target: target.id.clone(),
                value: value.clone(),
                offered: offered.join(", "),
            });
        }
    }
    let question = &mut raw.sections[s].questions[q];
    question.required = required.then_some(true);
    if !required {
        // Only a required question is ever left unanswered with an error,
        // and validation refuses the message on an optional one.
        question.required_error = None;
    }
    question.dimension = dimension;
    question.weight = weight;
    question.show_if = show_if;
    Ok(())
}

fn own_options<'a>(raw: &'a mut RawSurvey, question: &str) -> Result<&'a mut Vec<RawOption>, EditError> {
    let (s, q) = locate(raw, question)?;
    let found = &mut raw.sections[s].questions[q];
    match found.kind {
        RawQuestionType::SingleChoice | RawQuestionType::MultiChoice => Ok(found.options.get_or_insert_with(Vec::new)),
        _ => Err(EditError::NoOwnOptions(question.to_string())),
    }
}

/// Add an option at the end of a choice question's options.
pub fn add_option(raw: &mut RawSurvey, question: &str, value: &str, label: RawText) -> Result<(), EditError> {
    OptionValue::parse(value).map_err(|_| EditError::BadValue(value.to_string()))?;
    let options = own_options(raw, question)?;
    if options.iter().any(|o| o.value == value) {
        return Err(EditError::OptionExists {
            question: question.to_string(),
            value: value.to_string(),
        });
    }
    options.push(RawOption {
        value: value.to_string(),
        label,
        score: None,
        missing: None,
    });
    Ok(())
}

/// Remove an option of a choice question; not its last one, and not one a
/// show_if refers to.
pub fn remove_option(raw: &mut RawSurvey, question: &str, value: &str) -> Result<(), EditError> {
    if let Some(by) = questions(raw).find(|q| {
        q.show_if.as_ref().is_some_and(|c| {
            c.question == question
                && (c.equals.as_deref() == Some(value) || c.any_of.iter().flatten().any(|v| v == value))
        })
    }) {
        return Err(EditError::Referenced {
            question: format!("{question}.{value}"),
            by: by.id.clone(),
        });
    }
    let options = own_options(raw, question)?;
    let at = options
        .iter()
        .position(|o| o.value == value)
        .ok_or_else(|| EditError::NoOption {
            question: question.to_string(),
            value: value.to_string(),
        })?;
    if options.len() == 1 {
        return Err(EditError::LastOption(question.to_string()));
    }
    options.remove(at);
    Ok(())
}

/// Move a section (with its questions) one place up or down.
pub fn move_section(raw: &mut RawSurvey, id: &str, direction: Direction) -> Result<(), EditError> {
    let s = section_index(raw, id)?;
    match direction {
        Direction::Up if s == 0 => Err(EditError::SectionAlreadyFirst(id.to_string())),
        Direction::Down if s + 1 == raw.sections.len() => Err(EditError::SectionAlreadyLast(id.to_string())),
        Direction::Up => {
            raw.sections.swap(s, s - 1);
            Ok(())
        }
        Direction::Down => {
            raw.sections.swap(s, s + 1);
            Ok(())
        }
    }
}

/// Add an empty section at the end of the survey.
pub fn add_section(raw: &mut RawSurvey, id: &str, title: RawText) -> Result<(), EditError> {
    Id::parse(id).map_err(|_| EditError::BadId(id.to_string()))?;
    if raw.sections.iter().any(|s| s.id == id) {
        return Err(EditError::SectionExists(id.to_string()));
    }
    raw.sections.push(RawSection {
        id: id.to_string(),
        title,
        description: None,
        questions: Vec::new(),
    });
    Ok(())
}

/// Remove a section that has no questions left.
pub fn remove_section(raw: &mut RawSurvey, id: &str) -> Result<(), EditError> {
    let s = section_index(raw, id)?;
    if !raw.sections[s].questions.is_empty() {
        return Err(EditError::SectionNotEmpty(id.to_string()));
    }
    raw.sections.remove(s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: &str = r#"
slug = "mini"
version = 2
title = { zh = "标题", en = "Title", ko = "제목" }
intro = { zh = "介绍", en = "Intro", ko = "소개" }
thanks = { zh = "谢谢", en = "Thanks", ko = "감사" }

[scales.agree3]
labels = [
  { zh = "不同意", en = "Disagree", ko = "반대" },
  { zh = "一般", en = "Neutral", ko = "보통" },
  { zh = "同意", en = "Agree", ko = "찬성" },
]

[[dimensions]]
id = "safety"
weight = 1
title = { zh = "安全", en = "Safety", ko = "안전" }

[[sections]]
id = "about"
title = { zh = "关于", en = "About", ko = "정보" }

[[sections.questions]]
id = "kind"
type = "single_choice"
text = { zh = "类型", en = "Kind", ko = "유형" }
options = [
  { value = "a", label = { zh = "甲", en = "A", ko = "가" } },
  { value = "b", label = { zh = "乙", en = "B", ko = "나" } },
]

[[sections.questions]]
id = "age"
type = "rating"
text = { zh = "年龄", en = "Age", ko = "나이" }

[[sections]]
id = "safety"
title = { zh = "安全", en = "Safety", ko = "안전" }

[[sections.questions]]
id = "night"
type = "likert"
scale = "agree3"
dimension = "safety"
text = { zh = "夜间", en = "Night", ko = "밤" }
show_if = { question = "kind", equals = "a" }

[[sections.questions]]
id = "day"
type = "likert"
scale = "agree3"
text = { zh = "白天", en = "Day", ko = "낮" }
"#;

    fn raw() -> RawSurvey {
        toml::from_str(DEF).unwrap()
    }

    fn order(raw: &RawSurvey) -> Vec<String> {
        raw.sections
            .iter()
            .flat_map(|s| s.questions.iter().map(move |q| format!("{}:{}", s.id, q.id)))
            .collect()
    }

    fn likert(id: &str) -> RawQuestion {
        RawQuestion {
            id: id.to_string(),
            kind: RawQuestionType::Likert,
            scale: Some("agree3".into()),
            reverse: None,
            not_applicable: None,
            required: None,
            dimension: None,
            weight: None,
            text: RawText::default(),
            help: None,
            required_error: None,
            options: None,
            max_choices: None,
            low_label: None,
            high_label: None,
            max_length: None,
            show_if: None,
        }
    }

    #[test]
    fn questions_move_within_and_across_sections() {
        let mut r = raw();
        move_question(&mut r, "age", Direction::Up).unwrap();
        assert_eq!(order(&r), ["about:age", "about:kind", "safety:night", "safety:day"]);
        move_question(&mut r, "kind", Direction::Down).unwrap();
        assert_eq!(order(&r), ["about:age", "safety:kind", "safety:night", "safety:day"]);
        move_question(&mut r, "kind", Direction::Up).unwrap();
        assert_eq!(order(&r), ["about:age", "about:kind", "safety:night", "safety:day"]);
        let before = r.clone();
        assert_eq!(
            move_question(&mut r, "age", Direction::Up),
            Err(EditError::QuestionAlreadyFirst("age".into()))
        );
        assert_eq!(
            move_question(&mut r, "day", Direction::Down),
            Err(EditError::QuestionAlreadyLast("day".into()))
        );
        assert_eq!(
            move_question(&mut r, "nope", Direction::Down),
            Err(EditError::NoQuestion("nope".into()))
        );
        assert_eq!(r, before);
    }

    #[test]
    fn removing_a_question_refuses_one_a_show_if_needs() {
        let mut r = raw();
        let e = remove_question(&mut r, "kind").unwrap_err();
        assert_eq!(r, raw());
        assert!(e.to_string().contains("\"night\""), "{e}");
        assert_eq!(remove_question(&mut r, "day").unwrap().id, "day");
        assert_eq!(order(&r), ["about:kind", "about:age", "safety:night"]);
        assert_eq!(remove_question(&mut r, "day"), Err(EditError::NoQuestion("day".into())));
    }

    #[test]
    fn adding_a_question_checks_its_id_place_and_kind() {
        let mut r = raw();
        let none = HashSet::new();
        add_question(&mut r, "safety", Some("night"), likert("noise"), &none).unwrap();
        add_question(&mut r, "about", None, likert("last"), &none).unwrap();
        assert_eq!(
            order(&r),
            [
                "about:kind",
                "about:age",
                "about:last",
                "safety:night",
                "safety:noise",
                "safety:day"
            ]
        );
        let before = r.clone();
        let retired: HashSet<String> = ["gone".to_string()].into();
        for (section, after, q, expected) in [
            ("safety", None, likert("Bad-Id"), EditError::BadId("Bad-Id".into())),
            ("safety", None, likert("day"), EditError::QuestionExists("day".into())),
            ("safety", None, likert("gone"), EditError::RetiredId("gone".into())),
            ("nowhere", None, likert("x"), EditError::NoSection("nowhere".into())),
            (
                "safety",
                Some("kind"),
                likert("x"),
                EditError::NotInSection {
                    question: "kind".into(),
                    section: "safety".into(),
                },
            ),
            (
                "safety",
                None,
                RawQuestion {
                    scale: Some("nope".into()),
                    ..likert("x")
                },
                EditError::NoScale {
                    given: "nope".into(),
                    known: "agree3".into(),
                },
            ),
            (
                "safety",
                None,
                RawQuestion {
                    kind: RawQuestionType::SingleChoice,
                    scale: None,
                    ..likert("x")
                },
                EditError::NeedsOptions("single_choice"),
            ),
        ] {
            assert_eq!(add_question(&mut r, section, after, q, &retired), Err(expected));
            assert_eq!(r, before);
        }
        assert!(EditError::RetiredId("gone".into()).to_string().contains("new id"));
    }

    #[test]
    fn settings_are_set_together_or_not_at_all() {
        let mut r = raw();
        let when = |v: &str| RawShowIf {
            question: "kind".into(),
            equals: Some(v.into()),
            any_of: None,
        };
        set_question_settings(&mut r, "day", true, Some("safety".into()), Some(2.0), Some(when("b"))).unwrap();
        let day = &r.sections[1].questions[1];
        assert_eq!(
            (day.required, day.dimension.as_deref(), day.weight),
            (Some(true), Some("safety"), Some(2.0))
        );
        assert_eq!(day.show_if, Some(when("b")));
        set_question_settings(&mut r, "day", false, None, None, None).unwrap();
        assert_eq!(r, raw());
        for (id, dimension, weight, show_if, expected) in [
            ("day", Some("nope"), None, None, EditError::NoDimension("nope".into())),
            ("day", None, Some(0.0), None, EditError::BadWeight(0.0)),
            ("day", None, Some(f64::NAN), None, EditError::NoQuestion("".into())),
            (
                "kind",
                None,
                None,
                Some(RawShowIf {
                    question: "day".into(),
                    ..when("1")
                }),
                EditError::ShowIfNotEarlier {
                    question: "kind".into(),
                    target: "day".into(),
                },
            ),
            (
                "day",
                None,
                None,
                Some(when("c")),
                EditError::ShowIfValue {
                    target: "kind".into(),
                    value: "c".into(),
                    offered: "a, b".into(),
                },
            ),
        ] {
            let result = set_question_settings(&mut r, id, true, dimension.map(String::from), weight, show_if);
            if weight.is_some_and(f64::is_nan) {
                assert!(matches!(result, Err(EditError::BadWeight(w)) if w.is_nan()));
            } else {
                assert_eq!(result, Err(expected));
            }
            assert_eq!(r, raw());
        }
    }

    #[test]
    fn options_are_added_and_removed_with_checks() {
        let mut r = raw();
        let label = RawText {
            en: Some("C".into()),
            ..RawText::default()
        };
        add_option(&mut r, "kind", "c", label.clone()).unwrap();
        let values = |r: &RawSurvey| -> Vec<String> {
            r.sections[0].questions[0]
                .options
                .iter()
                .flatten()
                .map(|o| o.value.clone())
                .collect()
        };
        assert_eq!(values(&r), ["a", "b", "c"]);
        let before = r.clone();
        assert!(matches!(
            add_option(&mut r, "kind", "c", label.clone()),
            Err(EditError::OptionExists { .. })
        ));
        assert_eq!(
            add_option(&mut r, "kind", "C D", label.clone()),
            Err(EditError::BadValue("C D".into()))
        );
        assert_eq!(
            add_option(&mut r, "day", "x", label.clone()),
            Err(EditError::NoOwnOptions("day".into()))
        );
        assert!(matches!(
            remove_option(&mut r, "kind", "a"),
            Err(EditError::Referenced { .. })
        ));
        assert!(matches!(
            remove_option(&mut r, "kind", "z"),
            Err(EditError::NoOption { .. })
        ));
        assert_eq!(r, before);
        remove_option(&mut r, "kind", "c").unwrap();
        remove_option(&mut r, "kind", "b").unwrap();
        assert_eq!(values(&r), ["a"]);
        r.sections[1].questions[0].show_if = None;
        assert_eq!(
            remove_option(&mut r, "kind", "a"),
            Err(EditError::LastOption("kind".into()))
        );
    }

    #[test]
    fn sections_move_are_added_and_removed_only_when_empty() {
        let mut r = raw();
        let ids = |r: &RawSurvey| r.sections.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        move_section(&mut r, "safety", Direction::Up).unwrap();
        assert_eq!(ids(&r), ["safety", "about"]);
        assert_eq!(
            move_section(&mut r, "safety", Direction::Up),
            Err(EditError::SectionAlreadyFirst("safety".into()))
        );
        assert_eq!(
            move_section(&mut r, "about", Direction::Down),
            Err(EditError::SectionAlreadyLast("about".into()))
        );
        add_section(&mut r, "extra", RawText::default()).unwrap();
        assert_eq!(ids(&r), ["safety", "about", "extra"]);
        assert_eq!(
            add_section(&mut r, "extra", RawText::default()),
            Err(EditError::SectionExists("extra".into()))
        );
        assert_eq!(
            add_section(&mut r, "9x", RawText::default()),
            Err(EditError::BadId("9x".into()))
        );
        assert_eq!(
            remove_section(&mut r, "about"),
            Err(EditError::SectionNotEmpty("about".into()))
        );
        remove_section(&mut r, "extra").unwrap();
        assert_eq!(ids(&r), ["safety", "about"]);
        assert_eq!(
            remove_section(&mut r, "extra"),
            Err(EditError::NoSection("extra".into()))
        );
    }
}
