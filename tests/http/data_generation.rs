//! The data generation: every change an index rests on moves it, from
//! whichever process makes it (the server, the CLI, any SQLite client),
//! and only in the wave changed; nothing else moves it. A replacement file
//! of as many rows, which leaves every row count and id as it was, moves
//! it too.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::db::{DataGeneration, Database};
use civicpulse::fieldwork::{Access, WaveSettings};
use civicpulse::survey::schedule::DateWindow;
use diesel::RunQueryDsl;

const SLUG: &str = "livability";

/// The last reading, and what each change did to it.
struct Watch {
    db: Database,
    last: DataGeneration,
    waves: Vec<i32>,
}

impl Watch {
    fn new(db: Database, waves: &[i32]) -> Watch {
        Watch {
            last: db.data_generation(SLUG).unwrap(),
            db,
            waves: waves.to_vec(),
        }
    }

    /// `what` moved exactly the generations of `moved`.
    fn moved(&mut self, what: &str, moved: &[i32]) {
        let now = self.db.data_generation(SLUG).unwrap();
        for &w in &self.waves {
            let (before, after) = (self.last.wave(w), now.wave(w));
            if moved.contains(&w) {
                assert!(after > before, "{what}: wave {w} should move ({before} → {after})");
            } else {
                assert_eq!(after, before, "{what}: wave {w} should stay");
            }
        }
        if moved.is_empty() {
            assert_eq!(now, self.last, "{what} should move nothing");
        }
        self.last = now;
    }

    fn still(&mut self, what: &str) {
        self.moved(what, &[]);
    }
}

fn cli(app: &TestApp, args: &[&str]) -> String {
    let (ok, stdout, stderr) = app.cli(args);
    assert!(ok, "{args:?}: {stderr}");
    stdout
}

/// Count and largest id of a wave's responses: what an aggregate over the
/// table would see.
fn count_and_largest_id(app: &TestApp, wave: i32) -> (i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        largest: i64,
    }
    let row: Row = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n, MAX(id) AS largest FROM responses WHERE survey_slug = '{SLUG}' AND wave = {wave}"
    ))
    .get_result(&mut raw(app))
    .unwrap();
    (row.n, row.largest)
}

/// A connection of its own, as any other program on the server would open.
fn raw(app: &TestApp) -> civicpulse::db::AnyConnection {
    civicpulse::db::raw_connection(&app.database).unwrap()
}

