//! What the targets share: the surveys that answers are checked against,
//! and the invariants of answers that passed validation.

#![allow(dead_code)]

use civicpulse::survey::{AnswerValue, Answers, QuestionKind, Survey};
use std::sync::OnceLock;

/// A small definition with every question type, skip logic, a capped
/// multi choice and a 5-character text (the one of `src/survey/tests.rs`).
pub const MINI: &str = include_str!("../seeds/definition/mini.toml");

/// The built-in surveys (every version) and `MINI`.
pub fn surveys() -> &'static [Survey] {
    static SURVEYS: OnceLock<Vec<Survey>> = OnceLock::new();
    SURVEYS.get_or_init(|| {
        let mut all = civicpulse::survey::builtin_earlier_versions();
        all.extend(civicpulse::survey::builtin_definitions());
        all.push(Survey::from_toml("mini.toml", MINI).expect("the mini survey is valid"));
        all
    })
}

/// A text answer as stored: not empty, trimmed, no control character but
/// line feed and tab, within the question's length.
pub fn check_text(text: &str, max_length: u32) {
    assert!(!text.is_empty(), "an empty text answer was accepted");
    assert_eq!(text.trim(), text, "a text answer is not trimmed");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "a text answer keeps a control character: {text:?}"
    );
    assert!(text.chars().count() <= max_length as usize, "a text answer is too long");
}

/// What `Survey::validate` promises of the answers it accepts.
pub fn check_answers(survey: &Survey, answers: &Answers) {
    for (id, value) in answers.iter() {
        let question = survey
            .question(id)
            .unwrap_or_else(|| panic!("answer to {id:?}, which is not a question"));
        assert!(
            survey.is_shown(question, answers),
            "answer to the hidden question {id:?}"
        );
        match (&question.kind, value) {
            (QuestionKind::Text { max_length }, AnswerValue::Text(text)) => check_text(text, *max_length),
            (QuestionKind::MultiChoice { options, max_choices }, AnswerValue::Choices(chosen)) => {
                assert!(!chosen.is_empty(), "{id}: no option chosen");
                let positions: Vec<usize> = chosen
                    .iter()
                    .map(|v| options.iter().position(|o| &o.value == v).expect("an option"))
                    .collect();
                assert!(
                    positions.windows(2).all(|w| w[0] < w[1]),
                    "{id}: choices not in definition order, or repeated"
                );
                if let Some(max) = max_choices {
                    assert!(chosen.len() <= *max as usize, "{id}: more than {max} choices");
                }
            }
            (
                QuestionKind::Likert { .. } | QuestionKind::SingleChoice { .. } | QuestionKind::Rating { .. },
                AnswerValue::Choice(v),
            ) => assert!(question.option(v.as_str()).is_some(), "{id}: {v} is not an option"),
            (kind, value) => panic!("{id}: a {} question answered with {value:?}", kind.type_name()),
        }
    }
    for question in &survey.questions {
        if question.required && survey.is_shown(question, answers) {
            assert!(
                answers.get(question.id.as_str()).is_some(),
                "the required question {} has no answer",
                question.id
            );
        }
    }
    let codes = survey.choice_codes(answers);
    assert_eq!(codes.len(), survey.questions.len());
    for (code, question) in codes.iter().zip(&survey.questions) {
        assert!(usize::from(*code) <= question.kind.options().len());
    }
}
