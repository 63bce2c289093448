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
