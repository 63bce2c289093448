//! The statistics API: `GET /api/v1/surveys/{slug}/indices`, `/compare`
//! and `/fieldwork`, with the options of the `civicpulse` commands of the
//! same names as query parameters, answering JSON (or CSV with
//! `format=csv`). Callers authenticate with `Authorization: Bearer
//! <token>` from `civicpulse token create`, and each client is held to a
//! rate limit. Raking uses the wave's stored margins. Indices come from
//! the server's kept results while the data are unchanged (`analyses`).

use super::analyses::{cached_compare, cached_indices, compute, AnalysisFailure};
use super::download::DownloadError;
use super::form::parse_urlencoded;
use super::limits::Action;
use super::AppState;
use crate::account::TokenScope;
use crate::analysis::{self, AnalysisError, IndexOptions, Variance, Weights, MAX_REPLICATES};
use crate::db::TokenRefusal;
use crate::fieldwork::quality::parse_flags;
use crate::fieldwork::Flags;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use std::collections::HashMap;
use validator::Validate;

/// An API error: a status and a JSON body `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<std::time::Duration>,
}

impl ApiError {
    fn retry_after(mut self, wait: std::time::Duration) -> ApiError {
        self.retry_after = Some(wait);
        self
    }
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// Every analysis turn is taken and the line is full: try again soon.
    fn busy() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many analyses are waiting; try again in a few seconds",
        )
        .retry_after(std::time::Duration::from_secs(5))
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    fn internal(message: impl std::fmt::Display) -> ApiError {
        log::error!("API failure: {message}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the log has the details",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"civicpulse\""));
        }
        if let Some(wait) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, wait.as_secs().max(1)));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
            },
        })
    }
}

impl From<AnalysisError> for ApiError {
    fn from(e: AnalysisError) -> ApiError {
        ApiError::from(&e)
    }
}

impl From<&AnalysisError> for ApiError {
    fn from(e: &AnalysisError) -> ApiError {
        if let AnalysisError::Database(db) = e {
            return ApiError::internal(db);
        }
        let status = super::analyses::status_of(e);
        let code = match e {
            AnalysisError::UnknownSurvey(_) => "unknown_survey",
            AnalysisError::NoResponses { .. } => "no_responses",
            AnalysisError::UnknownBy { .. } | AnalysisError::ByNotChoice(_) => "bad_grouping",
            AnalysisError::MarginsRequired { .. } | AnalysisError::Margins(_) => "margins",
            AnalysisError::Stats(_) => "statistics",
            AnalysisError::NoFrame { .. } | AnalysisError::Frame(_) => "design_weights",
            _ => "bad_option",
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<AnalysisFailure> for ApiError {
    fn from(e: AnalysisFailure) -> ApiError {
        match e {
            AnalysisFailure::Analysis(e) => ApiError::from(&*e),
            AnalysisFailure::Busy => ApiError::busy(),
            AnalysisFailure::TimedOut(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timed_out", e.to_string()),
            AnalysisFailure::Stopped(message) => ApiError::internal(message),
        }
    }
}

/// Check the rate limit and the bearer token, which must hold `scope`;
/// the token's name goes to the log. Tokens are taken from the
/// `Authorization` header only: one in the address would be written down
/// by every proxy and browser history on the way.
async fn authenticate(req: &HttpRequest, state: &web::Data<AppState>, scope: TokenScope) -> Result<String, ApiError> {
    if let Err(wait) = state.limit(req, Action::Api) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests from this client; try again in {} s",
                wait.as_secs().max(1)
            ),
        )
        .retry_after(wait));
    }
    let in_address = parse_urlencoded(req.query_string().as_bytes()).is_ok_and(|pairs| {
        pairs
            .iter()
            .any(|(k, _)| matches!(k.as_str(), "token" | "access_token"))
    });
    if in_address {
        return Err(ApiError::bad_request(
            "an API token is never accepted in the address, where logs and browser history keep it; \
             send it as `Authorization: Bearer <token>`, and revoke this one (civicpulse token revoke)",
        ));
    }
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        unauthorized("send an API token as `Authorization: Bearer <token>` (civicpulse token create)")
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?
        .to_string();
    let db = state.db.clone();
    let today = state.clock.today();
    let accepted = web::block(move || db.accept_api_token(&token, scope, today))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    accepted.map_err(|refusal| match refusal {
        TokenRefusal::Unknown => unauthorized("this API token is not valid"),
        TokenRefusal::Revoked { name } => unauthorized(&format!("the API token {name:?} has been revoked")),
        TokenRefusal::Expired { name, on } => {
            unauthorized(&format!("the API token {name:?} expired after {on}; ask for a new one"))
        }
        TokenRefusal::OutOfScope { name, needs } => ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("the API token {name:?} may not read this: it needs the scope {needs}"),
        ),
    })
}

