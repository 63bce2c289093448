//! Properties that must hold for any data, checked on data drawn at random
//! (proptest), through the real storage on a temporary SQLite file:
//!
//! - any sequence of submissions gives the indices recomputed from its
//!   export (the export imported into a fresh database);
//! - an import followed by an export gives back the same data;
//! - a definition written out and read back is the same definition.

use civicpulse::db::{DatabaseUrl, NewResponse, Submission};
use civicpulse::export::ExportFormat;
use civicpulse::import::ImportOptions;
use civicpulse::lang::Lang;
use civicpulse::registry::SurveyRegistry;
use civicpulse::survey::{QuestionKind, RawAnswers, Survey};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn open(dir: &std::path::Path, name: &str) -> (civicpulse::db::Database, SurveyRegistry) {
    let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.join(name).display())).unwrap();
    civicpulse::registry::open(&url, None).expect("database opens")
}

fn livability() -> Survey {
    civicpulse::survey::builtin_definitions()
        .into_iter()
        .find(|s| s.slug.as_str() == "livability")
        .unwrap()
}

/// Free text as residents type it: any script, quotes, commas, line
/// breaks, and cells a spreadsheet would take for formulas.
fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9 ,.;\"'\\n]{1,30}",
        "[=+@\\-\t][a-z0-9()\" ]{0,20}",
        "[\u{4e00}-\u{4e40}\u{ac00}-\u{ac40} ]{1,20}",
        "'[=+\\-@]?[a-z]{0,8}",
    ]
}

/// One resident's answers: for each question, an option index (taken
/// modulo its options) or none, and a free text.
fn answers() -> impl Strategy<Value = (Vec<Option<u8>>, String)> {
    (
        proptest::collection::vec(proptest::option::weighted(0.9, any::<u8>()), 64),
        free_text(),
    )
}

/// The raw form of `picks` for `survey`: every shown question answered
/// when required, optional ones when picked.
fn raw_answers(survey: &Survey, picks: &[Option<u8>], text: &str) -> RawAnswers {
    let mut raw = RawAnswers::default();
    for (i, q) in survey.questions.iter().enumerate() {
        if q.show_if.is_some() && !survey.is_shown_raw(q, &raw) {
            continue;
        }
        match &q.kind {
            QuestionKind::Text { .. } => raw.push(q.id.as_str(), text),
            kind => {
                let options = kind.options();
                let pick = picks.get(i).copied().flatten().or(q.required.then_some(0));
                if let (Some(pick), false) = (pick, options.is_empty()) {
                    raw.push(q.id.as_str(), options[pick as usize % options.len()].value.as_str());
                }
            }
        }
    }
    raw
}

