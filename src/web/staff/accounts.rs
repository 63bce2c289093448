//! Managing accounts from the web: admins list the staff accounts and
//! disable, enable, reset the password of, or sign out any of them
//! (`/admin/users`); every signed-in member changes their own password
//! (`/account/password`). The same changes as `civicpulse user …`, through
//! the same `db` calls, so both are audited alike.

use super::pages::page;
use super::surveys::{checked_form, see_other};
use super::{blocking, role_label, StaffBar, StaffError, Viewer};
use crate::account::{generate_password, verify_password, AccountError, Role, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::db::DbError;
use crate::lang::Lang;
use crate::web::error::WebErrorKind;
use crate::web::i18n::query_param;
use crate::web::limits::Busy;
use crate::web::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use validator::Validate;

#[derive(Serialize)]
struct UserRow {
    username: String,
    role_label: String,
    created_at: String,
    disabled: bool,
    /// The signed-in admin's own row: no disable button, so no one locks
    /// themselves out by a slip.
    is_me: bool,
}

#[derive(Serialize)]
struct UsersPage {
    staff: StaffBar,
    users: Vec<UserRow>,
    notice: Option<String>,
    problem: Option<String>,
}

/// What a user action did, for the notice on the list it returns to.
const DONE: [&str; 3] = ["disabled", "enabled", "signed_out"];

/// GET /admin/users: every account, with what an admin can do to it.
pub async fn list(req: HttpRequest, state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &[Role::Admin])?;
    let lang = viewer.lang;
    let notice = match (
        query_param(req.query_string(), "done"),
        query_param(req.query_string(), "user"),
    ) {
        (Some(done), Some(user)) if DONE.contains(&done.as_str()) => Some(state.renderer.messages.text(
            lang,
            &format!("staff_users_done_{done}"),
            &[("username", &user)],
        )),
        _ => None,
    };
    users_page(&req, &state, lang, session, StatusCode::OK, notice, None).await
}

async fn users_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    lang: Lang,
    session: &crate::db::Session,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
) -> Result<HttpResponse, StaffError> {
    let db = state.db.clone();
    let users = blocking(state, lang, move || db.users()).await?;
    let users = users
        .into_iter()
        .map(|u| UserRow {
            is_me: u.id == session.user.id,
            role_label: role_label(state, lang, u.role),
            username: u.username.to_string(),
            created_at: state.clock.stored_text(&u.created_at),
            disabled: u.disabled,
        })
        .collect();
    let body = UsersPage {
        staff: StaffBar::new(state, lang, session),
        users,
        notice,
        problem,
    };
    let mut response = page(state, req, "admin_users", lang, "staff_users_title", &body)?;
    *response.status_mut() = status;
    Ok(response)
}

/// What an admin asks for one account.
#[derive(Clone, Copy)]
enum UserAction {
    Disable,
    Enable,
    ResetPassword,
    EndSessions,
}

/// POST /admin/users/{name}/{action}.
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let (_, session) = match checked_form(&req, &state, &viewer, &body, &[Role::Admin]).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let (name, action) = path.into_inner();
    let action = match action.as_str() {
        "disable" => UserAction::Disable,
        "enable" => UserAction::Enable,
        "reset-password" => UserAction::ResetPassword,
        "end-sessions" => UserAction::EndSessions,
        _ => {
            return Err(state
                .error(WebErrorKind::NotFound, lang, format!("no action {action}"))
                .into())
        }
    };
    let actor = session.user.username.to_string();
    let db = state.db.clone();
    let who = name.clone();
    let password = matches!(action, UserAction::ResetPassword).then(generate_password);
    let new_password = password.clone();
    let outcome = blocking(&state, lang, move || {
        Ok::<_, std::convert::Infallible>(match action {
            UserAction::Disable => db.set_user_disabled(&who, true, &actor).map(|_| "disabled"),
            UserAction::Enable => db.set_user_disabled(&who, false, &actor).map(|_| "enabled"),
            UserAction::EndSessions => db.end_sessions(&who, &actor).map(|_| "signed_out"),
            UserAction::ResetPassword => db
                .reset_password(&who, new_password.as_deref().unwrap_or_default(), &actor)
                .map(|_| "reset"),
        })
    })
    .await?;
    match outcome {
        Ok("reset") => {
            log::info!("{} reset the password of {name}", session.user.username);
            let body = NewPasswordPage {
                staff: StaffBar::new(&state, lang, session),
                heading: state
                    .renderer
                    .messages
                    .text(lang, "staff_users_new_password_heading", &[("username", &name)]),
                password: password.unwrap_or_default(),
            };
            page(&state, &req, "admin_user_password", lang, "staff_users_title", &body)
        }
        Ok(done) => {
            log::info!("{} {done} {name}", session.user.username);
            Ok(see_other(format!(
                "/admin/users?lang={}&done={done}&user={name}",
                lang.code()
            )))
        }
        Err(DbError::Account(AccountError::UnknownUser(_))) => Err(state
            .error(WebErrorKind::NotFound, lang, format!("no user {name}"))
            .into()),
        Err(DbError::Account(AccountError::LastAdmin(_))) => {
            let problem = state
                .renderer
                .messages
                .text(lang, "staff_users_last_admin", &[("username", &name)]);
            users_page(&req, &state, lang, session, StatusCode::CONFLICT, None, Some(problem)).await
        }
        Err(e) => Err(state.error(WebErrorKind::Internal, lang, e.to_string()).into()),
    }
}

