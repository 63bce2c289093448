//! What a new version of a survey may change about the questions it shares
//! with the versions before it.
//!
//! Responses point to the version they answered, and exports put the
//! answers of every version in one column per question id. So an id must
//! mean the same thing in every version: it keeps its type, and an answer
//! value once offered keeps existing (labels, help and texts may change;
//! options may be added). A question left out of the new version is simply
//! retired: its past answers stay in the exports. Anything else is refused
//! with the advice to retire the question and add a new one under a new id.
//!
//! The new version is taken as the raw file, so the rules can be checked on
//! a draft that does not pass full validation yet (a missing translation).
//! Pure code: no I/O.

use super::model::{Missing, Survey};
use super::raw::{RawQuestion, RawQuestionType, RawSurvey};
use std::fmt;

/// One change that would give a question id a new meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionProblem {
    pub question: String,
    pub message: String,
}

impl fmt::Display for VersionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "question {:?}: {}", self.question, self.message)
    }
}

const ADVICE: &str = "retire the question (leave it out) and add a new one with a new id instead";

/// Problems of `next` against the earlier versions of the same survey
/// (`previous`, in any order). Each question of `next` is compared with the
/// latest earlier version that has the same id, so an id retired in one
/// version cannot come back with another meaning later.
pub fn check(previous: &[&Survey], next: &RawSurvey) -> Vec<VersionProblem> {
    let mut earlier: Vec<&Survey> = previous.to_vec();
    earlier.sort_by_key(|s| std::cmp::Reverse(s.version));
    let mut problems = Vec::new();
    for question in next.sections.iter().flat_map(|s| &s.questions) {
        let Some((old_version, old)) = earlier
            .iter()
            .find_map(|s| s.question(&question.id).map(|q| (s.version, q)))
        else {
            continue;
        };
        let old_type = old.kind.type_name();
        let new_type = type_name(question.kind);
        if old_type != new_type {
            problems.push(VersionProblem {
                question: question.id.clone(),
                message: format!(
                    "was a {old_type} question in version {old_version} and would become {new_type}; \
                     an id keeps its type in every version, so {ADVICE}"
                ),
            });
            continue;
        }
        // When the values cannot be worked out (an unknown scale), full
        // validation reports the cause; there is nothing to compare here.
        let Some(values) = option_values(next, question) else {
            continue;
        };
        let gone: Vec<String> = old
            .kind
            .options()
            .iter()
            .map(|c| c.value.as_str())
            .filter(|v| !values.iter().any(|n| n == v))
            .map(|v| format!("{v:?}"))
            .collect();
        // A kept value keeps what it says about the resident: a scored
        // answer does not become "don't know", nor "don't know" "does not
        // apply", or the separate counts of the versions would not add up.
        for option in old.kind.options() {
            let Some(now) = missing_of(next, question, option.value.as_str()) else {
                continue;
            };
            if now != option.missing {
                let name = |m: Option<Missing>| m.map_or("an answer".to_string(), |m| format!("a {m} option"));
                problems.push(VersionProblem {
                    question: question.id.clone(),
                    message: format!(
                        "option {:?} was {} in version {old_version} and would become {}; an option keeps \
                         its meaning, so add a new option with a new value, or {ADVICE}",
                        option.value.as_str(),
                        name(option.missing),
                        name(now)
                    ),
                });
            }
        }
        if !gone.is_empty() {
            let (noun, verb) = if gone.len() == 1 {
                ("value", "is")
            } else {
                ("values", "are")
            };
            problems.push(VersionProblem {
                question: question.id.clone(),
                message: format!(
                    "option {noun} {} of version {old_version} {verb} gone, so past answers would lose \
                     their meaning; options may be added but not removed, so {ADVICE}",
                    gone.join(", ")
                ),
            });
        }
    }
    problems
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

/// What kind of missing the raw question's option `value` is (`Some(None)`
/// for an answer), or `None` when the question does not offer it.
fn missing_of(survey: &RawSurvey, question: &RawQuestion, value: &str) -> Option<Option<Missing>> {
    match question.kind {
        RawQuestionType::SingleChoice | RawQuestionType::MultiChoice => question
            .options
            .iter()
            .flatten()
            .find(|o| o.value == value)
            .map(|o| o.missing),
        _ => option_values(survey, question)?.iter().find(|v| *v == value).map(|v| {
            Missing::ALL
                .into_iter()
                .find(|m| question.kind == RawQuestionType::Likert && m.likert_value() == v)
        }),
    }
}

/// The answer values a raw question offers, as validation would give them
/// (see `docs/survey-format.md`); `None` when its scale does not exist.
pub(super) fn option_values(survey: &RawSurvey, question: &RawQuestion) -> Option<Vec<String>> {
    match question.kind {
        RawQuestionType::Likert => {
            let scale = survey.scales.get(question.scale.as_deref()?)?;
            let mut values: Vec<String> = (1..=scale.labels.len()).map(|i| i.to_string()).collect();
            if scale.dont_know.is_some() {
                values.push(Missing::DontKnow.likert_value().to_string());
            }
            if scale.not_applicable.is_some() && question.not_applicable == Some(true) {
                values.push(Missing::NotApplicable.likert_value().to_string());
            }
            Some(values)
        }
        RawQuestionType::SingleChoice | RawQuestionType::MultiChoice => {
            Some(question.options.iter().flatten().map(|o| o.value.clone()).collect())
        }
        RawQuestionType::Rating => Some((0..=10).map(|x: u32| x.to_string()).collect()),
        RawQuestionType::Text => Some(Vec::new()),
    }
}

/// How two versions differ in what makes the indices: dimensions (added,
/// removed, weight, in the overall index or not), scored items (added,
/// removed, dimension, weight) and option scores. Comparisons across waves
/// answered with different versions say this, so a change in a figure is
/// not mistaken for a change in satisfaction. Empty when the indices of the
/// two versions are computed alike.
pub fn scoring_differences(earlier: &Survey, later: &Survey) -> Vec<String> {
    let mut out = Vec::new();
    let dim = |s: &Survey, id: &str| s.dimensions.iter().find(|d| d.id.as_str() == id).cloned();
    for d in &earlier.dimensions {
        match dim(later, d.id.as_str()) {
            None => out.push(format!("dimension {} removed", d.id)),
            Some(n) => {
                if n.weight != d.weight {
                    out.push(format!("dimension {} weight {} → {}", d.id, d.weight, n.weight));
                }
                if n.in_overall != d.in_overall {
                    out.push(format!(
                        "dimension {} {} the overall index",
                        d.id,
                        if n.in_overall {
                            "now counts in"
                        } else {
                            "no longer counts in"
                        }
                    ));
                }
            }
        }
    }
    for d in &later.dimensions {
        if dim(earlier, d.id.as_str()).is_none() {
            out.push(format!("dimension {} added", d.id));
        }
    }
    let dimension_of = |s: &Survey, q: &super::model::Question| q.dimension.map(|k| s.dimensions[k].id.to_string());
    for q in earlier.questions.iter().filter(|q| q.is_scored()) {
        let Some(n) = later.question(q.id.as_str()).filter(|n| n.is_scored()) else {
            out.push(format!("item {} removed", q.id));
            continue;
        };
        let (a, b) = (dimension_of(earlier, q), dimension_of(later, n));
        if a != b {
            let name = |d: Option<String>| d.unwrap_or_else(|| "no dimension".into());
            out.push(format!("item {} moved from {} to {}", q.id, name(a), name(b)));
        }
        if n.weight != q.weight {
            out.push(format!("item {} weight {} → {}", q.id, q.weight, n.weight));
        }
        let scores = |q: &super::model::Question| {
            q.kind
                .options()
                .iter()
                .map(|o| (o.value.to_string(), o.score))
                .collect::<Vec<_>>()
        };
        if scores(q) != scores(n) {
            out.push(format!("item {} option scores changed", q.id));
        }
    }
    for q in later.questions.iter().filter(|q| q.is_scored()) {
        if !earlier.question(q.id.as_str()).is_some_and(|e| e.is_scored()) {
            out.push(format!("item {} added", q.id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"
slug = "mini"
version = 1
title = { zh = "小调查", en = "Mini survey", ko = "미니 조사" }
intro = { zh = "介绍", en = "Intro", ko = "소개" }
thanks = { zh = "谢谢", en = "Thanks", ko = "감사합니다" }

[scales.sat3]
labels = [
  { zh = "不满意", en = "Dissatisfied", ko = "불만족" },
  { zh = "一般", en = "Neutral", ko = "보통" },
  { zh = "满意", en = "Satisfied", ko = "만족" },
]
dont_know = { zh = "不了解", en = "Don't know", ko = "잘 모름" }

[[sections]]
id = "main"
title = { zh = "主要", en = "Main", ko = "주요" }

[[sections.questions]]
id = "kind"
type = "single_choice"
text = { zh = "类型", en = "Kind", ko = "유형" }
options = [
  { value = "local", label = { zh = "本地", en = "Local", ko = "현지" } },
  { value = "foreign", label = { zh = "外国", en = "Foreign", ko = "외국" } },
]

[[sections.questions]]
id = "safety"
type = "likert"
scale = "sat3"
text = { zh = "安全", en = "Safety", ko = "안전" }

[[sections.questions]]
id = "comment"
type = "text"
text = { zh = "意见", en = "Comment", ko = "의견" }
"#;

    fn v1() -> Survey {
        Survey::from_toml("v1", V1).unwrap()
    }

    fn next(edit: impl FnOnce(&mut RawSurvey)) -> RawSurvey {
        let mut raw: RawSurvey = toml::from_str(V1).unwrap();
        raw.version = 2;
        edit(&mut raw);
        raw
    }

    fn question<'a>(raw: &'a mut RawSurvey, id: &str) -> &'a mut RawQuestion {
        raw.sections
            .iter_mut()
            .flat_map(|s| &mut s.questions)
            .find(|q| q.id == id)
            .unwrap()
    }

    #[test]
    fn texts_added_options_and_retired_questions_are_allowed() {
        let raw = next(|raw| {
            question(raw, "kind").text.en = Some("What kind of resident are you?".into());
            let mut other = question(raw, "kind").options.as_ref().unwrap()[0].clone();
            other.value = "other".into();
            question(raw, "kind").options.as_mut().unwrap().push(other);
            raw.sections[0].questions.retain(|q| q.id != "comment");
            // A missing translation is for validation to report, not for these rules.
            question(raw, "safety").text.ko = None;
        });
        assert_eq!(check(&[&v1()], &raw), []);
    }

    #[test]
    fn a_new_type_is_refused_with_the_advice_to_retire() {
        let raw = next(|raw| {
            let q = question(raw, "comment");
            q.kind = RawQuestionType::Rating;
        });
        let problems = check(&[&v1()], &raw);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].question, "comment");
        let text = problems[0].to_string();
        assert!(
            text.contains("was a text question in version 1 and would become rating"),
            "{text}"
        );
        assert!(
            text.contains("retire the question") && text.contains("add a new one"),
            "{text}"
        );
    }

    #[test]
    fn a_removed_option_value_is_refused() {
        let raw = next(|raw| {
            question(raw, "kind")
                .options
                .as_mut()
                .unwrap()
                .retain(|o| o.value != "foreign");
            // Two labels instead of three: "3" is gone; so is "dk".
            let scale = raw.scales.get_mut("sat3").unwrap();
            scale.labels.pop();
            scale.dont_know = None;
        });
        let problems = check(&[&v1()], &raw);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0]
            .to_string()
            .contains(r#"option value "foreign" of version 1 is gone"#));
        assert!(problems[1]
            .to_string()
            .contains(r#"option values "3", "dk" of version 1 are gone"#));
    }

    #[test]
    fn a_retired_id_cannot_come_back_with_another_meaning() {
        let v2 = Survey::from_raw(next(|raw| raw.sections[0].questions.retain(|q| q.id != "comment"))).unwrap();
        let mut raw = next(|raw| question(raw, "comment").kind = RawQuestionType::Rating);
        raw.version = 3;
        let problems = check(&[&v2, &v1()], &raw);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("in version 1"), "{problems:?}");
        // A question new in this version is not compared with anything.
        let mut raw = next(|raw| question(raw, "comment").id = "remarks".into());
        question(&mut raw, "remarks").kind = RawQuestionType::Rating;
        assert_eq!(check(&[&v1()], &raw), []);
    }

    #[test]
    fn does_not_apply_may_be_added_but_an_option_keeps_its_kind_of_missing() {
        let add_na = |raw: &mut RawSurvey| {
            raw.scales.get_mut("sat3").unwrap().not_applicable = raw.scales["sat3"].dont_know.clone();
            question(raw, "safety").not_applicable = Some(true);
        };
        assert_eq!(check(&[&v1()], &next(add_na)), []);
        let v2 = Survey::from_raw(next(add_na)).unwrap();
        // Taking "does not apply" away again loses an answer value.
        let mut raw = next(|_| {});
        raw.version = 3;
        let problems = check(&[&v2, &v1()], &raw);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .contains(r#"option value "na" of version 2 is gone"#),
            "{problems:?}"
        );
        // A kept option value does not change what kind of answer it is.
        let raw = next(|raw| {
            question(raw, "kind").options.as_mut().unwrap()[1].missing = Some(Missing::NotApplicable);
        });
        let problems = check(&[&v1()], &raw);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .contains(r#"option "foreign" was an answer in version 1 and would become a not_applicable option"#),
            "{problems:?}"
        );
    }

    #[test]
    fn an_unknown_scale_is_left_to_validation() {
        let raw = next(|raw| question(raw, "safety").scale = Some("nope".into()));
        assert_eq!(check(&[&v1()], &raw), []);
    }

    #[test]
    fn scoring_differences_name_what_changes_the_indices() {
        let base = crate::survey::builtin_definitions()
            .into_iter()
            .find(|s| s.slug.as_str() == "livability")
            .unwrap();
        assert!(scoring_differences(&base, &base).is_empty());
        let mut raw = base.raw().clone();
        raw.version = 2;
        raw.dimensions[0].weight += 0.05;
        raw.dimensions[5].in_overall = Some(true);
        for section in raw.sections.iter_mut() {
            section.questions.retain(|q| q.id != "safety_food");
            for q in section.questions.iter_mut() {
                if q.id == "safety_night" {
                    q.weight = Some(3.0);
                }
                // A text-only change makes no difference to the indices.
                if q.id == "nature_air" {
                    q.text.en = Some("How satisfied are you with the air?".into());
                }
            }
        }
        let later = Survey::from_raw(raw).unwrap();
        let diffs = scoring_differences(&base, &later);
        let d0 = &base.dimensions[0];
        let d5 = &base.dimensions[5];
        assert_eq!(
            diffs,
            [
                format!("dimension {} weight {} → {}", d0.id, d0.weight, d0.weight + 0.05),
                format!("dimension {} now counts in the overall index", d5.id),
                "item safety_night weight 2 → 3".to_string(),
                "item safety_food removed".to_string(),
            ]
        );
    }
}
