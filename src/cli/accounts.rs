//! The account commands: `user` (staff accounts: add, list, disable,
//! enable, reset a password, end sessions) and `token` (API tokens:
//! create with scopes and an end, list, revoke). Each change is audited
//! as made by the command line, like the same change made by an admin in
//! the web pages.

use super::StoreArgs;
use crate::account::{generate_password, Role, TokenScopes, Username, COMMAND_LINE_ACTOR};
use crate::error::AppError;
use clap::Subcommand;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// What it may read: statistics (indices, comparisons, fieldwork),
        /// export (respondent-level data), or both ("statistics,export").
        #[arg(long, default_value = "statistics")]
        scope: String,
        /// The last day it is accepted (YYYY-MM-DD); by default it does
        /// not end.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the tokens: name, scopes, created, by whom, last day, last
    /// used, revoked (never the tokens themselves).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token: from now on every request with it is refused.
    Revoke {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff account. A password piped to standard input is used
    /// (`echo 'long-password' | civicpulse user add NAME --role ROLE`);
    /// otherwise one is generated and printed once.
    Add {
        /// 3 to 32 characters from a-z, 0-9, '.', '_' and '-'.
        name: String,
        /// admin, designer or statistician.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the staff accounts with their roles and whether they are
    /// disabled.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an account: it can no longer sign in, and its sessions end.
    Disable {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a disabled account again.
    Enable {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an account a new password (piped to standard input, or
    /// generated and printed once); its sessions end.
    ResetPassword {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Sign an account out everywhere.
    EndSessions {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn token(command: TokenCommand) -> Result<(), AppError> {
    match command {
        TokenCommand::Create {
            name,
            scope,
            expires,
            store,
        } => {
            let scopes = TokenScopes::parse(&scope)?;
            let expires = expires
                .map(|text| {
                    crate::survey::schedule::parse_date(&text).map_err(|e| AppError::Usage(format!("--expires: {e}")))
                })
                .transpose()?;
            let db = store.open_db()?;
            let token = db.create_api_token(&name, &scopes, expires, COMMAND_LINE_ACTOR)?;
            println!("{token}");
            eprintln!(
                "token {name:?} ({scopes}) created; it is shown only once. Send it as `Authorization: Bearer <token>`."
            );
            Ok(())
        }
        TokenCommand::List { store } => {
            let (db, _) = store.open_read()?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "name\tscopes\tcreated\tcreated_by\texpires\tlast_used\trevoked")?;
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            for t in db.api_tokens()? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.name,
                    t.scopes,
                    t.created_at,
                    t.created_by,
                    or_dash(t.expires_on),
                    or_dash(t.last_used_on),
                    or_dash(t.revoked_at)
                )?;
            }
            Ok(())
        }
        TokenCommand::Revoke { name, store } => {
            store.open_db()?.revoke_api_token(&name, COMMAND_LINE_ACTOR)?;
            eprintln!("token {name:?} revoked");
            Ok(())
        }
    }
}

pub fn user(command: UserCommand) -> Result<(), AppError> {
    match command {
        UserCommand::Add { name, role, store } => add_user(&name, &role, &store),
        UserCommand::List { store } => {
            let (db, _) = store.open_read()?;
            let mut out = std::io::stdout().lock();
            for user in db.users()? {
                let status = if user.disabled { "disabled" } else { "enabled" };
                writeln!(out, "{}\t{}\t{}\t{status}", user.username, user.role, user.created_at)?;
            }
            Ok(())
        }
        UserCommand::Disable { name, store } => {
            store.open_db()?.set_user_disabled(&name, true, COMMAND_LINE_ACTOR)?;
            eprintln!("user {name} disabled; their sessions have ended");
            Ok(())
        }
        UserCommand::Enable { name, store } => {
            store.open_db()?.set_user_disabled(&name, false, COMMAND_LINE_ACTOR)?;
            eprintln!("user {name} enabled");
            Ok(())
        }
        UserCommand::ResetPassword { name, store } => {
            let (password, generated) = new_password()?;
            store.open_db()?.reset_password(&name, &password, COMMAND_LINE_ACTOR)?;
            if generated {
                println!("{password}");
                eprintln!("user {name} has a new password, shown above only once; their sessions have ended.");
            } else {
                eprintln!("user {name} has the password from standard input; their sessions have ended.");
            }
            Ok(())
        }
        UserCommand::EndSessions { name, store } => {
            let ended = store.open_db()?.end_sessions(&name, COMMAND_LINE_ACTOR)?;
            eprintln!("user {name}: {ended} session(s) ended");
            Ok(())
        }
    }
}

/// `user add`: everything is checked before the database is touched, and
/// the password is never logged; a generated one is printed exactly once.
fn add_user(name: &str, role: &str, store: &StoreArgs) -> Result<(), AppError> {
    let role: Role = role.parse()?;
    let username = Username::parse(name)?;
    let (password, generated) = new_password()?;
    let db = store.open_db()?;
    db.create_user(&username, role, &password, COMMAND_LINE_ACTOR)?;
    if generated {
        println!("{password}");
        eprintln!("user {username} ({role}) created; the password above is shown only once.");
    } else {
        eprintln!("user {username} ({role}) created with the password from standard input.");
    }
    Ok(())
}

/// A password piped to standard input, checked; else a generated one
/// (`true`), rather than echoing one typed on screen.
fn new_password() -> Result<(String, bool), AppError> {
    let (password, generated) = match piped_password()? {
        Some(password) => (password, false),
        None => (generate_password(), true),
    };
    crate::account::check_password(&password)?;
    Ok((password, generated))
}

/// The first line of standard input when something is piped in; `None` when
/// standard input is a terminal or empty.
fn piped_password() -> Result<Option<String>, AppError> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    // Far more than any accepted password; a runaway pipe is not read to the end.
    stdin
        .lock()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|error| AppError::Input {
            file: "standard input".into(),
            error,
        })?;
    if text.is_empty() {
        return Ok(None);
    }
    let line = text.lines().next().unwrap_or("");
    Ok(Some(line.to_string()))
}
