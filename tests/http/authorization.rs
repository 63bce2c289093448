//! The authorization matrix: every route of the server's own route table
//! (`civicpulse::web::routes::ROUTES`), requested as an anonymous visitor,
//! a resident (a browser that has opened a form), a statistician, a
//! designer and an admin, and for API routes also with a token that has
//! the route's scope and one that has not. Each combination must get
//! exactly the status this matrix gives. A route in the table that the
//! matrix lacks, or one the matrix names that the table lacks, fails the
//! test.

use crate::helpers::*;
use civicpulse::account::{Role, TokenScope, TokenScopes};
use civicpulse::fieldwork::Access as WaveAccess;
use civicpulse::web::routes::{Access, ROUTES};
use std::collections::BTreeSet;

/// One row: the table's method and pattern, a concrete path to request,
/// and the status when the caller may use the route.
struct Row {
    method: &'static str,
    pattern: &'static str,
    path: &'static str,
    allowed: u16,
    /// Public routes only: a different status for a resident, whose
    /// browser holds the form's CSRF cookie (what a resident's POST needs).
    resident: Option<u16>,
    /// Public routes only: a different status for signed-in staff.
    signed_in: Option<u16>,
}

const fn row(method: &'static str, pattern: &'static str, path: &'static str, allowed: u16) -> Row {
    Row {
        method,
        pattern,
        path,
        allowed,
        resident: None,
        signed_in: None,
    }
}

const fn resident_row(
    method: &'static str,
    pattern: &'static str,
    path: &'static str,
    others: u16,
    resident: u16,
) -> Row {
    Row {
        method,
        pattern,
        path,
        allowed: others,
        resident: Some(resident),
        signed_in: None,
    }
}