#[derive(Serialize)]
struct NewPasswordPage {
    staff: StaffBar,
    heading: String,
    password: String,
}

// `validator` counts lengths in u64.
const MIN_NEW_PASSWORD: u64 = MIN_PASSWORD_CHARS as u64;
const MAX_NEW_PASSWORD: u64 = MAX_PASSWORD_CHARS as u64;

/// The own-password form's fields, each with its rule.
#[derive(Validate)]
struct PasswordChange {
    current: String,
    #[validate(length(min = MIN_NEW_PASSWORD, max = MAX_NEW_PASSWORD, code = "password_length"))]
    new: String,
    #[validate(must_match(other = "new", code = "passwords_differ"))]
    confirm: String,
}

#[derive(Serialize)]
struct FieldError {
    field: &'static str,
    message: String,
}

#[derive(Serialize)]
struct PasswordPage {
    staff: StaffBar,
    errors: Vec<FieldError>,
    has_errors: bool,
    changed: Option<String>,
}

fn password_page(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    session: &crate::db::Session,
    status: StatusCode,
    errors: Vec<FieldError>,
    changed: Option<String>,
) -> Result<HttpResponse, StaffError> {
    let body = PasswordPage {
        staff: StaffBar::new(state, lang, session),
        has_errors: !errors.is_empty(),
        errors,
        changed,
    };
    let mut response = page(state, req, "account_password", lang, "staff_password_title", &body)?;
    *response.status_mut() = status;
    Ok(response)
}

/// GET /account/password.
pub async fn password_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, StaffError> {
    let session = viewer.require(&state, &Role::ALL)?;
    let changed = (query_param(req.query_string(), "changed").as_deref() == Some("1"))
        .then(|| state.renderer.messages.text(viewer.lang, "staff_password_changed", &[]));
    password_page(&state, &req, viewer.lang, session, StatusCode::OK, Vec::new(), changed)
}

/// POST /account/password: the current password, checked like a sign-in
/// (under the bound on password hashing), and the new one twice. Other
/// sessions of the account end; this one stays.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    body: web::Bytes,
) -> Result<HttpResponse, StaffError> {
    let (pairs, session) = match checked_form(&req, &state, &viewer, &body, &Role::ALL).await? {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    let lang = viewer.lang;
    let text = |key: &str, args: &[(&str, &str)]| state.renderer.messages.text(lang, key, args);
    // Passwords are taken as typed: spaces may be part of one.
    let raw = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = PasswordChange {
        current: raw("current"),
        new: raw("new"),
        confirm: raw("confirm"),
    };
    let mut errors = Vec::new();
    if let Err(invalid) = form.validate() {
        for (field, problems) in invalid.field_errors() {
            for problem in problems {
                let message = match problem.code.as_ref() {
                    "password_length" => text(
                        "staff_password_length",
                        &[
                            ("min", &MIN_PASSWORD_CHARS.to_string()),
                            ("max", &MAX_PASSWORD_CHARS.to_string()),
                        ],
                    ),
                    _ => text("staff_password_mismatch", &[]),
                };
                errors.push(FieldError {
                    field: if field == "new" { "new" } else { "confirm" },
                    message,
                });
            }
        }
        errors.sort_by_key(|e| e.field != "new");
    }
    let db = state.db.clone();
    let user = session.user.clone();
    let stored = blocking(&state, lang, move || db.password_hash(&user)).await?;
    let current = form.current.clone();
    let verified = match state
        .hashing
        .run(move |memory| verify_password(&current, stored.as_deref(), memory))
        .await
    {
        Ok(verified) => verified,
        Err(Busy) => {
            return Err(state
                .error(WebErrorKind::Unavailable, lang, "too many password checks waiting")
                .into())
        }
    };
    if !verified {
        errors.insert(
            0,
            FieldError {
                field: "current",
                message: text("staff_password_wrong", &[]),
            },
        );
    }
    if !errors.is_empty() {
        log::info!("password change refused for {}", session.user.username);
        return password_page(
            &state,
            &req,
            lang,
            session,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            None,
        );
    }
    let db = state.db.clone();
    let user = session.user.clone();
    let keep = viewer.session_token().unwrap_or_default().to_string();
    blocking(&state, lang, move || db.change_own_password(&user, &form.new, &keep)).await?;
    log::info!("{} changed their password", session.user.username);
    Ok(see_other(format!("/account/password?lang={}&changed=1", lang.code())))
}
