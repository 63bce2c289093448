//! Every resident-visible text of a definition, by a stable path, and how
//! complete each language is.
//!
//! Designers translate a draft text by text. Tools that rebuild the whole
//! definition from one language's form drop the other languages' texts on
//! save; here an edit names exactly one slot (`questions.safety_night.text`)
//! and one language, and changes nothing else. The walk works on the raw
//! model, so it also serves drafts that do not pass validation yet (which is
//! the point: finding what is missing). A slot exists only where the file
//! has the text at all: an optional `help` that is not written is not a
//! missing translation.
//!
//! Paths, in file order:
//! `title`, `intro`, `thanks`, `scales.{name}.labels[{i}]`,
//! `scales.{name}.dont_know`, `scales.{name}.not_applicable`,
//! `dimensions.{id}.title`, `sections.{id}.title`,
//! `sections.{id}.description`, `questions.{id}.text`, `questions.{id}.help`,
//! `questions.{id}.required_error`,
//! `questions.{id}.low_label`, `questions.{id}.high_label` and
//! `questions.{id}.options.{value}.label`. When a broken draft repeats an
//! id, the path names the first slot; validation reports the repetition.
//!
//! Pure code: no I/O.

use super::raw::{RawSurvey, RawText};
use crate::lang::Lang;
use std::collections::{HashMap, HashSet};

/// One localized text of a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub path: String,
    pub text: RawText,
}

impl Slot {
    /// The text in `lang`, if it is written at all.
    pub fn get(&self, lang: Lang) -> Option<&str> {
        text_in(&self.text, lang).as_deref()
    }

    /// True when `lang` has a text that is not blank (the validation rule).
    pub fn is_filled(&self, lang: Lang) -> bool {
        self.get(lang).is_some_and(|t| !t.trim().is_empty())
    }
}

/// How far one language is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completeness {
    pub lang: Lang,
    pub total: usize,
    pub filled: usize,
    /// Paths of the slots that are absent or blank in this language, in file order.
    pub missing: Vec<String>,
}

impl Completeness {
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// An edit named a slot the definition does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no text at {path:?} in this definition")]
pub struct UnknownPath {
    pub path: String,
}

/// One language's new text for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub path: String,
    pub lang: Lang,
    pub text: String,
}

fn text_in(text: &RawText, lang: Lang) -> &Option<String> {
    match lang {
        Lang::Zh => &text.zh,
        Lang::En => &text.en,
        Lang::Ko => &text.ko,
    }
}

fn text_in_mut(text: &mut RawText, lang: Lang) -> &mut Option<String> {
    match lang {
        Lang::Zh => &mut text.zh,
        Lang::En => &mut text.en,
        Lang::Ko => &mut text.ko,
    }
}

/// Call `visit` with every slot's path and text, in file order. The one
/// walk both listing and editing use, so their paths cannot disagree.
fn walk(raw: &mut RawSurvey, visit: &mut dyn FnMut(String, &mut RawText)) {
    visit("title".into(), &mut raw.title);
    visit("intro".into(), &mut raw.intro);
    visit("thanks".into(), &mut raw.thanks);
    for (name, scale) in &mut raw.scales {
        for (i, label) in scale.labels.iter_mut().enumerate() {
            visit(format!("scales.{name}.labels[{i}]"), label);
        }
        if let Some(dont_know) = &mut scale.dont_know {
            visit(format!("scales.{name}.dont_know"), dont_know);
        }
        if let Some(not_applicable) = &mut scale.not_applicable {
            visit(format!("scales.{name}.not_applicable"), not_applicable);
        }
    }
    for dimension in &mut raw.dimensions {
        visit(format!("dimensions.{}.title", dimension.id), &mut dimension.title);
    }
    for section in &mut raw.sections {
        visit(format!("sections.{}.title", section.id), &mut section.title);
        if let Some(description) = &mut section.description {
            visit(format!("sections.{}.description", section.id), description);
        }
        for q in &mut section.questions {
            let id = &q.id;
            visit(format!("questions.{id}.text"), &mut q.text);
            for (field, text) in [
                ("help", &mut q.help),
                ("required_error", &mut q.required_error),
                ("low_label", &mut q.low_label),
                ("high_label", &mut q.high_label),
            ] {
                if let Some(text) = text {
                    visit(format!("questions.{id}.{field}"), text);
                }
            }
            for option in q.options.iter_mut().flatten() {
                visit(
                    format!("questions.{id}.options.{}.label", option.value),
                    &mut option.label,
                );
            }
        }
    }
}