/// The index CSV without the columns that name where the data came from
/// (sources, import batches), which differ by design.
fn figures(db: &civicpulse::db::Database, registry: &SurveyRegistry) -> Vec<String> {
    let options = civicpulse::analysis::IndexOptions {
        min_cell: 1,
        weights: civicpulse::analysis::Weights::None,
        ..Default::default()
    };
    let report = civicpulse::analysis::indices(db, registry, "livability", &options).expect("indices");
    let mut csv = Vec::new();
    civicpulse::analysis::write_index_csv(&report, &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .filter(|(name, _)| !matches!(*name, "sources" | "import_batches"))
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn export_csv(db: &civicpulse::db::Database, registry: &SurveyRegistry) -> String {
    let mut out = Vec::new();
    civicpulse::export::export(db, registry, "livability", None, ExportFormat::Csv, &mut out).expect("export");
    String::from_utf8(out).unwrap()
}

fn import(db: &civicpulse::db::Database, registry: &SurveyRegistry, name: &str, csv: &str, wave: Option<i32>) {
    let options = ImportOptions {
        wave,
        ..Default::default()
    };
    civicpulse::import::import_csv(db, registry, "livability", name, csv.as_bytes(), &options, "test")
        .unwrap_or_else(|e| panic!("import of {name}: {e}\n{csv}"));
}

proptest! {
    #![proptest_config(Config { cases: 12, failure_persistence: None, ..Config::default() })]

    #[test]
    fn submissions_give_the_indices_recomputed_from_their_export(
        residents in proptest::collection::vec((answers(), 0usize..3), 2..12)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (db, registry) = open(dir.path(), "submitted.db");
        let stored = registry.latest("livability").unwrap();
        let survey = &stored.survey;
        let wave = 2026;
        for (k, ((picks, text), lang)) in residents.iter().enumerate() {
            let answers = survey.validate(&raw_answers(survey, picks, text)).expect("valid answers");
            let codes = survey.choice_codes(&answers);
            let token = format!("form-{k}");
            let inserted = db.submit_partial(None, &NewResponse {
                version_id: stored.version_id,
                slug: "livability",
                wave,
                lang: Lang::ALL[*lang],
                submitted_at: time::OffsetDateTime::now_utc(),
                duration_seconds: Some(300),
                answers: &answers,
                choice_codes: &codes,
                straightliner: false,
                how: Submission::Web { form_token: &token },
            }).unwrap();
            prop_assert!(matches!(inserted, civicpulse::db::Inserted::New(_)));
        }
        let submitted = figures(&db, &registry);
        let export = export_csv(&db, &registry);
        let (again, again_registry) = open(dir.path(), "from-export.db");
        import(&again, &again_registry, "export.csv", &export, None);
        prop_assert_eq!(figures(&again, &again_registry), submitted);
    }

    #[test]
    fn an_import_exports_the_same_data(
        rows in proptest::collection::vec((answers(), 1u32..100_000, 0usize..3, 0usize..4), 1..15)
    ) {
        let survey = livability();
        let columns: Vec<&civicpulse::survey::Question> = survey.questions.iter().collect();
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["_id".to_string(), "_weight".into(), "_stratum".into(), "_cluster".into()];
        header.extend(columns.iter().map(|q| q.id.as_str().to_string()));
        writer.write_record(&header).unwrap();
        let mut expected = Vec::new();
        for (i, ((picks, text), weight, stratum, cluster)) in rows.iter().enumerate() {
            let raw = raw_answers(&survey, picks, text);
            let weight = format!("{}.{:02}", weight / 100, weight % 100);
            let stratum = ["huancui", "wendeng", "rongcheng"][*stratum];
            // Clusters are nested in strata.
            let mut record = vec![format!("r{i}"), weight, stratum.to_string(), format!("{stratum}-c{cluster}")];
            for q in &columns {
                // What the file says: written neutralised, as our own
                // exports are, so that the importer restores it. The
                // importer trims a cell's surrounding spaces (spreadsheets
                // pad them), so the file holds the text without them.
                let value = raw.values(q.id.as_str()).first().cloned().unwrap_or_default();
                record.push(civicpulse::spreadsheet::neutralise_formula(value.trim()).into_owned());
            }
            writer.write_record(&record).unwrap();
            expected.push(record);
        }
        let csv = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (db, registry) = open(dir.path(), "imported.db");
        import(&db, &registry, "interviews.csv", &csv, Some(2026));
        let exported = export_csv(&db, &registry);
        let mut reader = csv::Reader::from_reader(exported.as_bytes());
        let out_header = reader.headers().unwrap().clone();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        prop_assert_eq!(records.len(), expected.len());
        for (want, got) in expected.iter().zip(&records) {
            for (name, value) in header.iter().zip(want) {
                let at = out_header.iter().position(|h| h == name).expect("exported column");
                let got_value = &got[at];
                if name == "_weight" {
                    prop_assert_eq!(got_value.parse::<f64>().unwrap(), value.parse::<f64>().unwrap());
                } else {
                    prop_assert_eq!(got_value, value.as_str(), "{} of {}", name, &want[0]);
                }
            }
        }
        // And the export imports back to itself.
        let (again, again_registry) = open(dir.path(), "again.db");
        import(&again, &again_registry, "export.csv", &exported, None);
        prop_assert_eq!(export_csv(&again, &again_registry).lines().count(), exported.lines().count());
    }
}

/// A designer's text: any script, quotes, backslashes, TOML and markup
/// characters, line breaks; never blank (the definition rules refuse that).
fn designer_text() -> impl Strategy<Value = String> {
    "[a-zA-Z\u{4e00}-\u{4e20}\u{ac00}-\u{ac20}][a-zA-Z0-9 \"'\\\\{}\\[\\]#=<>&\\n\u{4e00}-\u{4e20}]{0,40}"
}

proptest! {
    #![proptest_config(Config { cases: 48, failure_persistence: None, ..Config::default() })]

    #[test]
    fn a_definition_written_out_reads_back_the_same(texts in proptest::collection::vec(designer_text(), 400)) {
        let mut raw = livability().raw().clone();
        let mut texts = texts.into_iter().cycle();
        let mut set = |t: &mut civicpulse::survey::raw::RawText| {
            t.zh = texts.next();
            t.en = texts.next();
            t.ko = texts.next();
        };
        set(&mut raw.title);
        set(&mut raw.intro);
        set(&mut raw.thanks);
        for section in &mut raw.sections {
            set(&mut section.title);
            for question in &mut section.questions {
                set(&mut question.text);
                question.help.iter_mut().for_each(&mut set);
                for option in question.options.iter_mut().flatten() {
                    set(&mut option.label);
                }
            }
        }
        let survey = match Survey::from_raw(raw) {
            Ok(survey) => survey,
            Err(issues) => {
                // Only texts the rules refuse (e.g. too long) may stop it.
                return Err(TestCaseError::reject(format!("{issues:?}")));
            }
        };
        let written = survey.to_toml();
        let read = Survey::from_toml("written.toml", &written).expect("reads back");
        prop_assert_eq!(&read, &survey);
        prop_assert_eq!(read.to_toml(), written);
    }
}