const COMMON_PARAMS: [&str; 13] = [
    "wave",
    "by",
    "weights",
    "weight_bounds",
    "level",
    "min_cell",
    "variance",
    "replicates",
    "seed",
    "format",
    "source",
    "exclude_flagged",
    "lonely_psu",
];

struct Params(HashMap<String, String>);

/// The API's numeric parameters, each with its rule; the server's own
/// floor on `min_cell` is checked after these.
#[derive(Validate)]
struct NumericParams {
    #[validate(range(min = 1900, max = 2999))]
    wave: Option<i32>,
    #[validate(range(
        exclusive_min = 0.0,
        exclusive_max = 1.0,
        message = "must lie strictly between 0 and 1 (0.95 for 95% intervals)"
    ))]
    level: f64,
    #[validate(range(min = 1, max = 1_000_000))]
    min_cell: Option<u64>,
    #[validate(range(min = 1, max = MAX_REPLICATES))]
    replicates: Option<usize>,
    seed: Option<u64>,
}

impl Params {
    fn parse(query: &str, extra: &[&str]) -> Result<Params, ApiError> {
        let pairs = parse_urlencoded(query.as_bytes()).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if !COMMON_PARAMS.contains(&k.as_str()) && !extra.contains(&k.as_str()) {
                let known: Vec<&str> = COMMON_PARAMS.iter().chain(extra).copied().collect();
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {k:?}; known: {}",
                    known.join(", ")
                )));
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(format!("parameter {k:?} is given twice")));
            }
        }
        Ok(Params(map))
    }

    fn get<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.0
            .get(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| ApiError::bad_request(format!("parameter {name}={v:?} is not valid")))
            })
            .transpose()
    }

    fn csv(&self) -> Result<bool, ApiError> {
        match self.0.get("format").map(String::as_str) {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "format must be json or csv, not {other:?}"
            ))),
        }
    }

    /// The numeric parameters, read and checked against their rules.
    fn numbers(&self) -> Result<NumericParams, ApiError> {
        let defaults = IndexOptions::default();
        let numbers = NumericParams {
            wave: self.get("wave")?,
            level: self.get("level")?.unwrap_or(defaults.level),
            min_cell: self.get("min_cell")?,
            replicates: self.get("replicates")?,
            seed: self.get("seed")?,
        };
        numbers
            .validate()
            .map_err(|e| ApiError::bad_request(crate::validation::problems(&e).join("; ")))?;
        Ok(numbers)
    }

    fn options(&self, min_cell_floor: u64) -> Result<IndexOptions, ApiError> {
        let defaults = IndexOptions::default();
        let numbers = self.numbers()?;
        let min_cell = numbers.min_cell.unwrap_or(defaults.min_cell.max(min_cell_floor));
        if min_cell < min_cell_floor {
            return Err(ApiError::bad_request(format!(
                "min_cell must be at least {min_cell_floor} on this server, so that no published figure rests on fewer residents"
            )));
        }
        let variance = match self.0.get("variance").map(String::as_str) {
            None | Some("linearized") => Variance::Linearized,
            Some("bootstrap") => Variance::bootstrap(numbers.replicates.unwrap_or(1000), numbers.seed.unwrap_or(1))
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "variance must be linearized or bootstrap, not {other:?}"
                )))
            }
        };
        Ok(IndexOptions {
            wave: numbers.wave,
            by: self.0.get("by").cloned(),
            weights: match self.0.get("weights") {
                Some(w) => w.parse::<Weights>().map_err(|e| ApiError::bad_request(e.to_string()))?,
                None => defaults.weights,
            },
            margins: None,
            level: numbers.level,
            min_cell,
            variance,
            sources: self
                .0
                .get("source")
                .map(|s| analysis::parse_sources(s))
                .transpose()
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            lonely_psu: match self.0.get("lonely_psu") {
                Some(l) => analysis::parse_lonely_psu(l).map_err(|e| ApiError::bad_request(e.to_string()))?,
                None => defaults.lonely_psu,
            },
            weight_bounds: self
                .0
                .get("weight_bounds")
                .map(|b| analysis::parse_weight_bounds(b))
                .transpose()
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
            distributions: match self.0.get("distributions").map(String::as_str) {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "distributions must be true or false, not {other:?}"
                    )))
                }
            },
            exclude_flagged: match self.0.get("exclude_flagged") {
                Some(list) => parse_flags(list).map_err(|e| ApiError::bad_request(e.to_string()))?,
                None => Flags::default(),
            },
        })
    }
}

