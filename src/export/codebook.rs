//! The codebook that goes with an export: every version's questions, answer
//! codes, labels in each language, scores, kinds of missing answer,
//! dimensions and weights, so an analyst can read `responses.csv` without
//! civicpulse. Pure: definitions in, JSON value or Markdown text out.

use super::{CSV_META_COLUMNS, MULTI_SEPARATOR};
use crate::lang::Lang;
use crate::survey::{Localized, Survey};
use serde_json::{json, Value};
use std::fmt::Write;

/// What each reserved column of `responses.csv` holds.
fn meta_column_meaning(column: &str) -> &'static str {
    match column {
        "_id" => "respondent id (unique within a wave)",
        "_submitted_at" => "time the response was stored (UTC, RFC 3339)",
        "_lang" => "language the resident answered in (zh, en, ko)",
        "_version" => "questionnaire version the response answers",
        "_wave" => "wave (fieldwork year) of the response",
        "_weight" => {
            "design weight of the response when its source is analysed (docs/statistics.md §3): an \
             interview's imported weight; N_h / r_h from the wave's sampling frame for an invited response \
             (r_h: invited responses of its stratum) and for an open-link answer in a wave with a frame \
             (r_h: open-link answers naming its stratum); 1 for an open-link answer in a wave without a \
             frame; empty when the analysis has none (a stratum outside the frame, or no answer to the \
             stratum question). Computed without exclusions: leaving responses out of a frame's stratum \
             changes r_h, so recompute N_h / r_h (N_h = _weight × r_h) after excluding"
        }
        "_stratum" => {
            "stratum: an interview's imported stratum, an invited response's invitation stratum, an \
             open-link answer's answer to the stratum question in a wave with a frame; empty: one stratum"
        }
        "_cluster" => "primary sampling unit (imported interviews; nested in strata); empty: the respondent is its own",
        "_source" => {
            "how the response came in, as --source names it: web (the open link), invited (with an \
             invitation code) or import:BATCH (interview data, by import batch); an analysis uses the \
             wave's imports if it has any, else its invited responses, else its open-link answers"
        }
        "_flag_speeder" => "1: finished in under a third of the wave's median completion time (docs/statistics.md §7)",
        "_flag_straightliner" => "1: the same answer throughout a block of at least 8 rating questions",
        "_flag_burst" => "1: one of at least 5 identical open-link responses within 10 minutes",
        _ => "",
    }
}

fn localized(text: &Localized) -> Value {
    json!({ "zh": text.get(Lang::Zh), "en": text.get(Lang::En), "ko": text.get(Lang::Ko) })
}

/// The codebook of `versions` (oldest first) as JSON.
pub fn codebook_json(slug: &str, versions: &[&Survey]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|survey| {
            let dimensions: Vec<Value> = survey
                .dimensions
                .iter()
                .map(|d| json!({ "id": d.id.as_str(), "weight": d.weight, "in_overall": d.in_overall, "title": localized(&d.title) }))
                .collect();
            let questions: Vec<Value> = survey
                .questions
                .iter()
                .map(|q| {
                    let options: Vec<Value> = q
                        .kind
                        .options()
                        .iter()
                        .map(|o| json!({ "code": o.value.as_str(), "label": localized(&o.label), "score": o.score, "missing": o.missing.map(|m| m.as_str()) }))
                        .collect();
                    json!({
                        "id": q.id.as_str(),
                        "section": survey.sections[q.section].id.as_str(),
                        "type": q.kind.type_name(),
                        "required": q.required,
                        "dimension": q.dimension.map(|d| survey.dimensions[d].id.as_str()),
                        "weight": q.weight,
                        "text": localized(&q.text),
                        "asked_if": q.show_if.as_ref().map(|rule| json!({
                            "question": survey.questions[rule.question].id.as_str(),
                            "answer_in": rule.values.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
                        })),
                        "options": options,
                    })
                })
                .collect();
            json!({
                "version": survey.version,
                "title": localized(&survey.title),
                "dimensions": dimensions,
                "questions": questions,
            })
        })
        .collect();
    let columns: Vec<Value> = CSV_META_COLUMNS
        .iter()
        .map(|c| json!({ "name": c, "meaning": meta_column_meaning(c) }))
        .collect();
    json!({
        "survey": slug,
        "languages": Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>(),
        "reserved_columns": columns,
        "multi_choice_separator": MULTI_SEPARATOR.to_string(),
        "versions": versions,
    })
}

