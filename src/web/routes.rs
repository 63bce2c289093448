//! The route table as data: every method and path the server answers, and
//! who may use it. `enforce` lets a request reach the router only when its
//! method and path are in this table, so a route registered without an
//! entry here is unreachable (404 or 405) and whatever test exercises it
//! fails; the authorization matrix test (tests/http/authorization.rs)
//! checks every entry as an anonymous visitor, a resident, a statistician,
//! a designer and an admin, and fails when the table has an entry its
//! matrix lacks.
//!
//! The access column documents who may; the handlers enforce it
//! (`Viewer::require`, `checked_form`, the API's token scopes), and the
//! matrix test proves the two agree.

use crate::account::{Role, TokenScope};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use std::sync::LazyLock;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: residents, the sign-in form, assets.
    Public,
    /// Signed-in staff with one of these roles (others get 403, anonymous
    /// visitors are sent to sign in).
    Staff(&'static [Role]),
    /// An API client whose bearer token has this scope.
    Token(TokenScope),
}

/// One route: a method and an actix path pattern, as `match_pattern` shows it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub access: Access,
}

const ALL: &[Role] = &Role::ALL;
const ADMINS: &[Role] = &[Role::Admin];
/// Designers' work: questionnaires.
const EDITORS: &[Role] = &[Role::Admin, Role::Designer];
/// Results and the sample.
const READERS: &[Role] = &[Role::Admin, Role::Statistician];

const fn route(method: &'static str, pattern: &'static str, access: Access) -> Route {
    Route {
        method,
        pattern,
        access,
    }
}

/// Every route of the server.
pub const ROUTES: &[Route] = &[
    // Residents and everyone.
    route("GET", "/", Access::Public),
    route("GET", "/health", Access::Public),
    route("GET", "/static/{file}", Access::Public),
    route("GET", "/privacy", Access::Public),
    route("GET", crate::identity::LOGO_PATH, Access::Public),
    route("GET", "/s/{slug}", Access::Public),
    route("POST", "/s/{slug}", Access::Public),
    route("POST", "/s/{slug}/start", Access::Public),
    route("GET", "/s/{slug}/thanks", Access::Public),
    route("GET", "/s/{slug}/review", Access::Public),
    route("GET", "/s/{slug}/resume", Access::Public),
    route("POST", "/s/{slug}/resume", Access::Public),
    route("GET", "/s/{slug}/clear", Access::Public),
    route("POST", "/s/{slug}/clear", Access::Public),
    // Only served with `--bench-static-page` (benches/load/get_form.sh).
    route("GET", super::BENCH_PAGE_PATH, Access::Public),
    // The statistics API.
    route(
        "GET",
        "/api/v1/surveys/{slug}/indices",
        Access::Token(TokenScope::Statistics),
    ),
    route(
        "GET",
        "/api/v1/surveys/{slug}/compare",
        Access::Token(TokenScope::Statistics),
    ),
    route(
        "GET",
        "/api/v1/surveys/{slug}/fieldwork",
        Access::Token(TokenScope::Statistics),
    ),
    route(
        "GET",
        "/api/v1/surveys/{slug}/export.zip",
        Access::Token(TokenScope::Export),
    ),
    // Signing in and out, one's own password.
    route("GET", "/login", Access::Public),
    route("POST", "/login", Access::Public),
    route("POST", "/logout", Access::Staff(ALL)),
    route("GET", "/account/password", Access::Staff(ALL)),
    route("POST", "/account/password", Access::Staff(ALL)),
    // Results for officials.
    route("GET", "/dashboard/{slug}", Access::Staff(READERS)),
    route("GET", "/dashboard/{slug}/report", Access::Staff(READERS)),
    route("GET", "/dashboard/{slug}/chart/{file}", Access::Staff(READERS)),
    route("GET", "/dashboard/{slug}/table/{file}", Access::Staff(READERS)),
    route("GET", "/dashboard/{slug}/export.zip", Access::Staff(READERS)),
    // Staff pages.
    route("GET", "/admin", Access::Staff(ALL)),
    route("GET", "/admin/audit", Access::Staff(ADMINS)),
    route("GET", "/admin/users", Access::Staff(ADMINS)),
    route("POST", "/admin/users/{name}/{action}", Access::Staff(ADMINS)),
    route("GET", "/admin/surveys", Access::Staff(ALL)),
    route("POST", "/admin/surveys", Access::Staff(EDITORS)),
    route("GET", "/admin/surveys/{slug}", Access::Staff(ALL)),
    route("GET", "/admin/surveys/{slug}/export", Access::Staff(ALL)),
    route("GET", "/admin/surveys/{slug}/preview", Access::Staff(ALL)),
    route("GET", "/admin/surveys/{slug}/translations", Access::Staff(ALL)),
    route("POST", "/admin/surveys/{slug}/translations", Access::Staff(EDITORS)),
    route("GET", "/admin/surveys/{slug}/structure", Access::Staff(ALL)),
    route("POST", "/admin/surveys/{slug}/structure", Access::Staff(EDITORS)),
    route("POST", "/admin/surveys/{slug}/import", Access::Staff(EDITORS)),
    route("POST", "/admin/surveys/{slug}/publish", Access::Staff(EDITORS)),
    route("GET", "/admin/surveys/{slug}/fieldwork", Access::Staff(ALL)),
    route("POST", "/admin/surveys/{slug}/fieldwork/wave", Access::Staff(READERS)),
    route("POST", "/admin/surveys/{slug}/fieldwork/frame", Access::Staff(READERS)),
    route(
        "POST",
        "/admin/surveys/{slug}/fieldwork/invitations",
        Access::Staff(READERS),
    ),
    route(
        "GET",
        "/admin/surveys/{slug}/invitations/{batch}/codes.csv",
        Access::Staff(READERS),
    ),
    route(
        "GET",
        "/admin/surveys/{slug}/invitations/{batch}/letters",
        Access::Staff(READERS),
    ),
];