/// `report` as JSON, or as CSV through `write_csv` when asked.
fn respond<T: Serialize>(
    params: &Params,
    report: &T,
    write_csv: fn(&T, &mut dyn std::io::Write) -> Result<(), csv::Error>,
) -> Result<HttpResponse, ApiError> {
    if params.csv()? {
        let mut body = Vec::new();
        write_csv(report, &mut body).map_err(ApiError::internal)?;
        Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(body))
    } else {
        Ok(HttpResponse::Ok().json(report))
    }
}

pub async fn indices(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = authenticate(&req, &state, TokenScope::Statistics).await?;
    let params = Params::parse(req.query_string(), &["distributions"])?;
    let options = params.options(state.min_cell_floor)?;
    let slug = path.into_inner();
    log::info!("API indices of {slug} for token {client:?}");
    let report = cached_indices(&state, &slug, &options).await?;
    respond(&params, &*report, analysis::write_index_csv)
}

pub async fn compare(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = authenticate(&req, &state, TokenScope::Statistics).await?;
    let params = Params::parse(req.query_string(), &["from", "to", "df"])?;
    let options = params.options(state.min_cell_floor)?;
    let (Some(from), Some(to)) = (params.get::<i32>("from")?, params.get::<i32>("to")?) else {
        return Err(ApiError::bad_request("compare needs the waves: from=YEAR&to=YEAR"));
    };
    let rule = match params.0.get("df").map(String::as_str) {
        None | Some("min") => crate::stats::DfRule::Min,
        Some("stacked") => crate::stats::DfRule::Stacked,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "df must be min or stacked, not {other:?}"
            )))
        }
    };
    let slug = path.into_inner();
    log::info!("API compare of {slug} {from}→{to} for token {client:?}");
    let report = cached_compare(&state, &slug, from, to, &options, rule).await?;
    respond(&params, &report, analysis::write_compare_csv)
}

/// `GET /api/v1/surveys/{slug}/fieldwork?wave=W[&format=csv]`: invitations,
/// completed responses, response rates (AAPOR RR1), design weights and
/// completion times per stratum, and the data-quality flag counts.
pub async fn fieldwork(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = authenticate(&req, &state, TokenScope::Statistics).await?;
    let params = Params::parse(req.query_string(), &[])?;
    if let Some(other) = params.0.keys().find(|k| !matches!(k.as_str(), "wave" | "format")) {
        return Err(ApiError::bad_request(format!(
            "parameter {other:?} does not apply to fieldwork; it takes wave and format"
        )));
    }
    let wave: Option<i32> = params.get("wave")?;
    let slug = path.into_inner();
    log::info!("API fieldwork of {slug} for token {client:?}");
    let today = state.clock.today();
    let report = compute(&state, move |s, _| {
        analysis::fieldwork(&s.db, &s.current_surveys(), &slug, wave, today)
    })
    .await?;
    respond(&params, &report, crate::fieldwork::figures::write_fieldwork_csv)
}

/// `GET /api/v1/surveys/{slug}/export.zip?wave=W&lang=L`: the export
/// archive (responses as codes and as labels, the codebook, load.R and
/// load.do), for a token with the `export` scope. Respondent-level data,
/// so each download is written to the audit log under the token's name.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = authenticate(&req, &state, TokenScope::Export).await?;
    let pairs = parse_urlencoded(req.query_string().as_bytes()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (mut wave, mut lang) = (None, crate::lang::Lang::En);
    for (k, v) in pairs {
        match k.as_str() {
            "wave" => {
                wave = Some(
                    v.parse::<i32>()
                        .map_err(|_| ApiError::bad_request(format!("wave must be a year, not {v:?}")))?,
                )
            }
            "lang" => {
                lang = v
                    .parse()
                    .map_err(|_| ApiError::bad_request(format!("lang must be zh, en or ko, not {v:?}")))?
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}; export takes wave and lang"
                )))
            }
        }
    }
    let slug = path.into_inner();
    log::info!("API export of {slug} for token {client:?}");
    let (db, detail) = (
        state.db.clone(),
        format!("{slug} wave {}", wave.map_or("all".into(), |w| w.to_string())),
    );
    web::block(move || db.record_audit(&client, "api.export", &detail))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    crate::web::download::export_archive(&state, slug, wave, lang)
        .await
        .map_err(|e| match e {
            DownloadError::Busy => ApiError::busy(),
            DownloadError::Export(crate::error::AppError::UnknownSurvey(slug)) => ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_survey",
                format!("no survey named {slug:?}"),
            ),
            DownloadError::Export(e) => ApiError::internal(e),
            DownloadError::Internal(e) => ApiError::internal(e),
        })
}