#[tokio::test]
async fn every_change_an_index_rests_on_moves_the_generation_and_nothing_else_does() {
    let app = spawn_app().await;
    let (year, last) = (this_year(), this_year() - 1);
    let dir = tempfile::tempdir().unwrap();
    let interviews = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report/wave2025.csv");
    let mut watch = Watch::new(app.db(), &[last, year]);
    assert_eq!(watch.last, DataGeneration::default(), "no data, no generation");

    // Imported interviews, from another process.
    let last_text = last.to_string();
    cli(
        &app,
        &["import", SLUG, interviews, "--wave", &last_text, "--name", "field"],
    );
    watch.moved("an import", &[last]);

    // A corrected file of as many rows: the same ids come back, so a count
    // and a largest id cannot tell, but the answers changed.
    let (count, largest) = count_and_largest_id(&app, last);
    let original = std::fs::read_to_string(interviews).unwrap();
    let corrected = original.replacen(",4,4,4,", ",1,1,1,", 1);
    assert_ne!(corrected, original);
    let fixed = dir.path().join("field-fixed.csv");
    std::fs::write(&fixed, corrected).unwrap();
    cli(&app, &["import", "replace", SLUG, "field", fixed.to_str().unwrap()]);
    // (SQLite numbers them again from the largest plus one; PostgreSQL's
    // sequence hands out new ids, so there only the count stays.)
    let (count_after, largest_after) = count_and_largest_id(&app, last);
    assert_eq!(count_after, count);
    if matches!(app.database, civicpulse::db::DatabaseUrl::Sqlite(_)) {
        assert_eq!(largest_after, largest);
    }
    watch.moved("an import replaced by as many rows", &[last]);

    // A resident's answer through the server, in this year's wave.
    let page = app.get_form("en").await;
    let response = app
        .post_pairs(
            "/s/livability",
            &with_tokens(&page, "en", &valid_answers(&livability())),
        )
        .await;
    assert_eq!(response.status(), 303);
    watch.moved("a web response", &[year]);

    // Answers saved part way are nobody's figures.
    let survey = livability();
    let client = new_client();
    let html = first_page(&app, &client, "en").await;
    let first: Vec<(String, String)> = valid_answers(&survey)
        .into_iter()
        .filter(|(q, _)| survey.question(q).is_some_and(|q| q.section == 0))
        .collect();
    continue_page(&app, &client, &html, &first).await;
    assert_eq!(partial_counts(&app).started, 1, "an answer saved part way");
    watch.still("a partial answer");

    // A data-quality flag, set and taken off by any writer.
    let mut conn = raw(&app);
    let unflagged = format!(
        "(SELECT MIN(id) FROM responses WHERE survey_slug = '{SLUG}' AND wave = {last} \
         AND id NOT IN (SELECT response_id FROM response_flags))"
    );
    let id: i64 = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        diesel::sql_query(format!("SELECT {unflagged} AS id"))
            .get_result::<Id>(&mut conn)
            .unwrap()
            .id
    };
    diesel::sql_query(format!(
        "INSERT INTO response_flags (response_id, flag) VALUES ({id}, 'straightliner')"
    ))
    .execute(&mut conn)
    .unwrap();
    watch.moved("a flag set", &[last]);
    diesel::sql_query(format!("DELETE FROM response_flags WHERE response_id = {id}"))
        .execute(&mut conn)
        .unwrap();
    watch.moved("a flag removed", &[last]);
    // A response changed in place (no path of ours does; another might).
    diesel::sql_query(format!(
        "UPDATE responses SET weight = weight * 2 WHERE id = (SELECT MIN(id) FROM responses WHERE wave = {last})"
    ))
    .execute(&mut conn)
    .unwrap();
    watch.moved("a response changed", &[last]);

    // Margins and the sampling frame.
    let margins = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report/margins.csv");
    cli(&app, &["margins", "set", SLUG, margins, "--wave", &last_text]);
    watch.moved("margins stored", &[last]);
    app.set_up_wave(Access::Both, &[("huancui", 1000.0), ("wendeng", 800.0)]);
    watch.moved("a wave with its frame", &[year]);

    // Nothing else: staff signing in, tokens, drafts, invitations, the
    // wave's dates and helpline, answers saved part way.
    app.signed_in("stella", Role::Statistician).await;
    watch.still("a sign-in");
    cli(&app, &["token", "create", "--name", "analyst"]);
    watch.still("an API token");
    let db = app.db();
    db.store_draft(livability().raw().clone(), "test").unwrap();
    watch.still("a draft");
    app.invite("huancui", 5);
    watch.still("invitations");
    let mut settings = db.wave(SLUG, year).unwrap().unwrap();
    settings.helpline = "67890".into();
    db.set_wave(SLUG, &settings, "test").unwrap();
    watch.still("the helpline changed");

    // The wave's stratum question is what its frame design reads.
    let other = WaveSettings {
        stratum_question: "age_group".into(),
        ..settings
    };
    db.set_wave(SLUG, &other, "test").unwrap();
    watch.moved("the stratum question changed", &[year]);

    // A published version moves every wave of its survey.
    db.publish_draft(SLUG, DateWindow::new(None, None).unwrap(), "test")
        .unwrap();
    watch.moved("a version published", &[last, year]);

    cli(&app, &["import", "delete", SLUG, "field"]);
    watch.moved("an import deleted", &[last]);
}