/// Every localized text of `raw`, in file order.
pub fn slots(raw: &RawSurvey) -> Vec<Slot> {
    // The walk needs `&mut` to serve editing too; a copy keeps this one read-only.
    let mut copy = raw.clone();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    walk(&mut copy, &mut |path, text| {
        if seen.insert(path.clone()) {
            out.push(Slot {
                path,
                text: text.clone(),
            });
        }
    });
    out
}

/// Per language (zh, en, ko): how many slots there are, how many are
/// filled, and which are missing.
pub fn completeness(slots: &[Slot]) -> Vec<Completeness> {
    Lang::ALL
        .iter()
        .map(|&lang| {
            let missing: Vec<String> = slots
                .iter()
                .filter(|s| !s.is_filled(lang))
                .map(|s| s.path.clone())
                .collect();
            Completeness {
                lang,
                total: slots.len(),
                filled: slots.len() - missing.len(),
                missing,
            }
        })
        .collect()
}

/// Set the `lang` text of the slot at `path`, leaving every other text as
/// it was.
pub fn set_text(raw: &mut RawSurvey, path: &str, lang: Lang, text: &str) -> Result<(), UnknownPath> {
    apply(
        raw,
        &[Edit {
            path: path.to_string(),
            lang,
            text: text.to_string(),
        }],
    )
    .map(|_| ())
    .map_err(|mut unknown| unknown.remove(0))
}