/// A Markdown cell: one line, with `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The codebook of `versions` (oldest first) as Markdown, for people.
pub fn codebook_markdown(slug: &str, versions: &[&Survey]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Codebook: {slug}\n");
    md.push_str("Columns of `responses.csv` before the questions:\n\n| column | meaning |\n| --- | --- |\n");
    for c in CSV_META_COLUMNS {
        let _ = writeln!(md, "| `{c}` | {} |", meta_column_meaning(c));
    }
    let _ = writeln!(
        md,
        "\nMulti-choice answers are joined with `{MULTI_SEPARATOR}`. A missing answer (\"dont_know\", \
         \"not_applicable\") is never scored. A cell that a spreadsheet would take for a formula (it \
         starts with `=`, `+`, `-`, `@`, a tab, a CR or `'`) has a `'` put in front of it.\n\n\
         `load.R` and `load.do` read `responses.csv`, apply the value labels, declare the design \
         (`_weight`, `_stratum`, `_cluster`) and print the overall index of one wave with its confidence \
         interval, as civicpulse computes it (docs/statistics.md §1–§4). Data-quality flags are columns, \
         never exclusions: `civicpulse indices --exclude-flagged` leaves flagged responses out, and so \
         can you.\n"
    );
    for survey in versions.iter().rev() {
        let _ = writeln!(
            md,
            "## Version {}: {}\n",
            survey.version,
            cell(survey.title.get(Lang::En))
        );
        md.push_str("| dimension | weight | in overall index | title |\n| --- | --- | --- | --- |\n");
        for d in &survey.dimensions {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                d.id.as_str(),
                d.weight,
                if d.in_overall { "yes" } else { "no" },
                cell(d.title.get(Lang::En))
            );
        }
        md.push('\n');
        for q in &survey.questions {
            let _ = writeln!(md, "### `{}` ({})\n", q.id.as_str(), q.kind.type_name());
            for lang in Lang::ALL {
                let _ = writeln!(md, "- {}: {}", lang.code(), cell(q.text.get(lang)));
            }
            let dimension = q.dimension.map_or("none".to_string(), |d| {
                format!("`{}`, item weight {}", survey.dimensions[d].id.as_str(), q.weight)
            });
            let _ = writeln!(
                md,
                "- required: {}; dimension: {dimension}",
                if q.required { "yes" } else { "no" }
            );
            if let Some(rule) = &q.show_if {
                let values: Vec<&str> = rule.values.iter().map(|v| v.as_str()).collect();
                let _ = writeln!(
                    md,
                    "- asked only if `{}` is {}",
                    survey.questions[rule.question].id.as_str(),
                    values.join(" or ")
                );
            }
            let options = q.kind.options();
            if !options.is_empty() {
                md.push_str("\n| code | score | missing | zh | en | ko |\n| --- | --- | --- | --- | --- | --- |\n");
                for o in options {
                    let _ = writeln!(
                        md,
                        "| `{}` | {} | {} | {} | {} | {} |",
                        o.value.as_str(),
                        o.score.map_or(String::new(), |s| s.to_string()),
                        o.missing.map_or("", |m| m.as_str()),
                        cell(o.label.get(Lang::Zh)),
                        cell(o.label.get(Lang::En)),
                        cell(o.label.get(Lang::Ko))
                    );
                }
            }
            md.push('\n');
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codebook_names_every_question_code_score_and_kind_of_missing() {
        let surveys = crate::survey::builtin_definitions();
        let survey = &surveys[0];
        let book = codebook_json("livability", &[survey]);
        let version = &book["versions"][0];
        assert_eq!(version["version"], survey.version);
        assert_eq!(version["questions"].as_array().unwrap().len(), survey.questions.len());
        let school = version["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == "conv_school")
            .unwrap();
        let codes: Vec<&str> = school["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["1", "2", "3", "4", "5", "dk", "na"]);
        assert_eq!(school["options"][0]["score"], 0.0);
        assert_eq!(school["options"][4]["score"], 100.0);
        assert_eq!(school["options"][5]["missing"], "dont_know");
        assert_eq!(school["options"][6]["missing"], "not_applicable");
        assert_eq!(school["options"][6]["score"], Value::Null);
        assert_eq!(
            book["reserved_columns"].as_array().unwrap().len(),
            CSV_META_COLUMNS.len()
        );
        let weights: f64 = version["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["in_overall"] == true)
            .map(|d| d["weight"].as_f64().unwrap())
            .sum();
        assert!((weights - 1.0).abs() < 1e-12);

        let md = codebook_markdown("livability", &[survey]);
        assert!(md.contains("### `conv_school` (likert)"));
        assert!(md.contains("| `na` |  | not_applicable |"));
        assert!(md.contains("- ko: "));
        for q in &survey.questions {
            assert!(md.contains(&format!("### `{}`", q.id.as_str())), "{}", q.id.as_str());
        }
    }
}
