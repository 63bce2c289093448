//! Many residents submitting at once: their submissions are committed
//! together by one writer (`db::group_commit`), on SQLite each in a
//! savepoint, on PostgreSQL with one statement per table. Each must still
//! get its own page (thanks, thanks again
//! for a double tap, an error for one the database refuses) and be
//! stored exactly once; the other writes of the server go on between.

use crate::helpers::*;
use civicpulse::db::{raw_connection, AnyConnection, DatabaseUrl};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use std::time::{Duration, Instant};

/// A text answer the database is made to refuse, as a constraint would:
/// the submission that carries it fails inside the database.
const POISON: &str = "poison";

/// Make inserting an answer of [`POISON`] an error of the database.
fn refuse_poison(url: &DatabaseUrl) {
    let mut conn = raw_connection(url).expect("a connection");
    let sql = match &conn {
        AnyConnection::Sqlite(_) => format!(
            "CREATE TRIGGER test_refuse_poison BEFORE INSERT ON answers WHEN NEW.value = '{POISON}' \
             BEGIN SELECT RAISE(ABORT, 'a poisoned answer'); END;"
        ),
        AnyConnection::Postgres(_) => format!(
            "CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'a poisoned answer'; END $$; \
             CREATE TRIGGER test_refuse_poison BEFORE INSERT ON answers FOR EACH ROW \
             WHEN (NEW.value = '{POISON}') EXECUTE FUNCTION test_refuse_poison();"
        ),
    };
    conn.batch_execute(&sql).expect("trigger created");
}

/// Another program holding the database's write lock (SQLite) or a lock
/// on `responses` that every insert waits for (PostgreSQL), so that
/// submissions pile up behind it.
struct Blocker(AnyConnection);

impl Blocker {
    fn hold(url: &DatabaseUrl) -> Blocker {
        let mut conn = raw_connection(url).expect("a connection");
        let sql = match &conn {
            AnyConnection::Sqlite(_) => "BEGIN IMMEDIATE",
            AnyConnection::Postgres(_) => "BEGIN; LOCK TABLE responses IN SHARE ROW EXCLUSIVE MODE",
        };
        conn.batch_execute(sql).expect("lock taken");
        Blocker(conn)
    }

    fn release(mut self) {
        self.0.batch_execute("ROLLBACK").expect("lock released");
    }
}

/// Wait until `ready`, polling; fails the test after a minute.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One resident's submission: its own browser, form and answers.
struct Sender {
    client: reqwest::Client,
    pairs: Vec<(String, String)>,
    form_token: String,
}

async fn resident(app: &TestApp, suggestion: &str) -> Sender {
    let client = new_client();
    let html = get(app, &client, "/s/livability?lang=en").await.text().await.unwrap();
    let page = FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    };
    let mut answers = valid_answers(&livability());
    for (q, v) in &mut answers {
        if q == "suggestions" {
            *v = suggestion.to_string();
        }
    }
    Sender {
        client,
        form_token: page.form_token.clone(),
        pairs: with_tokens(&page, "en", &answers),
    }
}

/// POST a submission on a task of its own; its status and location.
fn send(app: &TestApp, sender: &Sender) -> tokio::task::JoinHandle<(u16, String)> {
    let (client, url, body) = (
        sender.client.clone(),
        app.url("/s/livability"),
        encode_pairs(&sender.pairs),
    );
    tokio::spawn(async move {
        let response = client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location)
    })
}

/// A resident who went through the section pages, on the review page.
async fn reviewer(app: &TestApp, suggestion: &str) -> Sender {
    let survey = livability();
    let client = new_client();
    let mut answers = valid_answers(&survey);
    for (q, v) in &mut answers {
        if q == "suggestions" {
            *v = suggestion.to_string();
        }
    }
    let html = first_page(app, &client, "en").await;
    let review = walk_to_review(app, &client, html, &survey, &answers).await;
    let mut pairs = page_fields(&review);
    pairs.push(("_go".into(), "submit".into()));
    Sender {
        client,
        form_token: hidden_value(&review, "_form"),
        pairs,
    }
}