/// Apply every edit, or none when any names an unknown path (all of which
/// are returned). A blank text removes that language's text, so it shows
/// as missing; line ends are stored as `\n` whatever the browser sent.
/// Returns how many texts actually changed.
pub fn apply(raw: &mut RawSurvey, edits: &[Edit]) -> Result<usize, Vec<UnknownPath>> {
    let known: HashSet<String> = slots(raw).into_iter().map(|s| s.path).collect();
    let unknown: Vec<UnknownPath> = edits
        .iter()
        .filter(|e| !known.contains(&e.path))
        .map(|e| UnknownPath { path: e.path.clone() })
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    let mut by_path: HashMap<&str, Vec<&Edit>> = HashMap::new();
    for edit in edits {
        by_path.entry(edit.path.as_str()).or_default().push(edit);
    }
    let mut done = HashSet::new();
    let mut changed = 0;
    walk(raw, &mut |path, text| {
        // Only the first slot of a repeated path, as `slots` lists it.
        if !done.insert(path.clone()) {
            return;
        }
        for edit in by_path.get(path.as_str()).into_iter().flatten() {
            let value = edit.text.replace("\r\n", "\n");
            let value = (!value.trim().is_empty()).then_some(value);
            let slot = text_in_mut(text, edit.lang);
            if *slot != value {
                *slot = value;
                changed += 1;
            }
        }
    });
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::raw::RawSurvey;

    const DEF: &str = r#"
slug = "mini"
version = 1
title = { zh = "标题", en = "Title", ko = "제목" }
intro = { zh = "介绍", en = "Intro", ko = "" }
thanks = { zh = "谢谢", en = "Thanks" }

[scales.agree3]
labels = [
  { zh = "不同意", en = "Disagree", ko = "반대" },
  { zh = "一般", en = "Neutral", ko = "보통" },
  { zh = "同意", en = "Agree", ko = "찬성" },
]
dont_know = { zh = "不知道", en = "Don't know", ko = "모름" }

[[dimensions]]
id = "safety"
weight = 1
title = { zh = "安全", en = "Safety", ko = "안전" }

[[sections]]
id = "about"
title = { zh = "关于", en = "About", ko = "소개" }
description = { zh = "说明", en = "Notes", ko = "설명" }

[[sections.questions]]
id = "district"
type = "single_choice"
text = { zh = "区", en = "District", ko = "구" }
help = { zh = "帮助", en = "Help", ko = "도움말" }
options = [
  { value = "huancui", label = { zh = "环翠区", en = "Huancui", ko = "환추이구" } },
  { value = "other", label = { zh = "其他", en = "Other", ko = "기타" } },
]

[[sections.questions]]
id = "overall"
type = "rating"
text = { zh = "总体", en = "Overall", ko = "전반" }
low_label = { zh = "差", en = "Poor", ko = "나쁨" }
high_label = { zh = "好", en = "Good", ko = "좋음" }

[[sections.questions]]
id = "safety_night"
type = "likert"
scale = "agree3"
dimension = "safety"
text = { zh = "夜间安全", en = "Safe at night", ko = "   " }
"#;

    fn raw() -> RawSurvey {
        toml::from_str(DEF).unwrap()
    }

    #[test]
    fn every_kind_of_slot_is_listed_in_file_order() {
        let paths: Vec<String> = slots(&raw()).into_iter().map(|s| s.path).collect();
        assert_eq!(
            paths,
            [
                "title",
                "intro",
                "thanks",
                "scales.agree3.labels[0]",
                "scales.agree3.labels[1]",
                "scales.agree3.labels[2]",
                "scales.agree3.dont_know",
                "dimensions.safety.title",
                "sections.about.title",
                "sections.about.description",
                "questions.district.text",
                "questions.district.help",
                "questions.district.options.huancui.label",
                "questions.district.options.other.label",
                "questions.overall.text",
                "questions.overall.low_label",
                "questions.overall.high_label",
                "questions.safety_night.text",
            ]
        );
        let slots = slots(&raw());
        assert_eq!(slots[3].get(Lang::Ko), Some("반대"));
        assert_eq!(slots[12].get(Lang::En), Some("Huancui"));
    }

    #[test]
    fn empty_blank_and_absent_texts_are_missing() {
        let report = completeness(&slots(&raw()));
        let by = |lang| report.iter().find(|c| c.lang == lang).unwrap().clone();
        let (zh, en, ko) = (by(Lang::Zh), by(Lang::En), by(Lang::Ko));
        assert_eq!((zh.total, zh.filled), (18, 18));
        assert!(zh.is_complete() && en.is_complete());
        assert_eq!((ko.total, ko.filled), (18, 15));
        assert_eq!(ko.missing, ["intro", "thanks", "questions.safety_night.text"]);
        assert!(!ko.is_complete());
    }

    #[test]
    fn setting_one_text_keeps_every_other_text() {
        let before = raw();
        let mut after = before.clone();
        set_text(&mut after, "questions.safety_night.text", Lang::Ko, "밤에 안전함").unwrap();
        set_text(&mut after, "scales.agree3.labels[1]", Lang::En, "Neither").unwrap();
        set_text(&mut after, "questions.district.options.other.label", Lang::Zh, "别的").unwrap();
        let (old, new) = (slots(&before), slots(&after));
        for (o, n) in old.iter().zip(&new) {
            for lang in Lang::ALL {
                let expected = match (n.path.as_str(), lang) {
                    ("questions.safety_night.text", Lang::Ko) => Some("밤에 안전함"),
                    ("scales.agree3.labels[1]", Lang::En) => Some("Neither"),
                    ("questions.district.options.other.label", Lang::Zh) => Some("别的"),
                    _ => o.get(lang),
                };
                assert_eq!(n.get(lang), expected, "{} {lang}", n.path);
            }
        }
        // Nothing but texts changed.
        assert_eq!(after.sections[0].questions[2].scale.as_deref(), Some("agree3"));
    }

    #[test]
    fn blank_edits_remove_the_text_and_line_ends_are_normalised() {
        let mut r = raw();
        let changed = apply(
            &mut r,
            &[
                Edit {
                    path: "title".into(),
                    lang: Lang::En,
                    text: "  ".into(),
                },
                Edit {
                    path: "intro".into(),
                    lang: Lang::Ko,
                    text: "첫 줄\r\n둘째 줄".into(),
                },
                Edit {
                    path: "intro".into(),
                    lang: Lang::Zh,
                    text: "介绍".into(),
                },
            ],
        )
        .unwrap();
        assert_eq!(changed, 2, "the unchanged zh intro does not count");
        assert_eq!(r.title.en, None);
        assert_eq!(r.intro.ko.as_deref(), Some("첫 줄\n둘째 줄"));
    }

    #[test]
    fn unknown_paths_are_refused_and_nothing_changes() {
        let mut r = raw();
        let err = set_text(&mut r, "questions.nope.text", Lang::Ko, "x").unwrap_err();
        assert_eq!(err.path, "questions.nope.text");
        assert!(err.to_string().contains("questions.nope.text"), "{err}");
        // An optional text that is not written is not a slot either.
        assert!(set_text(&mut r, "questions.safety_night.help", Lang::En, "x").is_err());
        let edits = [
            Edit {
                path: "title".into(),
                lang: Lang::Ko,
                text: "새 제목".into(),
            },
            Edit {
                path: "scales.agree3.labels[9]".into(),
                lang: Lang::Ko,
                text: "x".into(),
            },
        ];
        let unknown = apply(&mut r, &edits).unwrap_err();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].path, "scales.agree3.labels[9]");
        assert_eq!(r, raw(), "all or nothing");
    }
}