/// Paths use the built-in survey, this test's invitation batch 1 and the
/// account `target`. POSTs carry only the caller's CSRF token, so an
/// allowed POST is refused for its missing fields (422), redirected (303)
/// or served, never 403 or sent to sign in; a forbidden one changes nothing.
const MATRIX: &[Row] = &[
    row("GET", "/", "/", 200),
    row("GET", "/health", "/health", 200),
    row("GET", "/static/{file}", "/static/style.css", 200),
    row("GET", "/privacy", "/privacy", 200),
    // No logo file in the built-in identity.
    row("GET", "/identity/logo", "/identity/logo", 404),
    row("GET", "/s/{slug}", "/s/livability", 200),
    // Without the form's token (and, but for residents, its CSRF cookie) a
    // submission is refused; a resident's empty start page is asked to
    // choose.
    row("POST", "/s/{slug}", "/s/livability", 403),
    resident_row("POST", "/s/{slug}/start", "/s/livability/start", 403, 422),
    row("GET", "/s/{slug}/thanks", "/s/livability/thanks", 200),
    // The review of nothing saved goes back to the form.
    row("GET", "/s/{slug}/review", "/s/livability/review", 303),
    row("GET", "/s/{slug}/resume", "/s/livability/resume", 200),
    resident_row("POST", "/s/{slug}/resume", "/s/livability/resume", 403, 422),
    row("GET", "/s/{slug}/clear", "/s/livability/clear", 303),
    // Without a CSRF token, to the confirmation page; with it, cleared.
    row("POST", "/s/{slug}/clear", "/s/livability/clear", 303),
    // Not served without --bench-static-page.
    row("GET", "/bench/static-page", "/bench/static-page", 404),
    row(
        "GET",
        "/api/v1/surveys/{slug}/indices",
        "/api/v1/surveys/livability/indices",
        200,
    ),
    row(
        "GET",
        "/api/v1/surveys/{slug}/compare",
        "/api/v1/surveys/livability/compare?from=2025&to=2026",
        404,
    ),
    row(
        "GET",
        "/api/v1/surveys/{slug}/fieldwork",
        "/api/v1/surveys/livability/fieldwork",
        200,
    ),
    row(
        "GET",
        "/api/v1/surveys/{slug}/export.zip",
        "/api/v1/surveys/livability/export.zip",
        200,
    ),
    // Signed in already: straight on.
    Row {
        signed_in: Some(303),
        ..row("GET", "/login", "/login", 200)
    },
    // Without a matching CSRF token; a resident's cookie matches, and the
    // empty sign-in is refused.
    resident_row("POST", "/login", "/login", 403, 422),
    row("POST", "/logout", "/logout", 303),
    row("GET", "/account/password", "/account/password", 200),
    row("POST", "/account/password", "/account/password", 422),
    row("GET", "/dashboard/{slug}", "/dashboard/livability", 200),
    row("GET", "/dashboard/{slug}/report", "/dashboard/livability/report", 200),
    row(
        "GET",
        "/dashboard/{slug}/chart/{file}",
        "/dashboard/livability/chart/items.svg",
        200,
    ),
    row(
        "GET",
        "/dashboard/{slug}/table/{file}",
        "/dashboard/livability/table/items.csv",
        200,
    ),
    row(
        "GET",
        "/dashboard/{slug}/export.zip",
        "/dashboard/livability/export.zip",
        200,
    ),
    row("GET", "/admin", "/admin", 200),
    row("GET", "/admin/audit", "/admin/audit", 200),
    row("GET", "/admin/users", "/admin/users", 200),
    row(
        "POST",
        "/admin/users/{name}/{action}",
        "/admin/users/target/end-sessions",
        303,
    ),
    row("GET", "/admin/surveys", "/admin/surveys", 200),
    row("POST", "/admin/surveys", "/admin/surveys", 422),
    row("GET", "/admin/surveys/{slug}", "/admin/surveys/livability", 200),
    row(
        "GET",
        "/admin/surveys/{slug}/export",
        "/admin/surveys/livability/export",
        200,
    ),
    row(
        "GET",
        "/admin/surveys/{slug}/preview",
        "/admin/surveys/livability/preview",
        200,
    ),
    row(
        "GET",
        "/admin/surveys/{slug}/translations",
        "/admin/surveys/livability/translations",
        200,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/translations",
        "/admin/surveys/livability/translations",
        422,
    ),
    row(
        "GET",
        "/admin/surveys/{slug}/structure",
        "/admin/surveys/livability/structure",
        200,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/structure",
        "/admin/surveys/livability/structure",
        422,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/import",
        "/admin/surveys/livability/import",
        422,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/publish",
        "/admin/surveys/livability/publish",
        422,
    ),
    row(
        "GET",
        "/admin/surveys/{slug}/fieldwork",
        "/admin/surveys/livability/fieldwork",
        200,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/fieldwork/wave",
        "/admin/surveys/livability/fieldwork/wave",
        422,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/fieldwork/frame",
        "/admin/surveys/livability/fieldwork/frame",
        422,
    ),
    row(
        "POST",
        "/admin/surveys/{slug}/fieldwork/invitations",
        "/admin/surveys/livability/fieldwork/invitations",
        422,
    ),
    row(
        "GET",
        "/admin/surveys/{slug}/invitations/{batch}/codes.csv",
        "/admin/surveys/livability/invitations/1/codes.csv",
        200,
    ),
    row(
        "GET",
        "/admin/surveys/{slug}/invitations/{batch}/letters",
        "/admin/surveys/livability/invitations/1/letters",
        200,
    ),
];

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Resident,
    Staff(Role),
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Resident,
    Caller::Staff(Role::Statistician),
    Caller::Staff(Role::Designer),
    Caller::Staff(Role::Admin),
];