#[tokio::test]
async fn a_burst_of_submissions_gets_each_its_own_page_and_is_stored_once() {
    held_burst(false).await;
}

#[tokio::test]
async fn a_submission_the_database_refuses_fails_alone() {
    held_burst(true).await;
}

/// Submissions held back until they all wait for the writer, then stored
/// together: one-shot forms, double taps of one-shot forms and of the
/// review page, and (`poisoned`) one the database refuses in the middle.
async fn held_burst(poisoned: bool) {
    let app = spawn_app_after(|db| refuse_poison(db.url())).await;
    const SINGLES: usize = 16;
    const DOUBLES: usize = 3;
    let mut singles = Vec::new();
    for i in 0..SINGLES {
        singles.push(resident(&app, &format!("suggestion {i}")).await);
    }
    let mut doubles = Vec::new();
    for i in 0..DOUBLES {
        doubles.push(resident(&app, &format!("tapped twice {i}")).await);
    }
    // Saved answers completed from the review page, once and twice.
    let reviewed = reviewer(&app, "reviewed").await;
    let reviewed_twice = reviewer(&app, "reviewed twice").await;
    let poisoned = poisoned.then_some(resident(&app, POISON).await);
    let sent = SINGLES + 2 * DOUBLES + 3 + usize::from(poisoned.is_some());

    // Every submission waits behind the lock, so that they reach the
    // database together: on SQLite in one or two batches of the writer.
    let server_db = app.state.db.clone();
    let blocker = Blocker::hold(&app.database);
    let mut tasks = Vec::new();
    for (i, sender) in singles.iter().enumerate() {
        tasks.push(send(&app, sender));
        if let (true, Some(poisoned)) = (i == SINGLES / 2, &poisoned) {
            // The poisoned one in the middle of the burst.
            tasks.push(send(&app, poisoned));
        }
    }
    for sender in doubles.iter().chain([&reviewed_twice]) {
        tasks.push(send(&app, sender));
        tasks.push(send(&app, sender));
    }
    tasks.push(send(&app, &reviewed));
    // The writer took the first few into a batch that waits for the lock;
    // the rest wait for the writer.
    until("every submission at the writer", || {
        let stats = server_db.group_commit_stats();
        stats.queued as u64 + stats.submissions == sent as u64
    })
    .await;
    blocker.release();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let thanks = "/s/livability/thanks?lang=en";
    let again = "/s/livability/thanks?lang=en&again=1";
    let mut outcomes = outcomes.into_iter();
    for i in 0..SINGLES {
        assert_eq!(outcomes.next().unwrap(), (303, thanks.to_string()), "resident {i}");
        if i == SINGLES / 2 && poisoned.is_some() {
            let (status, _) = outcomes.next().unwrap();
            assert_eq!(status, 500, "the submission the database refused");
        }
    }
    for i in 0..=DOUBLES {
        let mut pair = [outcomes.next().unwrap(), outcomes.next().unwrap()];
        pair.sort();
        assert_eq!(
            pair,
            [(303, thanks.to_string()), (303, again.to_string())],
            "double tap {i}: thanked, then thanked again"
        );
    }
    assert_eq!(
        outcomes.next().unwrap(),
        (303, thanks.to_string()),
        "from the review page"
    );

    let stored = app.stored();
    assert_eq!(
        stored.len(),
        SINGLES + DOUBLES + 2,
        "each once, the refused one not at all"
    );
    let mut suggestions: Vec<String> = stored
        .iter()
        .map(|r| {
            r.answers
                .iter()
                .find(|(q, _)| q == "suggestions")
                .map(|(_, v)| v.clone())
                .expect("every stored response has its suggestion")
        })
        .collect();
    suggestions.sort();
    let mut expected: Vec<String> = (0..SINGLES)
        .map(|i| format!("suggestion {i}"))
        .chain((0..DOUBLES).map(|i| format!("tapped twice {i}")))
        .chain(["reviewed".to_string(), "reviewed twice".to_string()])
        .collect();
    expected.sort();
    assert_eq!(suggestions, expected);
    let answers = valid_answers(&livability()).len();
    assert!(
        stored.iter().all(|r| r.answers.len() == answers),
        "every stored response has all its answers"
    );
    // The same choices from more than a handful at once: a burst, flagged
    // on each as if they had been committed one after another.
    assert!(
        stored.iter().all(|r| r.flags.has(civicpulse::fieldwork::Flag::Burst)),
        "every one of the identical responses is flagged as a burst"
    );
    let tokens: Vec<&str> = singles
        .iter()
        .chain(&doubles)
        .chain([&reviewed, &reviewed_twice])
        .map(|s| s.form_token.as_str())
        .collect();
    assert_eq!(form_tokens_stored(&app.database, &tokens), tokens.len() as i64);
    if let Some(poisoned) = &poisoned {
        assert_eq!(form_tokens_stored(&app.database, &[poisoned.form_token.as_str()]), 0);
    }
    let partials = partial_counts(&app);
    assert_eq!(
        (partials.started, partials.completed),
        (2, 2),
        "both saved answers completed"
    );

    let stats = server_db.group_commit_stats();
    assert_eq!(stats.submissions, sent as u64);
    assert_eq!(stats.queued, 0);
    // The first batch went in before the lock was noticed; everything that
    // came while it waited went in the next one.
    assert!(stats.batches <= 2, "{stats:?}");
    assert!(stats.largest_batch as usize >= sent / 2, "{stats:?}");
    // SQLite rolls the refused one back to its savepoint; PostgreSQL writes
    // its batch again, one submission per transaction. Nothing else fails.
    let failed = match (&poisoned, &app.database) {
        (Some(_), DatabaseUrl::Postgres(_)) => 1,
        _ => 0,
    };
    assert_eq!(stats.failed_batches, failed, "{stats:?}");
}

