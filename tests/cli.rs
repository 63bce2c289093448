//! The `civicpulse` binary as operators and statisticians use it, on
//! SQLite and (the PostgreSQL half, see `support::postgres`) on PostgreSQL.

mod support;

use civicpulse::db::DatabaseUrl;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The binary with no database of the environment's: each test says which.
fn civicpulse() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_civicpulse"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("CIVICPULSE_KEY_FILE")
        .env("RUST_LOG", "warn");
    cmd
}

/// `civicpulse ARGS` in `cwd`, on the database of `cwd` (see
/// `support::database_url`).
fn run(args: &[&str], cwd: &Path) -> (bool, String, String) {
    support::civicpulse(cwd, args)
}

#[test]
fn postgres_half() {
    support::postgres::run_postgres_half("cli");
}

const BROKEN: &str = r#"
slug = "broken"
version = 1
title = { zh = "标题", en = "Title", ko = "제목" }
intro = { zh = "介绍", en = "Intro" }
thanks = { zh = "谢谢", en = "Thanks", ko = "감사합니다" }

[[sections]]
id = "main"
title = { zh = "主要", en = "Main", ko = "주요" }

[[sections.questions]]
id = "later_dependent"
type = "single_choice"
text = { zh = "问", en = "Q", ko = "질문" }
options = [{ value = "a", label = { zh = "甲", en = "A", ko = "가" } }]
show_if = { question = "district", equals = "nowhere" }

[[sections.questions]]
id = "district"
type = "single_choice"
requried = true
text = { zh = "区", en = "District", ko = "구" }
options = [{ value = "x", label = { zh = "x", en = "x", ko = "x" } }]
"#;

#[test]
fn validate_accepts_the_built_in_survey_and_names_every_problem_of_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let (ok, stdout, _) = run(
        &["validate", &format!("{root}/survey-defs/livability.toml")],
        dir.path(),
    );
    assert!(ok);
    assert!(stdout.contains("ok (livability v2"));

    // A typo'd field is a syntax error that names the field and line.
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, BROKEN).unwrap();
    let (ok, _, stderr) = run(&["validate", typo.to_str().unwrap()], dir.path());
    assert!(!ok);
    assert!(stderr.contains("typo.toml") && stderr.contains("requried"), "{stderr}");

    // Without the typo: the missing Korean intro and the forward show_if are both reported.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, BROKEN.replace("requried", "required")).unwrap();
    let (ok, _, stderr) = run(&["validate", broken.to_str().unwrap()], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("broken.toml: survey, field \"intro.ko\": missing Korean text"),
        "{stderr}"
    );
    assert!(
        stderr.contains("question \"later_dependent\", field \"show_if.question\""),
        "{stderr}"
    );
}

#[test]
fn survey_show_prints_the_published_definition() {
    let dir = tempfile::tempdir().unwrap();
    // `survey show` only reads: the database is set up first.
    let (ok, _, stderr) = run(&["migrate"], dir.path());
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = run(&["survey", "show", "livability", "--format", "json"], dir.path());
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["slug"], "livability");
    assert_eq!(v["version"], 2);
    assert_eq!(v["languages"], serde_json::json!(["zh", "en", "ko"]));
    let dims: Vec<&str> = v["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    for d in ["safety", "convenience", "nature", "culture", "mobility"] {
        assert!(dims.contains(&d), "dimension {d}");
    }
    let questions = v["questions"].as_array().unwrap();
    let district = questions.iter().find(|q| q["id"] == "district").unwrap();
    assert_eq!(district["type"], "single_choice");
    assert_eq!(district["dimension"], serde_json::Value::Null);
    let values: Vec<&str> = district["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "huancui",
            "wendeng",
            "rongcheng",
            "rushan",
            "gaoqu",
            "jingqu",
            "lingang",
            "nanhai"
        ]
    );
    assert_eq!(district["options"][0]["label"]["zh"], "环翠区");
    let night = questions.iter().find(|q| q["id"] == "safety_night").unwrap();
    assert_eq!(night["dimension"], "safety");
    assert_eq!(night["weight"], 2.0);
    let scores: Vec<serde_json::Value> = night["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["score"].clone())
        .collect();
    assert_eq!(
        scores,
        serde_json::json!([0.0, 25.0, 50.0, 75.0, 100.0, null])
            .as_array()
            .unwrap()
            .clone()
    );
    let foreign = questions.iter().find(|q| q["id"] == "foreign_services").unwrap();
    assert_eq!(foreign["show_if"]["question"], "resident_type");
    for q in questions {
        for lang in ["zh", "en", "ko"] {
            assert!(!q["text"][lang].as_str().unwrap().is_empty());
        }
    }
    let (ok, _, stderr) = run(&["survey", "show", "nope"], dir.path());
    assert!(!ok && stderr.contains("no survey named \"nope\""), "{stderr}");
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(&["survey", "list", "--database", "mysql://x/y"], dir.path());
    assert!(!ok && stderr.contains("unknown database URL scheme"), "{stderr}");
    // A command that reads wants an existing file; one that sets the
    // database up, an existing folder to make it in.
    let (ok, _, stderr) = run(&["survey", "list", "--database", "/no/such/folder/x.db"], dir.path());
    assert!(!ok && stderr.contains("there is no database file there"), "{stderr}");
    let (ok, _, stderr) = run(&["migrate", "--database", "/no/such/folder/x.db"], dir.path());
    assert!(
        !ok && stderr.contains("the folder /no/such/folder does not exist"),
        "{stderr}"
    );
}

