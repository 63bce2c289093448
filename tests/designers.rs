//! Versioned definitions as designers use them from the command line:
//! export, import as a draft, publish, and what happens to the answers of
//! earlier versions. Each test runs the real binary on a fresh database of
//! its own, SQLite or (the PostgreSQL half, see `support::postgres`)
//! PostgreSQL.

mod support;

use civicpulse::account::COMMAND_LINE_ACTOR;
use civicpulse::db::Database;
use civicpulse::survey::raw::{RawQuestion, RawQuestionType, RawSurvey};
use civicpulse::survey::Survey;
use std::path::Path;

#[test]
fn postgres_half() {
    support::postgres::run_postgres_half("designers");
}

/// Run in `cwd` on its database: (success, stdout, stderr).
fn run(args: &[&str], cwd: &Path) -> (bool, String, String) {
    support::civicpulse(cwd, args)
}

/// A fresh folder whose database is set up (`civicpulse migrate`), as a
/// deployment's is before designers export from it: `survey export` and
/// the other commands that only read never set one up themselves.
fn set_up() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&["migrate"], dir.path());
    dir
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let (ok, stdout, stderr) = run(args, cwd);
    assert!(ok, "civicpulse {args:?} failed: {stderr}");
    stdout
}

/// `survey versions`: (version, status) of every stored version.
fn versions(cwd: &Path) -> Vec<(String, String)> {
    ok(&["survey", "versions", "livability"], cwd)
        .lines()
        .map(|l| {
            let mut cells = l.split('\t');
            (cells.next().unwrap().to_string(), cells.next().unwrap().to_string())
        })
        .collect()
}

fn shown_version(cwd: &Path) -> u64 {
    let shown: serde_json::Value = serde_json::from_str(&ok(&["survey", "show", "livability"], cwd)).unwrap();
    shown["version"].as_u64().unwrap()
}

/// The current published version (the built-in v2) as a raw model, for
/// tests to edit into a new file.
fn exported_published(cwd: &Path) -> RawSurvey {
    toml::from_str(&ok(&["survey", "export", "livability"], cwd)).unwrap()
}

fn write_definition(cwd: &Path, name: &str, raw: &RawSurvey) -> String {
    std::fs::write(cwd.join(name), toml::to_string_pretty(raw).unwrap()).unwrap();
    name.to_string()
}

fn question<'a>(raw: &'a mut RawSurvey, id: &str) -> &'a mut RawQuestion {
    raw.sections
        .iter_mut()
        .flat_map(|s| &mut s.questions)
        .find(|q| q.id == id)
        .unwrap()
}

fn audit(cwd: &Path) -> Vec<(String, String, String)> {
    let db = Database::open(&support::database_url(cwd)).unwrap();
    db.audit_log(100)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action, e.detail))
        .collect()
}

