//! Unlinkability: after residents answer with their invitation codes, the
//! database, read with full access, holds nothing that leads from a
//! response to its code: no code, no hash of it, no reference between the
//! tables, no time of use, and no order (docs/privacy.md).

use crate::helpers::*;
use civicpulse::fieldwork::{Access, InvitationCode};
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::collections::HashSet;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Reference {
    #[diesel(sql_type = Text)]
    table: String,
}

#[derive(QueryableByName)]
struct Cell {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    value: Option<String>,
}

fn every_value(conn: &mut SqliteConnection, table: &str) -> Vec<(String, String)> {
    let columns: Vec<Name> = diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
        .load(conn)
        .unwrap();
    let mut out = Vec::new();
    for c in columns {
        let cells: Vec<Cell> = diesel::sql_query(format!(
            "SELECT CASE WHEN typeof(\"{0}\") = 'blob' THEN hex(\"{0}\") ELSE CAST(\"{0}\" AS TEXT) END AS value FROM \"{table}\"",
            c.name
        ))
        .load(conn)
        .unwrap();
        out.extend(cells.into_iter().filter_map(|v| v.value).map(|v| (c.name.clone(), v)));
    }
    out
}

#[tokio::test]
async fn no_column_or_join_leads_from_a_response_to_its_code() {
    let app = spawn_app().await;
    app.set_up_wave(Access::Both, &[("huancui", 620_000.0), ("wendeng", 480_000.0)]);
    let codes: Vec<String> = [app.invite("huancui", 3), app.invite("wendeng", 2)].concat();
    let survey = livability();
    // Two open-link answers around the invited ones, as in real fieldwork.
    let open = app.get("/s/livability?open=1&lang=en").await.text().await.unwrap();
    let page = FormPage {
        csrf: hidden_value(&open, "_csrf"),
        form_token: hidden_value(&open, "_form"),
        html: open,
    };
    assert_eq!(
        app.post_pairs("/s/livability", &with_tokens(&page, "en", &valid_answers(&survey)))
            .await
            .status(),
        303
    );
    let mut form_tokens = Vec::new();
    for code in &codes[..4] {
        let client = new_client();
        let page = app.form_with_code(&client, code, "en").await;
        form_tokens.push(page.form_token.clone());
        let sent = post(
            &app,
            &client,
            "/s/livability",
            &with_tokens(&page, "en", &valid_answers(&survey)),
        )
        .await;
        assert_eq!(sent.status(), 303);
    }

    let key = app.key();
    // Everything derived from a code that a link could go through.
    let mut secrets: HashSet<String> = HashSet::new();
    for code in &codes {
        let parsed = InvitationCode::parse(code).unwrap();
        for form in [
            code.clone(),
            parsed.canonical(),
            code.to_lowercase(),
            parsed.canonical().to_lowercase(),
        ] {
            secrets.insert(form);
        }
        secrets.insert(parsed.lookup_key(&key));
        use sha2::Digest;
        secrets.insert(hex::encode(sha2::Sha256::digest(parsed.canonical().as_bytes())));
    }
    for token in &form_tokens {
        secrets.insert(token.clone());
    }

    let civicpulse::db::DatabaseUrl::Sqlite(db_path) = app.database.clone() else {
        eprintln!("skipped on PostgreSQL: this test reads SQLite's catalogue and files; the schema is the same");
        return;
    };
    let mut conn = SqliteConnection::establish(db_path.to_str().unwrap()).unwrap();
    // The invitation's own row holds its lookup key, nonce and the mark of
    // the form that used it: collect them, they must appear nowhere else.
    let invitation_values: HashSet<String> = every_value(&mut conn, "invitations")
        .into_iter()
        .filter(|(c, _)| matches!(c.as_str(), "lookup" | "nonce" | "used_form"))
        .map(|(_, v)| v)
        .collect();
    assert!(invitation_values.len() >= codes.len() * 2);

    let tables: Vec<Name> = diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .load(&mut conn)
        .unwrap();
    for t in tables.iter().map(|t| t.name.as_str()) {
        let values = every_value(&mut conn, t);
        for (column, value) in &values {
            let lower = value.to_lowercase();
            for secret in &secrets {
                let in_own_row = t == "invitations";
                if in_own_row && (column == "lookup") {
                    continue;
                }
                assert!(
                    !lower.contains(&secret.to_lowercase()),
                    "{t}.{column} holds something derived from a code or its form"
                );
            }
            if t != "invitations" {
                assert!(
                    !invitation_values.contains(value),
                    "{t}.{column} repeats a value of the invitations table"
                );
            }
        }
    }
    // No reference joins the two sides.
    for t in ["responses", "answers", "response_flags"] {
        let refs: Vec<Reference> = diesel::sql_query(format!(
            "SELECT \"table\" AS \"table\" FROM pragma_foreign_key_list('{t}')"
        ))
        .load(&mut conn)
        .unwrap();
        assert!(
            refs.iter().all(|r| !r.table.starts_with("invitation")),
            "{t} refers to invitations"
        );
    }
    for t in ["invitations", "invitation_batches"] {
        let refs: Vec<Reference> = diesel::sql_query(format!(
            "SELECT \"table\" AS \"table\" FROM pragma_foreign_key_list('{t}')"
        ))
        .load(&mut conn)
        .unwrap();
        assert!(
            refs.iter()
                .all(|r| !r.table.starts_with("response") && r.table != "answers"),
            "{t} refers to responses"
        );
        // No time of use: the only times are a batch's creation.
        let columns: Vec<Name> = diesel::sql_query(format!("SELECT name FROM pragma_table_info('{t}')"))
            .load(&mut conn)
            .unwrap();
        for c in columns {
            assert!(
                c.name == "created_at" && t == "invitation_batches" || !c.name.ends_with("_at"),
                "{t}.{} looks like a time",
                c.name
            );
        }
    }
    let statuses: HashSet<String> = every_value(&mut conn, "invitations")
        .into_iter()
        .filter(|(c, _)| c == "status")
        .map(|(_, v)| v)
        .collect();
    assert!(statuses.is_subset(&["issued".to_string(), "used".to_string()].into()));

    // Invited responses: the day only, no form token, random ids out of
    // the ordered range, and the stratum they were invited in.
    let stored = app.stored();
    let invited: Vec<_> = stored.iter().filter(|r| r.source == "invited").collect();
    assert_eq!(invited.len(), 4);
    for r in &invited {
        assert!(r.submitted_at.ends_with("T00:00:00Z"), "{}", r.submitted_at);
        let id: i64 = r.id.parse().unwrap();
        assert!(id >= 1 << 62, "random id, not the next in order: {id}");
    }
    let ids: Vec<i64> = invited.iter().map(|r| r.id.parse().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| (w[0] - w[1]).abs() > 1_000),
        "ids are not neighbours"
    );
    let web: Vec<_> = stored.iter().filter(|r| r.source == "web").collect();
    assert_eq!(web.len(), 1);
    assert!(
        web[0].id.parse::<i64>().unwrap() < 1 << 62,
        "open answers keep their order"
    );

    // Nor do the files on disk hold a code in any spelling.
    drop(conn);
    let dir = db_path.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for code in &codes {
            let parsed = InvitationCode::parse(code).unwrap();
            assert!(!text.contains(&parsed.canonical().to_lowercase()));
            assert!(!text.contains(&code.to_lowercase()));
        }
    }
}