/// How many stored responses carry one of `tokens`.
fn form_tokens_stored(url: &DatabaseUrl, tokens: &[&str]) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let quoted: Vec<String> = tokens.iter().map(|t| format!("'{}'", t.replace('\'', "''"))).collect();
    let sql = format!(
        "SELECT COUNT(*) AS n FROM responses WHERE form_token IN ({})",
        quoted.join(",")
    );
    let mut conn = raw_connection(url).expect("a connection");
    let count: Count = match &mut conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(sql).get_result(c),
        AnyConnection::Postgres(c) => diesel::sql_query(sql).get_result(c),
    }
    .expect("count");
    count.n
}

#[tokio::test]
async fn other_writes_take_turns_with_the_batches() {
    let app = spawn_app().await;
    const SUBMISSIONS: usize = 30;
    const SAVES: usize = 10;
    let mut senders = Vec::new();
    for i in 0..SUBMISSIONS {
        senders.push(resident(&app, &format!("turns {i}")).await);
    }
    // Residents on the section pages: Continue saves their answers with
    // an ordinary write transaction.
    let survey = livability();
    let mut pages = Vec::new();
    for _ in 0..SAVES {
        let client = new_client();
        let html = first_page(&app, &client, "en").await;
        let mut pairs = page_fields(&html);
        pairs.extend(section_answers(&survey, 0));
        pairs.push(("_go".into(), "next".into()));
        pages.push(Sender {
            client,
            pairs,
            form_token: String::new(),
        });
    }
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        tasks.push(send(&app, sender));
        if i % 3 == 0 && i / 3 < SAVES {
            tasks.push(send(&app, &pages[i / 3]));
        }
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let (submitted, saved): (Vec<_>, Vec<_>) = outcomes.iter().partition(|(_, l)| l.contains("/thanks"));
    assert_eq!(submitted.len(), SUBMISSIONS, "{outcomes:?}");
    assert!(submitted.iter().all(|(s, l)| *s == 303 && !l.contains("again")));
    assert_eq!(saved.len(), SAVES);
    assert!(
        saved.iter().all(|(s, l)| *s == 303 && l.contains("page=2")),
        "every save went on to page 2: {saved:?}"
    );
    assert_eq!(app.stored().len(), SUBMISSIONS);
    let counts = app.db().partial_counts("livability", this_year()).unwrap();
    assert_eq!(counts.started, SAVES as u64);
}