#[test]
fn export_then_import_as_a_draft_round_trips_losslessly() {
    let dir = set_up();
    let d = dir.path();
    let v1 = ok(&["survey", "export", "livability"], d);
    assert!(v1.contains("\nversion = 2\n"), "{v1}");
    std::fs::write(d.join("v1.toml"), &v1).unwrap();

    let stdout = ok(&["survey", "import", "v1.toml"], d);
    assert!(stdout.contains("stored livability v3 as a draft"), "{stdout}");
    let draft = ok(&["survey", "export", "livability", "--draft"], d);

    // The same file but for the version line.
    let differing: Vec<(&str, &str)> = v1.lines().zip(draft.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(differing, [("version = 2", "version = 3")]);
    assert_eq!(v1.lines().count(), draft.lines().count());
    assert_eq!(v1.replacen("\nversion = 2\n", "\nversion = 3\n", 1), draft);

    // And the same survey once parsed, apart from its version.
    let first = Survey::from_toml("v1", &v1).unwrap();
    let second = Survey::from_toml("draft", &draft).unwrap();
    assert_eq!(second.version, 3);
    let mut renumbered = second.raw().clone();
    renumbered.version = 2;
    assert_eq!(&renumbered, first.raw());

    // The draft is not served: residents and `survey show` still see v2.
    assert_eq!(shown_version(d), 2);
    assert_eq!(
        versions(d),
        [
            ("v1".into(), "published".into()),
            ("v2".into(), "published".into()),
            ("v3".into(), "draft".into())
        ]
    );
    let list = ok(&["survey", "list"], d);
    assert!(list.contains("v1: 0, v2: 0") && !list.contains("v3"), "{list}");

    // Importing again replaces the draft rather than adding v4.
    ok(&["survey", "import", "v1.toml"], d);
    assert_eq!(versions(d).len(), 3);

    assert!(audit(d).contains(&(
        COMMAND_LINE_ACTOR.to_string(),
        "survey.import".to_string(),
        "livability v3 (draft)".to_string()
    )));
}

#[test]
fn a_draft_missing_a_korean_text_is_stored_but_not_published() {
    let dir = set_up();
    let d = dir.path();
    let mut raw = exported_published(d);
    question(&mut raw, "safety_night").text.ko = None;
    let file = write_definition(d, "no-ko.toml", &raw);

    // A draft may be incomplete...
    ok(&["survey", "import", &file], d);
    // ...but publishing runs the full validation and names the place.
    let (published, _, stderr) = run(&["survey", "publish", "livability"], d);
    assert!(!published);
    assert!(
        stderr.contains(r#"question "safety_night", field "text.ko": missing Korean text"#),
        "{stderr}"
    );
    let (published, _, stderr) = run(&["survey", "import", &file, "--publish"], d);
    assert!(!published);
    assert!(stderr.contains("missing Korean text"), "{stderr}");

    assert_eq!(
        versions(d),
        [
            ("v1".into(), "published".into()),
            ("v2".into(), "published".into()),
            ("v3".into(), "draft".into())
        ]
    );
    assert_eq!(shown_version(d), 2);
    assert!(!audit(d).iter().any(|(_, action, _)| action == "survey.publish"));

    let (found, _, stderr) = run(&["survey", "publish", "nosuch"], d);
    assert!(!found && stderr.contains("no draft"), "{stderr}");
}

#[test]
fn a_changed_type_or_a_lost_option_is_refused_with_the_advice_to_retire_it() {
    let dir = set_up();
    let d = dir.path();
    let mut raw = exported_published(d);
    question(&mut raw, "district").kind = RawQuestionType::MultiChoice;
    let file = write_definition(d, "retyped.toml", &raw);
    let (stored, _, stderr) = run(&["survey", "import", &file], d);
    assert!(!stored);
    assert!(
        stderr.contains(
            r#"question "district": was a single_choice question in version 2 and would become multi_choice"#
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("retire the question") && stderr.contains("add a new one"),
        "{stderr}"
    );

    let mut raw = exported_published(d);
    question(&mut raw, "district")
        .options
        .as_mut()
        .unwrap()
        .retain(|o| o.value != "nanhai");
    let file = write_definition(d, "fewer.toml", &raw);
    let (stored, _, stderr) = run(&["survey", "import", &file, "--publish"], d);
    assert!(!stored);
    assert!(
        stderr.contains(r#"option value "nanhai" of version 2 is gone"#),
        "{stderr}"
    );

    assert_eq!(
        versions(d),
        [("v1".into(), "published".into()), ("v2".into(), "published".into())]
    );
}

/// One interview for v2, answering every required question and the
/// question v3 retires.
fn interview_csv() -> String {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let mut header = vec!["_id".to_string(), "_lang".to_string()];
    let mut row = vec!["r1".to_string(), "ko".to_string()];
    for q in &survey.questions {
        if q.show_if.is_some() || !(q.required || q.id.as_str() == "safety_food") {
            continue;
        }
        header.push(q.id.to_string());
        row.push(match q.id.as_str() {
            "resident_type" => "local".to_string(),
            "safety_food" => "4".to_string(),
            _ => q.kind.options()[0].value.to_string(),
        });
    }
    format!("{}\n{}\n", header.join(","), row.join(","))
}

#[test]
fn a_draft_retiring_one_question_and_adding_another_publishes_as_v3_and_keeps_old_answers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("interviews.csv"), interview_csv()).unwrap();
    ok(&["import", "livability", "interviews.csv"], d);

    let mut raw = exported_published(d);
    let section = raw
        .sections
        .iter_mut()
        .find(|s| s.questions.iter().any(|q| q.id == "safety_food"))
        .unwrap();
    let mut added = section
        .questions
        .iter()
        .find(|q| q.id == "safety_food")
        .unwrap()
        .clone();
    section.questions.retain(|q| q.id != "safety_food");
    added.id = "safety_cycling".into();
    added.text.en = Some("Cycling safety".into());
    section.questions.push(added);
    let file = write_definition(d, "v3.toml", &raw);

    ok(&["survey", "import", &file], d);
    let stdout = ok(
        &[
            "survey",
            "publish",
            "livability",
            "--opens",
            "2027-03-01",
            "--closes",
            "2027-04-30",
        ],
        d,
    );
    assert!(stdout.contains("published livability v3"), "{stdout}");

    assert_eq!(shown_version(d), 3);
    let shown: serde_json::Value = serde_json::from_str(&ok(&["survey", "show", "livability"], d)).unwrap();
    let ids: Vec<&str> = shown["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"safety_cycling") && !ids.contains(&"safety_food"),
        "{ids:?}"
    );
    let listed = ok(&["survey", "versions", "livability"], d);
    assert!(
        listed.contains("v3\tpublished") && listed.contains("opens 2027-03-01\tcloses 2027-04-30"),
        "{listed}"
    );
    // v2 stays as it was and can still be exported.
    assert!(ok(&["survey", "export", "livability", "--version", "2"], d).contains("safety_food"));

    // The v2 response keeps its version and its answer to the retired question.
    let rows: serde_json::Value = serde_json::from_str(&ok(&["export", "livability", "--format", "json"], d)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["version"], 2);
    assert_eq!(rows[0]["answers"]["safety_food"], "4");
    let csv = ok(&["export", "livability", "--format", "csv"], d);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let record = reader.records().next().unwrap().unwrap();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&record[col("safety_food")], "4");
    assert_eq!(&record[col("safety_cycling")], "");
    assert_eq!(&record[col("_version")], "2");

    let log = audit(d);
    let actor = COMMAND_LINE_ACTOR.to_string();
    assert!(log.contains(&(actor.clone(), "survey.import".into(), "livability v3 (draft)".into())));
    assert!(log.contains(&(
        actor,
        "survey.publish".into(),
        "livability v3, opens 2027-03-01, closes 2027-04-30".into()
    )));

    // The built-in v1 and v2 keep loading beside the published v3 on every start.
    assert!(ok(&["survey", "list"], d).contains("v1: 0, v2: 1, v3: 0"));
}