/// The server as a child process; killed with SIGKILL on drop.
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(db: &DatabaseUrl, cwd: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = civicpulse()
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database",
            &db.connection_string(),
            "--workers",
            "1",
        ])
        .current_dir(cwd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    // The server announces itself on stderr once it listens.
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if line.contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        address: format!("http://127.0.0.1:{port}"),
    }
}

fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let start = html[..at].rfind('<').unwrap();
    let tag = &html[start..at + html[at..].find('>').unwrap()];
    let v = tag.find("value=\"").unwrap() + 7;
    tag[v..v + tag[v..].find('"').unwrap()].to_string()
}

async fn submit_one(client: &reqwest::Client, address: &str, lang: &str, district: &str) {
    let html = client
        .get(format!("{address}/s/livability?lang={lang}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let mut pairs = vec![
        ("_csrf".to_string(), hidden(&html, "_csrf")),
        ("_form".to_string(), hidden(&html, "_form")),
        ("_lang".to_string(), lang.to_string()),
    ];
    for q in &survey.questions {
        if !q.required || q.show_if.is_some() {
            continue;
        }
        let value = match q.id.as_str() {
            "district" => district.to_string(),
            "resident_type" => "local".to_string(),
            _ => q.kind.options()[0].value.to_string(),
        };
        pairs.push((q.id.to_string(), value));
    }
    pairs.push(("suggestions".into(), "line one\nline \"two\", with comma".into()));
    let response = client
        .post(format!("{address}/s/livability"))
        .form(&pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn responses_survive_kill_9_and_export_as_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::database_url(dir.path());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    {
        let server = start_server(&db, dir.path());
        submit_one(&client, &server.address, "zh", "huancui").await;
        submit_one(&client, &server.address, "en", "wendeng").await;
        submit_one(&client, &server.address, "ko", "nanhai").await;
        // Dropping the server sends SIGKILL: no shutdown, no checkpoint.
    }
    // Named with --database (as a URL: sqlite://PATH on SQLite) from another folder.
    let elsewhere = tempfile::tempdir().unwrap();
    let db_arg = db.connection_string();
    let (ok, stdout, stderr) = run(
        &["export", "livability", "--format", "json", "--database", &db_arg],
        elsewhere.path(),
    );
    assert!(ok, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "every thanked response survived");
    assert_eq!(rows[0]["lang"], "zh");
    assert_eq!(rows[2]["answers"]["district"], "nanhai");
    assert_eq!(rows[1]["answers"]["suggestions"], "line one\nline \"two\", with comma");
    assert!(rows[0]["id"].is_string() && rows[0]["submitted_at"].is_string());

    // The other folder's own database, set up but empty, is not the server's.
    let (ok, _, stderr) = run(&["migrate"], elsewhere.path());
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = run(&["export", "livability", "--format", "csv"], elsewhere.path());
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        1,
        "the other folder's database is empty: header only"
    );
    // Named with DATABASE_URL.
    let out = civicpulse()
        .args(["export", "livability", "--format", "csv"])
        .env("DATABASE_URL", &db_arg)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with(
            "_id,_submitted_at,_lang,_version,_wave,_weight,_stratum,_cluster,_source,_flag_speeder,\
             _flag_straightliner,_flag_burst,district,sex,age_group"
        ),
        "{header}"
    );
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&records[1][col("district")], "wendeng");
    assert_eq!(&records[1][col("_lang")], "en");
    assert_eq!(&records[0][col("suggestions")], "line one\nline \"two\", with comma");
    assert_eq!(&records[0][col("foreign_services")], "", "hidden question: empty cell");
    // Open-link answers of a wave without a sampling frame weigh 1, in one
    // stratum, each its own PSU (docs/statistics.md §3.2).
    for record in &records {
        assert_eq!(
            (
                &record[col("_weight")],
                &record[col("_stratum")],
                &record[col("_cluster")]
            ),
            ("1", "", "")
        );
        assert_eq!(&record[col("_source")], "web");
        assert_eq!(&record[col("_flag_burst")], "0");
    }
}