/// The status `caller` must get from `row` under `access`.
fn expected(row: &Row, access: Access, caller: Caller) -> u16 {
    match (access, caller) {
        (Access::Public, Caller::Resident) => row.resident.unwrap_or(row.allowed),
        (Access::Public, Caller::Staff(_)) => row.signed_in.unwrap_or(row.allowed),
        (Access::Public, Caller::Anonymous) => row.allowed,
        // Bearer tokens only: a session or a cookie is not one.
        (Access::Token(_), _) => 401,
        (Access::Staff(_), Caller::Anonymous | Caller::Resident) => 303,
        (Access::Staff(roles), Caller::Staff(role)) if roles.contains(&role) => row.allowed,
        (Access::Staff(_), Caller::Staff(_)) => 403,
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_exactly_as_the_matrix_says() {
    // The matrix and the server's table name the same routes.
    let table: BTreeSet<(&str, &str)> = ROUTES.iter().map(|r| (r.method, r.pattern)).collect();
    let matrix: BTreeSet<(&str, &str)> = MATRIX.iter().map(|r| (r.method, r.pattern)).collect();
    assert_eq!(
        table.difference(&matrix).collect::<Vec<_>>(),
        Vec::<&(&str, &str)>::new(),
        "routes in src/web/routes.rs without a row in this matrix"
    );
    assert_eq!(
        matrix.difference(&table).collect::<Vec<_>>(),
        Vec::<&(&str, &str)>::new(),
        "rows of this matrix that the route table lacks"
    );
    assert_eq!(matrix.len(), MATRIX.len(), "each route once");

    let app = spawn_app().await;
    let survey = livability();
    for lang in ["zh", "en", "ko"] {
        let page = app.get_form(lang).await;
        let sent = app
            .post_pairs("/s/livability", &with_tokens(&page, lang, &valid_answers(&survey)))
            .await;
        assert_eq!(sent.status(), 303, "a real submission for the results pages");
    }
    // Open to both: the form starts with a page that takes a code.
    // A frame for every district, so that every response has its stratum.
    let districts: Vec<String> = survey
        .question("district")
        .unwrap()
        .kind
        .options()
        .iter()
        .map(|o| o.value.to_string())
        .collect();
    let frame: Vec<(&str, f64)> = districts.iter().map(|d| (d.as_str(), 1000.0)).collect();
    app.set_up_wave(WaveAccess::Both, &frame);
    app.invite("huancui", 3);
    app.add_user("target", Role::Statistician);
    let mut clients = Vec::new();
    for caller in CALLERS {
        let client = match caller {
            Caller::Anonymous => new_client(),
            Caller::Resident => {
                let client = new_client();
                assert_eq!(get(&app, &client, "/s/livability?lang=en").await.status(), 200);
                client
            }
            Caller::Staff(role) => app.signed_in(role.as_str(), role).await,
        };
        clients.push((caller, client));
    }
    let tokens = [TokenScope::Statistics, TokenScope::Export].map(|scope| {
        let scopes = TokenScopes::parse(scope.as_str()).unwrap();
        let token = app
            .db()
            .create_api_token(&format!("matrix-{scope}"), &scopes, None, "test")
            .unwrap();
        (scope, token)
    });

    let mut wrong = Vec::new();
    // Signing out last: it ends the session the other rows use.
    let rows = MATRIX
        .iter()
        .filter(|r| r.pattern != "/logout")
        .chain(MATRIX.iter().filter(|r| r.pattern == "/logout"));
    for row in rows {
        let access = ROUTES
            .iter()
            .find(|r| r.method == row.method && r.pattern == row.pattern)
            .expect("checked above")
            .access;
        for (caller, client) in &clients {
            let status = request(&app, client, *caller, row).await;
            let want = expected(row, access, *caller);
            if status != want {
                wrong.push(format!(
                    "{} {} as {caller:?}: {status}, not {want}",
                    row.method, row.path
                ));
            }
        }
        if let Access::Token(scope) = access {
            for (token_scope, token) in &tokens {
                let status = new_client()
                    .get(app.url(row.path))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                let want = if *token_scope == scope { row.allowed } else { 403 };
                if status != want {
                    wrong.push(format!(
                        "{} {} with a {token_scope} token: {status}, not {want}",
                        row.method, row.path
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} combinations differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Nothing outside the table is answered, whatever the method.
    for (method, path, want) in [
        ("GET", "/admin/secret", 404),
        ("DELETE", "/s/livability", 405),
        ("PUT", "/admin/surveys", 405),
        ("GET", "/logout", 405),
    ] {
        let response = new_client()
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), want, "{method} {path}");
    }
}

/// `row` requested by `caller`: a GET as it is, a POST with the caller's
/// CSRF token (the form cookie's for residents, the session's for staff).
async fn request(app: &TestApp, client: &reqwest::Client, caller: Caller, row: &Row) -> u16 {
    if row.method == "GET" {
        return get(app, client, row.path).await.status().as_u16();
    }
    let csrf = match caller {
        Caller::Anonymous => String::new(),
        Caller::Resident => hidden_value(
            &get(app, client, "/s/livability?lang=en").await.text().await.unwrap(),
            "_csrf",
        ),
        Caller::Staff(_) => hidden_value(&get(app, client, "/admin").await.text().await.unwrap(), "_csrf"),
    };
    post(app, client, row.path, &[("_csrf".to_string(), csrf)])
        .await
        .status()
        .as_u16()
}