/// Set the submission time of response `id` (any backend).
fn age(app: &TestApp, id: &str, at: &str) {
    let mut conn = civicpulse::db::raw_connection(&app.database).expect("connection");
    let changed = diesel::sql_query(format!(
        "UPDATE responses SET submitted_at = '{at}' WHERE id = {}",
        id.parse::<i64>().unwrap()
    ))
    .execute(&mut conn)
    .expect("update");
    assert_eq!(changed, 1);
}

fn suggestions(response: &civicpulse::db::StoredResponse) -> Option<&str> {
    response
        .answers
        .iter()
        .find(|(q, _)| q == "suggestions")
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn free_text_is_deleted_after_its_retention_and_times_are_kept_to_the_minute() {
    let app = spawn_app().await;
    let survey = livability();
    for lang in ["en", "zh", "ko"] {
        let page = app.get_form(lang).await;
        let sent = app
            .post_pairs("/s/livability", &with_tokens(&page, lang, &valid_answers(&survey)))
            .await;
        assert_eq!(sent.status(), 303);
    }
    let stored = app.stored();
    assert_eq!(stored.len(), 3);
    for r in &stored {
        assert!(r.submitted_at.ends_with(":00Z"), "to the minute: {}", r.submitted_at);
        assert!(suggestions(r).is_some());
    }
    let (ok, indices_before, _) = app.cli(&["indices", "livability", "--format", "csv"]);
    assert!(ok);

    // One response is 40 days old: `purge-text --days 30` deletes its free
    // text only, says how much, and audits it without the words.
    age(&app, &stored[0].id, "2020-01-01T00:00:00Z");
    let (ok, out, stderr) = app.cli(&["purge-text", "--days", "30"]);
    assert!(ok, "{stderr}");
    assert!(
        out.contains("livability v") && out.contains("deleted 1 free-text answer(s) older than 30 days"),
        "{out}"
    );
    let after = app.stored();
    let old = after.iter().find(|r| r.id == stored[0].id).unwrap();
    assert_eq!(suggestions(old), None);
    assert_eq!(
        old.answers.len() + 1,
        stored[0].answers.len(),
        "only the free text went"
    );
    assert!(after
        .iter()
        .filter(|r| r.id != stored[0].id)
        .all(|r| suggestions(r).is_some()));
    let (ok, indices_after, _) = app.cli(&["indices", "livability", "--format", "csv"]);
    assert!(ok);
    let body = |csv: &str| csv.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(body(&indices_before).len(), body(&indices_after).len());
    let audit = app.db().audit_log(10).unwrap();
    let entry = audit.iter().find(|e| e.action == "retention.purge").expect("audited");
    assert!(entry.detail.contains("1 free-text answer(s)"));
    assert!(!entry.detail.contains("parks"), "never the text");
    let (ok, again, _) = app.cli(&["purge-text", "--days", "30"]);
    assert!(ok && again.is_empty(), "nothing left: {again}");

    // A server with `--free-text-days 30` does the same at start.
    age(&app, &stored[1].id, "2020-01-01T00:00:00Z");
    let mut config = civicpulse::config::ServeConfig::new("127.0.0.1:0", app.database.clone());
    config.key_file = app.key_path.clone();
    config.workers = Some(1);
    config.free_text_retention = Some(time::Duration::days(30));
    let server = civicpulse::web::Application::build(&config).expect("server starts");
    tokio::spawn(server.run_until_stopped());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = app.stored();
        if suggestions(now.iter().find(|r| r.id == stored[1].id).unwrap()).is_none() {
            assert!(suggestions(now.iter().find(|r| r.id == stored[2].id).unwrap()).is_some());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not purge");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(app
        .db()
        .audit_log(10)
        .unwrap()
        .iter()
        .any(|e| e.action == "retention.purge" && e.username == "(retention)"));
}