#[test]
fn a_wave_is_set_up_framed_and_invited_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("frame.csv"),
        "stratum,population\nhuancui,620000\nwendeng,480000\n",
    )
    .unwrap();
    // A frame for a stratum the survey does not have is refused, naming it.
    std::fs::write(path.join("bad-frame.csv"), "stratum,population\natlantis,5\n").unwrap();
    let (ok, _, stderr) = run(&["frame", "set", "livability", "bad-frame.csv", "--wave", "2026"], path);
    assert!(
        !ok && stderr.contains("row 2: \"atlantis\" is not an answer"),
        "{stderr}"
    );

    let (ok, _, stderr) = run(&["frame", "set", "livability", "frame.csv", "--wave", "2026"], path);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("by invitation only"), "{stderr}");
    // Letters need dates and a helpline: no code is issued without them.
    std::fs::create_dir(path.join("out")).unwrap();
    let create = [
        "invitations",
        "create",
        "livability",
        "--wave",
        "2026",
        "--stratum",
        "huancui",
        "--count",
        "3",
        "--out-dir",
        "out",
        "--public-url",
        "https://survey.example.gov.cn/",
    ];
    let (ok, _, stderr) = run(&create, path);
    assert!(!ok && stderr.contains("when the survey opens and closes"), "{stderr}");
    let (ok, stdout, stderr) = run(&["invitations", "list", "livability"], path);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "no batch: {stdout}");
    let (ok, stdout, stderr) = run(
        &[
            "wave",
            "set",
            "livability",
            "--wave",
            "2026",
            "--opens",
            "2026-11-01",
            "--closes",
            "2026-11-30",
            "--helpline",
            "12345",
        ],
        path,
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("access invitation") && stdout.contains("closes 2026-11-30"),
        "{stdout}"
    );

    let (ok, stdout, stderr) = run(&create, path);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("batch 1: 3 invitations for huancui"), "{stdout}");
    let csv = std::fs::read_to_string(path.join("out/livability-2026-huancui-batch1.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0], "code,stratum,url");
    assert!(
        rows[1].contains(",huancui,https://survey.example.gov.cn/s/livability?code="),
        "{}",
        rows[1]
    );
    let letters = std::fs::read_to_string(path.join("out/livability-2026-huancui-batch1-letters.html")).unwrap();
    assert_eq!(letters.matches("<section class=\"letter\"").count(), 3);
    assert!(letters.contains("2026-11-01") && letters.contains("12345"));
    assert!(letters.contains("<style>"), "self-contained: prints from disk");

    // The batch prints again identically; with another key file it cannot.
    std::fs::create_dir(path.join("again")).unwrap();
    let (ok, _, stderr) = run(
        &[
            "invitations",
            "export",
            "livability",
            "--batch",
            "1",
            "--out-dir",
            "again",
            "--public-url",
            "https://survey.example.gov.cn",
        ],
        path,
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(path.join("again/livability-2026-huancui-batch1.csv")).unwrap(),
        csv
    );
    let (ok, _, stderr) = run(
        &[
            "invitations",
            "export",
            "livability",
            "--batch",
            "1",
            "--key-file",
            "other.key",
        ],
        path,
    );
    assert!(!ok && stderr.contains("other.key is missing"), "{stderr}");

    let (ok, stdout, stderr) = run(&["invitations", "list", "livability"], path);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("1\t2026\thuancui\t3\t0\t"), "{stdout}");
    let (ok, stdout, stderr) = run(&["fieldwork", "livability", "--wave", "2026", "--format", "csv"], path);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("stratum,population,invited,completed,response_rate_rr1"),
        "{stdout}"
    );
    assert!(stdout.contains("huancui,620000,3,0,0,,0,\n"), "{stdout}");
    assert!(stdout.contains("wendeng,480000,0,0,,,0,\n"), "{stdout}");
    let (ok, stdout, stderr) = run(&["fieldwork", "livability", "--wave", "2026"], path);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["access"], "invitation");
    assert_eq!(report["response_rate_definition"], "AAPOR RR1 = completed / invited");
    // The key file sits beside the database, readable by its owner only.
    let key = path.join("civicpulse.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

/// "Don't know" and "does not apply" through the real binary: imported,
/// missing for the score, counted apart per item and group, and each an
/// answer share of its own in the distributions (JSON and CSV).
#[test]
fn dont_know_and_does_not_apply_are_counted_apart_and_never_scored() {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let school = survey.question("conv_school").unwrap();
    let values: Vec<&str> = school.kind.options().iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["1", "2", "3", "4", "5", "dk", "na"]);
    // Ten residents in two districts. conv_school: huancui answers 5, 5,
    // dk, na, na; wendeng answers 1, na, na, na, dk.
    let school_answers = ["5", "5", "dk", "na", "na", "1", "na", "na", "na", "dk"];
    let csv = required_answers_csv(&survey, &[], 10, |i, q| match q {
        "conv_school" => Some(school_answers[i].to_string()),
        "district" => Some((if i < 5 { "huancui" } else { "wendeng" }).to_string()),
        _ => None,
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("na.csv"), csv).unwrap();
    let (ok, _, stderr) = run(&["import", "livability", "na.csv", "--wave", "2026"], d);
    assert!(ok, "{stderr}");
    let args = [
        "indices",
        "livability",
        "--by",
        "district",
        "--min-cell",
        "1",
        "--distributions",
        "--format",
    ];
    let (ok, stdout, stderr) = run(&[&args[..], &["json"]].concat(), d);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let item = |group: serde_json::Value| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "conv_school" && r["group"] == group)
            .unwrap()
            .clone()
    };
    let all = item(serde_json::Value::Null);
    assert_eq!(
        (
            all["n"].clone(),
            all["n_dont_know"].clone(),
            all["n_not_applicable"].clone()
        ),
        (3.into(), 2.into(), 5.into())
    );
    // Missing answers are left out of the score, not counted as 0.
    assert!((all["estimate"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9, "{all}");
    let huancui = item("huancui".into());
    assert_eq!(
        (
            huancui["n"].clone(),
            huancui["n_dont_know"].clone(),
            huancui["n_not_applicable"].clone()
        ),
        (2.into(), 1.into(), 2.into())
    );
    assert_eq!(huancui["estimate"], 100.0);
    let wendeng = item("wendeng".into());
    assert_eq!(
        (
            wendeng["n"].clone(),
            wendeng["n_dont_know"].clone(),
            wendeng["n_not_applicable"].clone()
        ),
        (1.into(), 1.into(), 3.into())
    );
    // An item nobody skipped has zero of each; composites have no such counts.
    let night = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "safety_night" && r["group"].is_null())
        .unwrap();
    assert_eq!(
        (night["n_dont_know"].clone(), night["n_not_applicable"].clone()),
        (0.into(), 0.into())
    );
    let overall = &report["rows"][0];
    assert_eq!(overall["level"], "overall");
    assert!(overall.get("n_dont_know").is_none(), "{overall}");

    // The distribution lists "does not apply" as its own answer.
    let share = |option: &str| {
        report["distributions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["question"] == "conv_school" && r["group"].is_null() && r["option"] == option)
            .unwrap()
            .clone()
    };
    let na = share("na");
    assert_eq!(na["missing"], "not_applicable");
    assert_eq!(na["count"], 5);
    assert_eq!(na["n"], 10);
    assert_eq!(share("dk")["missing"], "dont_know");
    assert!(share("5").get("missing").is_none());

    // The CSV says the same in its own columns.
    let (ok, stdout, stderr) = run(&[&args[..], &["csv"]].concat(), d);
    assert!(ok, "{stderr}");
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let line = records
        .iter()
        .find(|r| &r[col("level")] == "item" && &r[col("id")] == "conv_school" && r[col("group")].is_empty())
        .unwrap();
    assert_eq!(
        (
            &line[col("n")],
            &line[col("n_dont_know")],
            &line[col("n_not_applicable")]
        ),
        ("3", "2", "5")
    );
    let option = records
        .iter()
        .find(|r| {
            &r[col("level")] == "option"
                && &r[col("id")] == "conv_school"
                && &r[col("option")] == "na"
                && r[col("group")].is_empty()
        })
        .unwrap();
    assert_eq!(
        (&option[col("missing")], &option[col("count")]),
        ("not_applicable", "5")
    );
}

/// A CSV of `rows` residents answering every required, unconditional
/// question of `survey` (plus `extra` columns), with the first option unless
/// `answer(row, question)` says otherwise.
fn required_answers_csv(
    survey: &civicpulse::survey::Survey,
    extra: &[&str],
    rows: usize,
    answer: impl Fn(usize, &str) -> Option<String>,
) -> String {
    let columns: Vec<&civicpulse::survey::Question> = survey
        .questions
        .iter()
        .filter(|q| (q.required && q.show_if.is_none()) || extra.contains(&q.id.as_str()))
        .collect();
    let mut csv = String::from("_id");
    for q in &columns {
        csv.push(',');
        csv.push_str(q.id.as_str());
    }
    csv.push('\n');
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    for i in 0..rows {
        let mut record = vec![format!("r{i}")];
        for q in &columns {
            let value = answer(i, q.id.as_str()).unwrap_or_else(|| {
                q.kind
                    .options()
                    .first()
                    .map_or_else(String::new, |o| o.value.to_string())
            });
            record.push(value);
        }
        writer.write_record(&record).unwrap();
    }
    csv + &String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

#[test]
fn an_answer_that_looks_like_a_formula_exports_as_text_and_imports_back_unchanged() {
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let texts = [formula, "-5 degrees in winter", "'quoted", "plain"];
    let csv = required_answers_csv(&survey, &["suggestions"], texts.len(), |i, q| {
        (q == "suggestions").then(|| texts[i].to_string())
    });
    let first = tempfile::tempdir().unwrap();
    std::fs::write(first.path().join("in.csv"), csv).unwrap();
    let (ok, _, stderr) = run(&["import", "livability", "in.csv", "--wave", "2026"], first.path());
    assert!(ok, "{stderr}");
    let (ok, exported, stderr) = run(&["export", "livability", "--format", "csv"], first.path());
    assert!(ok, "{stderr}");
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cells: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[column("suggestions")].to_string(), r[column("_wave")].to_string())
        })
        .collect();
    let shown: Vec<&str> = cells.iter().map(|(text, _)| text.as_str()).collect();
    // What a spreadsheet gets: text, never a formula.
    assert_eq!(
        shown,
        [&format!("'{formula}")[..], "'-5 degrees in winter", "''quoted", "plain"]
    );
    assert!(
        cells.iter().all(|(_, wave)| wave == "2026"),
        "the export names each row's wave"
    );

    // `--out DIR`: the same CSV, with its codebook beside it.
    let (ok, _, stderr) = run(&["export", "livability", "--out", "out", "--lang", "ko"], first.path());
    assert!(ok, "{stderr}");
    assert!(stderr.contains("exported 4 responses"), "{stderr}");
    let out = first.path().join("out");
    assert_eq!(std::fs::read_to_string(out.join("responses.csv")).unwrap(), exported);
    let book: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("codebook.json")).unwrap()).unwrap();
    let latest = book["versions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(latest["version"], survey.version);
    assert!(latest["questions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["id"] == "suggestions"));
    let md = std::fs::read_to_string(out.join("codebook.md")).unwrap();
    assert!(md.contains("### `suggestions` (text)"), "{md}");
    assert!(stderr.contains("responses-labelled.csv"), "{stderr}");
    // The labelled CSV: the same rows with option labels in Korean, text as given.
    let mut labelled = csv::Reader::from_path(out.join("responses-labelled.csv")).unwrap();
    assert_eq!(labelled.headers().unwrap(), &header);
    let district = survey.question("district").unwrap();
    let first_district = district.kind.options()[0]
        .label
        .get(civicpulse::lang::Lang::Ko)
        .to_string();
    let rows: Vec<csv::StringRecord> = labelled.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), texts.len());
    for row in &rows {
        assert_eq!(row[column("district")], first_district);
    }
    let mut labelled_texts: Vec<&str> = rows.iter().map(|r| &r[column("suggestions")]).collect();
    labelled_texts.sort_unstable();
    let mut neutral: Vec<&str> = shown.clone();
    neutral.sort_unstable();
    assert_eq!(labelled_texts, neutral, "text answers as in the coded CSV");
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        civicpulse::export::EXPORT_FILES.len(),
        "no part files left behind"
    );

    // The export imports into another database as it was answered, in its
    // own wave (from _wave, no --wave).
    let second = tempfile::tempdir().unwrap();
    std::fs::write(second.path().join("back.csv"), &exported).unwrap();
    let (ok, _, stderr) = run(&["import", "livability", "back.csv"], second.path());
    assert!(ok, "{stderr}");
    let (ok, json, stderr) = run(&["export", "livability", "--format", "json"], second.path());
    assert!(ok, "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let mut back: Vec<&str> = rows
        .iter()
        .map(|r| r["answers"]["suggestions"].as_str().unwrap())
        .collect();
    back.sort_unstable();
    let mut given = texts.to_vec();
    given.sort_unstable();
    assert_eq!(back, given);
    assert!(rows.iter().all(|r| r["wave"] == 2026));
}

