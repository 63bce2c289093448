//! Definition rules and answer checking, on small hand-written surveys.

use super::*;

const BASE: &str = r#"
slug = "mini"
version = 2
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

[[dimensions]]
id = "safety"
weight = 0.5
title = { zh = "安全", en = "Safety", ko = "안전" }

[[sections]]
id = "main"
title = { zh = "主要", en = "Main", ko = "주요" }

[[sections.questions]]
id = "kind"
type = "single_choice"
required = true
text = { zh = "类型", en = "Type", ko = "유형" }
options = [
  { value = "local", label = { zh = "本地", en = "Local", ko = "현지" } },
  { value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" } },
]

[[sections.questions]]
id = "night"
type = "likert"
scale = "sat3"
required = true
dimension = "safety"
weight = 2
text = { zh = "夜间", en = "Night", ko = "야간" }

[[sections.questions]]
id = "signs"
type = "likert"
scale = "sat3"
reverse = true
required = true
show_if = { question = "kind", equals = "foreign" }
text = { zh = "标识", en = "Signs", ko = "표지" }

[[sections.questions]]
id = "likes"
type = "multi_choice"
max_choices = 2
text = { zh = "喜欢", en = "Likes", ko = "좋아요" }
options = [
  { value = "sea", label = { zh = "海", en = "Sea", ko = "바다" } },
  { value = "food", label = { zh = "食物", en = "Food", ko = "음식" } },
  { value = "parks", label = { zh = "公园", en = "Parks", ko = "공원" } },
]

[[sections.questions]]
id = "score"
type = "rating"
text = { zh = "评分", en = "Score", ko = "점수" }

[[sections.questions]]
id = "note"
type = "text"
max_length = 5
text = { zh = "建议", en = "Note", ko = "의견" }
"#;

fn survey() -> Survey {
    Survey::from_toml("mini.toml", BASE).unwrap()
}

fn problems(text: &str) -> Vec<String> {
    match Survey::from_toml("bad.toml", text) {
        Ok(_) => panic!("definition should be refused"),
        Err(e) => {
            let issues: Vec<String> = e.issues().iter().map(|i| i.to_string()).collect();
            if issues.is_empty() {
                vec![e.to_string()]
            } else {
                issues
            }
        }
    }
}

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

#[test]
fn a_valid_definition_loads_with_derived_options_and_scores() {
    let s = survey();
    assert_eq!(s.version, 2);
    let night = s.question("night").unwrap();
    let scores: Vec<Option<f64>> = night.kind.options().iter().map(|o| o.score).collect();
    assert_eq!(scores, [Some(0.0), Some(50.0), Some(100.0), None]);
    assert_eq!(night.kind.options()[3].value.as_str(), "dk");
    let signs = s.question("signs").unwrap();
    assert_eq!(signs.kind.options()[0].score, Some(100.0), "reversed scale");
    let score = s.question("score").unwrap();
    assert_eq!(score.kind.options().len(), 11);
    assert_eq!(score.kind.options()[7].score, Some(70.0));
    assert_eq!(s.dimensions[0].id.as_str(), "safety");
    assert_eq!(night.dimension, Some(0));
    assert_eq!(night.weight, 2.0);
}

#[test]
fn the_toml_round_trip_is_lossless() {
    let s = survey();
    let again = Survey::from_toml("again", &s.to_toml()).unwrap();
    assert_eq!(s, again);
    let builtin = builtin_definitions().remove(0);
    assert_eq!(Survey::from_toml("again", &builtin.to_toml()).unwrap(), builtin);
}

#[test]
fn missing_translations_are_named_with_their_place() {
    let p = problems(&BASE.replace(
        r#"text = { zh = "夜间", en = "Night", ko = "야간" }"#,
        r#"text = { zh = "夜间", en = "Night" }"#,
    ));
    assert!(
        has(&p, r#"question "night", field "text.ko": missing Korean text"#),
        "{p:?}"
    );
    let p = problems(&BASE.replace(r#"ko = "잘 모름""#, r#"ko = " ""#));
    assert!(
        has(&p, r#"scale "sat3", field "dont_know.ko": empty Korean text"#),
        "{p:?}"
    );
    let p = problems(&BASE.replace(
        r#"{ value = "sea", label = { zh = "海", en = "Sea", ko = "바다" } }"#,
        r#"{ value = "sea", label = { zh = "海", ko = "바다" } }"#,
    ));
    assert!(has(&p, r#"question "likes", field "options[1].label.en""#), "{p:?}");
}

#[test]
fn ids_weights_dimensions_and_scales_are_checked() {
    let p = problems(&BASE.replace(r#"id = "signs""#, r#"id = "night""#));
    assert!(has(&p, "two questions have this id"), "{p:?}");
    let p = problems(&BASE.replace(r#"id = "note""#, r#"id = "Note!""#));
    assert!(has(&p, "not a valid id"), "{p:?}");
    let p = problems(&BASE.replace("weight = 2\n", "weight = -1\n"));
    assert!(
        has(
            &p,
            r#"question "night", field "weight": weight must be a positive number"#
        ),
        "{p:?}"
    );
    let p = problems(&BASE.replace(r#"dimension = "safety""#, r#"dimension = "safty""#));
    assert!(has(&p, r#"there is no dimension named "safty""#), "{p:?}");
    let p = problems(&BASE.replace(
        r#"scale = "sat3"
required = true
dimension"#,
        r#"scale = "sat5"
required = true
dimension"#,
    ));
    assert!(has(&p, r#"there is no scale named "sat5""#), "{p:?}");
    let p = problems(&BASE.replace(r#"{ value = "food""#, r#"{ value = "sea""#));
    assert!(has(&p, r#"option value "sea" appears twice"#), "{p:?}");
    let p = problems(&BASE.replace("max_choices = 2", "max_choices = 9"));
    assert!(has(&p, "max_choices must be 1 to 3"), "{p:?}");
    let p = problems(&BASE.replace("max_length = 5", "max_length = 5\nmax_choices = 1"));
    assert!(has(&p, "max_choices does not apply to a text question"), "{p:?}");
}

#[test]
fn show_if_must_point_back_to_a_real_option() {
    let p = problems(&BASE.replace(r#"equals = "foreign""#, r#"equals = "martian""#));
    assert!(
        has(
            &p,
            r#"question "signs", field "show_if": "martian" is not an option of question "kind""#
        ),
        "{p:?}"
    );
    let p = problems(&BASE.replace(r#"question = "kind""#, r#"question = "note""#));
    assert!(
        has(&p, r#""note" is not a question that comes earlier in the survey"#),
        "{p:?}"
    );
    let p = problems(&BASE.replace(
        r#"show_if = { question = "kind", equals = "foreign" }"#,
        r#"show_if = { question = "kind" }"#,
    ));
    assert!(has(&p, "exactly one of `equals`"), "{p:?}");
}

#[test]
fn unknown_fields_and_bad_toml_are_refused_with_the_file_name() {
    let p = problems(&BASE.replace("required = true\ndimension", "requried = true\ndimension"));
    assert!(has(&p, "bad.toml") && has(&p, "requried"), "{p:?}");
    let p = problems("slug = ");
    assert!(has(&p, "bad.toml: not a valid survey definition"), "{p:?}");
}

fn raw(pairs: &[(&str, &str)]) -> RawAnswers {
    let mut r = RawAnswers::default();
    for (k, v) in pairs {
        r.push(k, v);
    }
    r
}

#[test]
fn valid_answers_are_typed() {
    let s = survey();
    let a = s
        .validate(&raw(&[
            ("kind", "local"),
            ("night", "dk"),
            ("likes", "parks"),
            ("likes", "sea"),
            ("score", "10"),
            ("note", "  hi\r\n "),
        ]))
        .unwrap();
    assert_eq!(
        a.get("night"),
        Some(&AnswerValue::Choice(OptionValue::parse("dk").unwrap()))
    );
    let likes = vec![OptionValue::parse("sea").unwrap(), OptionValue::parse("parks").unwrap()];
    assert_eq!(a.get("likes"), Some(&AnswerValue::Choices(likes)), "definition order");
    assert_eq!(a.get("note"), Some(&AnswerValue::Text("hi".into())));
    assert_eq!(a.get("signs"), None);
}

#[test]
fn each_answer_rule_is_enforced() {
    let s = survey();
    let errors = s
        .validate(&raw(&[
            ("night", "7"),
            ("likes", "sea"),
            ("likes", "food"),
            ("likes", "parks"),
            ("score", "1"),
            ("score", "2"),
            ("note", "abcdef"),
            ("bogus", "1"),
        ]))
        .unwrap_err();
    let find = |q: &str| errors.iter().find(|e| e.question == q).map(|e| e.problem.clone());
    assert_eq!(find("kind"), Some(AnswerProblem::Required));
    assert_eq!(find("night"), Some(AnswerProblem::NotAnOption { value: "7".into() }));
    assert_eq!(find("likes"), Some(AnswerProblem::TooManyChoices { max: 2 }));
    assert_eq!(find("score"), Some(AnswerProblem::SingleValue));
    assert_eq!(find("note"), Some(AnswerProblem::TooLong { max: 5 }));
    assert_eq!(find("bogus"), Some(AnswerProblem::UnknownQuestion));
    assert_eq!(find("signs"), None, "hidden, so not required");
}

#[test]
fn skip_logic_drops_hidden_answers_and_requires_shown_ones() {
    let s = survey();
    let a = s
        .validate(&raw(&[("kind", "local"), ("night", "1"), ("signs", "2")]))
        .unwrap();
    assert_eq!(a.get("signs"), None, "hidden answer ignored");
    let e = s.validate(&raw(&[("kind", "foreign"), ("night", "1")])).unwrap_err();
    assert_eq!(e[0].question, "signs");
    assert_eq!(e[0].problem, AnswerProblem::Required);
    let a = s
        .validate(&raw(&[("kind", "foreign"), ("night", "1"), ("signs", "2")]))
        .unwrap();
    assert!(a.get("signs").is_some());
}

#[test]
fn control_characters_are_removed_from_text() {
    let s = survey();
    let a = s
        .validate(&raw(&[("kind", "local"), ("night", "1"), ("note", "a\u{0}b\tc")]))
        .unwrap();
    assert_eq!(a.get("note"), Some(&AnswerValue::Text("ab\tc".into())));
}

/// Found by `fuzz/fuzz_targets/form_body.rs` (`note=%14`): a text of
/// control characters was stored as an empty answer (and counted for a
/// required question), and one with blanks behind control characters was
/// stored untrimmed.
#[test]
fn text_of_control_characters_and_blanks_is_no_answer_and_what_is_left_is_trimmed() {
    let s = survey();
    for note in ["\u{14}", "\u{1}\n \u{7f}", " \u{0} "] {
        let a = s
            .validate(&raw(&[("kind", "local"), ("night", "1"), ("note", note)]))
            .unwrap();
        assert_eq!(a.get("note"), None, "{note:?}");
    }
    let a = s
        .validate(&raw(&[
            ("kind", "local"),
            ("night", "1"),
            ("note", "\u{1}\n 中\u{14} "),
        ]))
        .unwrap();
    assert_eq!(a.get("note"), Some(&AnswerValue::Text("中".into())));
    let required = Survey::from_toml(
        "required.toml",
        &BASE.replace("max_length = 5", "max_length = 5\nrequired = true"),
    )
    .unwrap();
    let e = required
        .validate(&raw(&[("kind", "local"), ("night", "1"), ("note", "\u{14}")]))
        .unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].question.as_str(), &e[0].problem),
        ("note", &AnswerProblem::Required)
    );
}

/// BASE with a "does not apply" on the scale, offered by `night`.
fn with_not_applicable() -> String {
    BASE.replace(
        r#"dont_know = { zh = "不了解", en = "Don't know", ko = "잘 모름" }"#,
        r#"dont_know = { zh = "不了解", en = "Don't know", ko = "잘 모름" }
not_applicable = { zh = "不适用", en = "Does not apply to me", ko = "해당 없음" }"#,
    )
    .replacen(
        "scale = \"sat3\"\nrequired = true\ndimension",
        "scale = \"sat3\"\nnot_applicable = true\nrequired = true\ndimension",
        1,
    )
}

#[test]
fn does_not_apply_is_a_missing_option_of_the_questions_that_offer_it() {
    let s = Survey::from_toml("na.toml", &with_not_applicable()).unwrap();
    let night = s.question("night").unwrap();
    let options = night.kind.options();
    let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["1", "2", "3", "dk", "na"]);
    let kinds: Vec<Option<Missing>> = options.iter().map(|o| o.missing).collect();
    assert_eq!(
        kinds,
        [None, None, None, Some(Missing::DontKnow), Some(Missing::NotApplicable)]
    );
    assert_eq!(options[4].label.get(crate::lang::Lang::Ko), "해당 없음");
    assert!(options[3].is_dont_know() && options[4].is_not_applicable());
    // Neither missing option is scored; every scored one is not missing.
    assert!(options.iter().all(|o| o.score.is_some() != o.missing.is_some()));
    // A question on the same scale that does not opt in keeps "don't know" only.
    let signs = s.question("signs").unwrap();
    let values: Vec<&str> = signs.kind.options().iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["1", "2", "3", "dk"]);
    // Both count as missing in the scores, never as 0.
    let scores: Vec<Option<f64>> = options.iter().map(|o| o.score).collect();
    let items = crate::stats::score_codes("night", &[Some(3), Some(4), Some(2)], &scores).unwrap();
    assert!(items.score[0].is_nan() && items.score[1].is_nan());
    assert_eq!(items.score[2], 100.0);
    // Answers accept "na" where it is offered, and only there.
    let errors = s
        .validate(&raw(&[("kind", "foreign"), ("night", "na"), ("signs", "na")]))
        .unwrap_err();
    assert_eq!(
        errors,
        [AnswerError {
            question: "signs".into(),
            problem: AnswerProblem::NotAnOption { value: "na".into() }
        }]
    );
    // The round trip keeps the setting.
    assert_eq!(Survey::from_toml("again", &s.to_toml()).unwrap(), s);
}

#[test]
fn does_not_apply_and_missing_options_are_checked_at_load() {
    // A question opts in, but its scale has no "does not apply".
    let p = problems(&BASE.replacen(
        "scale = \"sat3\"\nrequired = true\ndimension",
        "scale = \"sat3\"\nnot_applicable = true\nrequired = true\ndimension",
        1,
    ));
    assert!(
        has(
            &p,
            r#"question "night", field "not_applicable": scale "sat3" has no not_applicable text"#
        ),
        "{p:?}"
    );
    // Question kinds that cannot offer it.
    let p =
        problems(&with_not_applicable().replace("type = \"rating\"\n", "type = \"rating\"\nnot_applicable = true\n"));
    assert!(
        has(
            &p,
            r#"question "score", field "not_applicable": not_applicable does not apply to a rating question"#
        ),
        "{p:?}"
    );
    let p = problems(&BASE.replace(
        "id = \"kind\"\ntype = \"single_choice\"\n",
        "id = \"kind\"\ntype = \"single_choice\"\nnot_applicable = true\n",
    ));
    assert!(has(&p, r#"missing = "not_applicable"` instead"#), "{p:?}");
    // An unknown kind of missing, or a typo in the setting, is refused by name.
    let p = problems(&BASE.replace(
        r#"{ value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" } }"#,
        r#"{ value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" }, missing = "maybe" }"#,
    ));
    assert!(has(&p, "unknown variant `maybe`"), "{p:?}");
    assert!(has(&p, "dont_know") && has(&p, "not_applicable"), "{p:?}");
    let p = problems(&BASE.replace("reverse = true\n", "reverse = true\nnot_aplicable = true\n"));
    assert!(has(&p, "not_aplicable"), "{p:?}");
    // A missing option with a score, twice the same kind, or in a multi_choice.
    let p = problems(&BASE.replace(
        r#"{ value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" } },"#,
        r#"{ value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" } },
  { value = "none", label = { zh = "无", en = "None", ko = "없음" }, missing = "not_applicable", score = 0 },
  { value = "none2", label = { zh = "无2", en = "None 2", ko = "없음 2" }, missing = "not_applicable" },"#,
    ));
    assert!(
        has(
            &p,
            r#"question "kind", field "options[3].score": a not_applicable option is missing for scoring, so it cannot carry a score"#
        ),
        "{p:?}"
    );
    assert!(
        has(
            &p,
            r#"field "options[4].missing": a question can have only one not_applicable option"#
        ),
        "{p:?}"
    );
    let p = problems(&BASE.replace(
        r#"{ value = "parks", label = { zh = "公园", en = "Parks", ko = "공원" } },"#,
        r#"{ value = "parks", label = { zh = "公园", en = "Parks", ko = "공원" } },
  { value = "na", label = { zh = "不适用", en = "Does not apply", ko = "해당 없음" }, missing = "not_applicable" },"#,
    ));
    assert!(
        has(
            &p,
            r#"question "likes", field "options[4].missing": a multi_choice question cannot have a missing option"#
        ),
        "{p:?}"
    );
    // A single choice may mark a missing option; it is unscored and says its kind.
    let s = Survey::from_toml(
        "ok.toml",
        &BASE.replace(
            r#"{ value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" } },"#,
            r#"{ value = "foreign", label = { zh = "外籍", en = "Foreign", ko = "외국인" } },
  { value = "unsure", label = { zh = "说不清", en = "Not sure", ko = "잘 모름" }, missing = "dont_know" },"#,
        ),
    )
    .unwrap();
    let unsure = s.question("kind").unwrap().option("unsure").unwrap();
    assert_eq!((unsure.missing, unsure.score), (Some(Missing::DontKnow), None));
}

#[test]
fn a_required_question_may_say_what_to_choose() {
    let text = BASE.replace(
        "id = \"kind\"\ntype = \"single_choice\"\nrequired = true\n",
        "id = \"kind\"\ntype = \"single_choice\"\nrequired = true\n\
         required_error = { zh = \"请选择您的居民类型\", en = \"Choose what kind of resident you are\", ko = \"주민 유형을 선택해 주십시오\" }\n",
    );
    let s = Survey::from_toml("ok.toml", &text).unwrap();
    let kind = s.question("kind").unwrap();
    assert_eq!(kind.required_message(crate::lang::Lang::Zh), Some("请选择您的居民类型"));
    assert_eq!(
        kind.required_message(crate::lang::Lang::En),
        Some("Choose what kind of resident you are")
    );
    assert_eq!(
        kind.required_message(crate::lang::Lang::Ko),
        Some("주민 유형을 선택해 주십시오")
    );
    assert_eq!(
        s.question("night").unwrap().required_message(crate::lang::Lang::En),
        None
    );
    assert_eq!(Survey::from_toml("again", &s.to_toml()).unwrap(), s);
    // Checked like every localized text, and only on a required question.
    let p = problems(&text.replace(", ko = \"주민 유형을 선택해 주십시오\"", ""));
    assert!(
        has(&p, r#"question "kind", field "required_error.ko": missing Korean text"#),
        "{p:?}"
    );
    let p = problems(&text.replace(
        "id = \"kind\"\ntype = \"single_choice\"\nrequired = true\n",
        "id = \"kind\"\ntype = \"single_choice\"\n",
    ));
    assert!(
        has(
            &p,
            r#"question "kind", field "required_error": required_error is shown when a required question is left unanswered"#
        ),
        "{p:?}"
    );
}

#[test]
fn every_required_question_of_the_builtin_surveys_says_what_to_choose() {
    for survey in builtin_definitions() {
        for q in survey.questions.iter().filter(|q| q.required) {
            for lang in crate::lang::Lang::ALL {
                assert!(
                    q.required_message(lang).is_some_and(|m| !m.trim().is_empty()),
                    "{} {}: no required_error in {lang}",
                    survey.slug,
                    q.id
                );
            }
        }
    }
}