/// The table's patterns, compiled once.
static PATTERNS: LazyLock<Vec<(ResourceDef, &'static Route)>> =
    LazyLock::new(|| ROUTES.iter().map(|r| (ResourceDef::new(r.pattern), r)).collect());

/// What the table says of a request: the route it names, or that its path
/// is known but not with this method, or unknown.
enum Lookup {
    Listed(&'static Route),
    OtherMethod,
    Unknown,
}

fn lookup(method: &Method, path: &str) -> Lookup {
    let mut known = false;
    for (def, route) in PATTERNS.iter() {
        if def.is_match(path) {
            if route.method == method.as_str() {
                return Lookup::Listed(route);
            }
            known = true;
        }
    }
    if known {
        Lookup::OtherMethod
    } else {
        Lookup::Unknown
    }
}

/// Middleware: only requests the table lists reach the router; others get
/// the not-found or method-not-allowed page they would get for a route
/// that does not exist. A listed request that the router matched to
/// another pattern (a new route shadowing a listed one) is refused too.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let listed = match lookup(req.method(), req.path()) {
        Lookup::Listed(route) => route,
        refused => {
            let (http, _) = req.parts();
            let kind = match refused {
                Lookup::OtherMethod => super::error::WebErrorKind::MethodNotAllowed,
                _ => super::error::WebErrorKind::NotFound,
            };
            let response = match http.app_data::<web::Data<super::AppState>>() {
                Some(state) => state
                    .error(
                        kind,
                        super::i18n::negotiate(http),
                        format!("{} {}", http.method(), http.path()),
                    )
                    .error_response(),
                None => actix_web::HttpResponse::NotFound().finish(),
            };
            return Ok(req.into_response(response));
        }
    };
    let response = next.call(req).await?;
    let matched = response.request().match_pattern();
    if matched.as_deref().is_some_and(|pattern| pattern != listed.pattern) {
        log::error!(
            "{} {} was routed to {matched:?}, which the route table (src/web/routes.rs) does not list",
            listed.method,
            listed.pattern
        );
        let response = response.into_response(actix_web::HttpResponse::InternalServerError().finish());
        return Ok(response.map_into_boxed_body());
    }
    Ok(response.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_and_pattern_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method, r.pattern)), "{} {} twice", r.method, r.pattern);
        }
    }

    #[test]
    fn requests_are_looked_up_by_method_and_pattern() {
        assert!(matches!(lookup(&Method::GET, "/s/livability"), Lookup::Listed(r) if r.pattern == "/s/{slug}"));
        assert!(matches!(lookup(&Method::DELETE, "/s/livability"), Lookup::OtherMethod));
        assert!(matches!(lookup(&Method::GET, "/nowhere"), Lookup::Unknown));
        assert!(matches!(
            lookup(&Method::GET, "/admin/surveys/livability/invitations/3/codes.csv"),
            Lookup::Listed(r) if r.access == Access::Staff(READERS)
        ));
    }
}