/// Option values may begin with `+` or `-` ("+65", "-1"); as groups and
/// strata they reach every CSV the program writes, and each must write them
/// as text, never as a formula (`spreadsheet::neutralise_formula`).
#[test]
fn option_values_that_start_like_formulas_are_text_in_every_csv() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("survey-defs/livability.toml"))
        .unwrap()
        .replacen("slug = \"livability\"", "slug = \"formulas\"", 1)
        .replace("value = \"huancui\"", "value = \"-huancui\"")
        .replace("value = \"wendeng\"", "value = \"+wendeng\"");
    std::fs::create_dir(dir.path().join("defs")).unwrap();
    std::fs::write(dir.path().join("defs/formulas.toml"), builtin).unwrap();
    let survey = civicpulse::survey::Survey::from_toml(
        "formulas.toml",
        &std::fs::read_to_string(dir.path().join("defs/formulas.toml")).unwrap(),
    )
    .unwrap();
    let defs = ["--defs", "defs"];
    let with = |args: &[&str]| -> Vec<String> { args.iter().chain(&defs).map(|s| s.to_string()).collect() };
    let cli = |args: &[&str]| {
        let args = with(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, stderr) = run(&args, dir.path());
        assert!(ok, "{args:?}: {stderr}");
        out
    };
    // Two waves of interviews, districts alternating between the two.
    for (wave, rows) in [("2025", 24), ("2026", 24)] {
        let csv = required_answers_csv(&survey, &[], rows, |i, q| {
            (q == "district").then(|| ["-huancui", "+wendeng"][i % 2].to_string())
        });
        std::fs::write(dir.path().join(format!("{wave}.csv")), csv).unwrap();
        cli(&["import", "formulas", &format!("{wave}.csv"), "--wave", wave]);
    }
    let text_cells = |csv: &str, column: &str| -> Vec<String> {
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let at = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        reader.records().map(|r| r.unwrap()[at].to_string()).collect()
    };
    let assert_text = |what: &str, cells: Vec<String>| {
        let groups: std::collections::BTreeSet<&str> = cells
            .iter()
            .map(String::as_str)
            .filter(|c| c.contains("huancui") || c.contains("wendeng"))
            .collect();
        assert_eq!(groups, ["'+wendeng", "'-huancui"].into(), "{what}: {cells:?}");
    };

    let indices = cli(&[
        "indices",
        "formulas",
        "--wave",
        "2026",
        "--by",
        "district",
        "--min-cell",
        "2",
        "--format",
        "csv",
    ]);
    assert_text("indices", text_cells(&indices, "group"));
    let compare = cli(&[
        "compare",
        "formulas",
        "--from",
        "2025",
        "--to",
        "2026",
        "--by",
        "district",
        "--min-cell",
        "2",
        "--format",
        "csv",
    ]);
    assert_text("compare", text_cells(&compare, "group"));
    let export = cli(&["export", "formulas", "--format", "csv"]);
    assert_text("export", text_cells(&export, "district"));

    // Fieldwork: a frame and invitations for the two strata.
    cli(&[
        "wave",
        "set",
        "formulas",
        "--wave",
        "2026",
        "--access",
        "both",
        "--helpline",
        "12345",
        "--opens",
        "2026-01-01",
        "--closes",
        "2026-12-31",
    ]);
    std::fs::write(
        dir.path().join("frame.csv"),
        "stratum,population\n-huancui,1000\n+wendeng,800\n",
    )
    .unwrap();
    cli(&["frame", "set", "formulas", "frame.csv", "--wave", "2026"]);
    cli(&[
        "invitations",
        "create",
        "formulas",
        "--wave",
        "2026",
        "--stratum=-huancui",
        "--count",
        "2",
        "--out-dir",
        "letters",
    ]);
    let codes = std::fs::read_dir(dir.path().join("letters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("a codes CSV");
    let codes = std::fs::read_to_string(codes).unwrap();
    assert!(
        text_cells(&codes, "stratum").iter().all(|s| s == "'-huancui"),
        "{codes}"
    );
    let fieldwork = cli(&["fieldwork", "formulas", "--wave", "2026", "--format", "csv"]);
    let strata = text_cells(&fieldwork, "stratum");
    assert!(
        strata.contains(&"'-huancui".to_string()) && strata.contains(&"'+wendeng".to_string()),
        "{fieldwork}"
    );
}

#[test]
fn import_options_are_checked_against_their_rules_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let survey = civicpulse::survey::builtin_definitions().remove(0);
    std::fs::write(
        dir.path().join("in.csv"),
        required_answers_csv(&survey, &[], 2, |_, _| None),
    )
    .unwrap();
    let (ok, _, stderr) = run(&["import", "livability", "in.csv", "--wave", "20260"], dir.path());
    assert!(!ok);
    assert!(
        stderr.contains("the import options are not valid: wave must be between 1900 and 2999, not 20260"),
        "{stderr}"
    );
    let (ok, out, _) = run(&["export", "livability", "--format", "csv"], dir.path());
    assert!(ok && out.lines().count() <= 1, "nothing stored: {out}");
}

#[test]
fn margins_are_checked_against_the_questionnaire_when_stored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.csv"),
        "question,value,total\nfavourite_colour,red,10\n",
    )
    .unwrap();
    let (ok, _, stderr) = run(
        &["margins", "set", "livability", "bad.csv", "--wave", "2026"],
        dir.path(),
    );
    assert!(!ok, "refused when stored, not at the first analysis");
    assert!(stderr.contains("favourite_colour"), "{stderr}");
    std::fs::write(
        dir.path().join("good.csv"),
        "question,value,total\nsex,male,510\nsex,female,490\n",
    )
    .unwrap();
    let (ok, out, stderr) = run(
        &["margins", "set", "livability", "good.csv", "--wave", "2026"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    assert!(out.contains("stored 2 population totals"), "{out}");
}
