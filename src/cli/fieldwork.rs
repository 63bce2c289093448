//! The fieldwork commands: `wave` (set up a wave: access, strata, dates,
//! helpline), `frame` (the sampling frame), `invitations` (batches of
//! codes, written as a mail-merge CSV and printable letters) and
//! `fieldwork` (invited, completed, response rates, weights, flags).

use super::{print_report, StoreArgs};
use crate::account::COMMAND_LINE_ACTOR;
use crate::error::AppError;
use crate::export::ExportFormat;
use crate::fieldwork::wave::{check_stratum, parse_frame, stratum_values, Access};
use crate::fieldwork::WaveSettings;
use crate::lang::Lang;
use crate::survey::schedule::DateWindow;
use crate::web::letters::{codes_csv, letters_html, LetterSettings};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where residents open the survey, as printed on letters.
#[derive(Debug, Args, Clone)]
pub struct PublicUrlArgs {
    /// The address residents open, as printed on letters and in QR codes
    /// (e.g. https://survey.example.gov.cn).
    #[arg(long, env = "CIVICPULSE_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
}

#[derive(Debug, Subcommand)]
pub enum WaveCommand {
    /// Set up a wave, or change its settings (only the options given change).
    Set {
        slug: String,
        #[arg(long)]
        wave: i32,
        /// Who may answer: open (anyone with the link), invitation, or both.
        #[arg(long)]
        access: Option<String>,
        /// The single-choice question whose answers are the strata (default: district).
        #[arg(long)]
        stratum_question: Option<String>,
        /// First day of fieldwork (YYYY-MM-DD).
        #[arg(long, value_parser = crate::survey::schedule::parse_date)]
        opens: Option<time::Date>,
        /// Last day of fieldwork (YYYY-MM-DD).
        #[arg(long, value_parser = crate::survey::schedule::parse_date)]
        closes: Option<time::Date>,
        /// Whom residents call, as printed on letters (e.g. "12345, Mon-Fri 8:30-17:30").
        #[arg(long)]
        helpline: Option<String>,
        /// The day the results are to be published (YYYY-MM-DD), told to
        /// residents on the thank-you page.
        #[arg(long, value_parser = crate::survey::schedule::parse_date)]
        results_published: Option<time::Date>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the waves set up for a survey.
    List {
        slug: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum FrameCommand {
    /// Store the sampling frame of a wave: a CSV `stratum,population`.
    Set {
        slug: String,
        file: PathBuf,
        #[arg(long)]
        wave: i32,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LetterLang {
    /// One letter in Chinese, English and Korean.
    All,
    Zh,
    En,
    Ko,
}

impl LetterLang {
    fn langs(self) -> Vec<Lang> {
        match self {
            LetterLang::All => Lang::ALL.to_vec(),
            LetterLang::Zh => vec![Lang::Zh],
            LetterLang::En => vec![Lang::En],
            LetterLang::Ko => vec![Lang::Ko],
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct LetterArgs {
    /// Folder for the CSV and the letters (default: the current folder).
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Language of the letters.
    #[arg(long, value_enum, default_value = "all")]
    pub lang: LetterLang,
    #[command(flatten)]
    pub url: PublicUrlArgs,
}

#[derive(Debug, Subcommand)]
pub enum InvitationsCommand {
    /// Issue a batch of invitation codes for one stratum, written as a CSV
    /// (code,stratum,url) and printable letters.
    Create {
        slug: String,
        #[arg(long)]
        wave: i32,
        #[arg(long)]
        stratum: String,
        #[arg(long)]
        count: u64,
        #[command(flatten)]
        letters: LetterArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write a batch's CSV and letters again.
    Export {
        slug: String,
        #[arg(long)]
        batch: i64,
        #[command(flatten)]
        letters: LetterArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the invitation batches of a survey with how many were used.
    List {
        slug: String,
        #[arg(long)]
        wave: Option<i32>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn wave(command: WaveCommand) -> Result<(), AppError> {
    match command {
        WaveCommand::Set {
            slug,
            wave,
            access,
            stratum_question,
            opens,
            closes,
            helpline,
            results_published,
            store,
        } => {
            let (db, registry) = store.open()?;
            let survey = &registry
                .latest(&slug)
                .ok_or_else(|| AppError::UnknownSurvey(slug.clone()))?
                .survey;
            let mut settings = db.wave(&slug, wave)?.unwrap_or_else(|| WaveSettings::new(wave));
            if let Some(access) = access {
                settings.access = access.parse::<Access>().map_err(|e| AppError::Usage(e.to_string()))?;
            }
            if let Some(question) = stratum_question {
                settings.stratum_question = question;
            }
            stratum_values(survey, &settings.stratum_question).map_err(|e| AppError::Usage(e.to_string()))?;
            let window = DateWindow::new(opens.or(settings.window.opens()), closes.or(settings.window.closes()))
                .map_err(|e| AppError::Usage(e.to_string()))?;
            settings.window = window;
            if let Some(helpline) = helpline {
                settings.helpline = helpline.trim().to_string();
            }
            if let Some(day) = results_published {
                settings.results_published = Some(day);
            }
            let problems = settings.problems();
            if !problems.is_empty() {
                return Err(AppError::Usage(problems.join("; ")));
            }
            db.set_wave(&slug, &settings, COMMAND_LINE_ACTOR)?;
            println!("{}", describe(&slug, &settings));
            Ok(())
        }
        WaveCommand::List { slug, store } => {
            let (db, _) = store.open_read()?;
            let mut out = std::io::stdout().lock();
            for settings in db.wave_settings(&slug)? {
                writeln!(out, "{}", describe(&slug, &settings))?;
            }
            Ok(())
        }
    }
}

fn describe(slug: &str, s: &WaveSettings) -> String {
    let date = |d: Option<time::Date>| d.map_or("-".to_string(), |d| crate::survey::schedule::DateText(d).to_string());
    format!(
        "{slug} wave {}\taccess {}\tstrata from {}\topens {}\tcloses {}\thelpline {}\tresults {}",
        s.wave,
        s.access,
        s.stratum_question,
        date(s.window.opens()),
        date(s.window.closes()),
        if s.helpline.is_empty() { "-" } else { &s.helpline },
        date(s.results_published),
    )
}

pub fn frame(command: FrameCommand) -> Result<(), AppError> {
    let FrameCommand::Set {
        slug,
        file,
        wave,
        store,
    } = command;
    let (db, registry) = store.open()?;
    let survey = &registry
        .latest(&slug)
        .ok_or_else(|| AppError::UnknownSurvey(slug.clone()))?
        .survey;
    let settings = db.wave(&slug, wave)?.unwrap_or_else(|| WaveSettings::new(wave));
    let name = file.display().to_string();
    let reader = std::fs::File::open(&file).map_err(|error| AppError::Input {
        file: name.clone(),
        error,
    })?;
    let strata =
        parse_frame(&name, reader, survey, &settings.stratum_question).map_err(|e| AppError::Usage(e.to_string()))?;
    let created = db.set_frame(&slug, &settings, &strata, COMMAND_LINE_ACTOR)?;
    let total: f64 = strata.iter().map(|s| s.population).sum();
    println!(
        "{name}: stored {} strata (population {total}) for {slug} wave {wave}",
        strata.len()
    );
    if created {
        eprintln!(
            "wave {wave} of {slug} was set up now, by invitation only; `civicpulse wave set {slug} --wave {wave} \
             --access both` also admits the open link"
        );
    }
    Ok(())
}

pub fn invitations(command: InvitationsCommand) -> Result<(), AppError> {
    match command {
        InvitationsCommand::Create {
            slug,
            wave,
            stratum,
            count,
            letters,
            store,
        } => {
            let (db, registry) = store.open()?;
            let stored = registry
                .latest(&slug)
                .ok_or_else(|| AppError::UnknownSurvey(slug.clone()))?;
            let settings = db.wave(&slug, wave)?.ok_or_else(|| {
                AppError::Database(
                    crate::db::FieldworkError::NoWave {
                        slug: slug.clone(),
                        wave,
                    }
                    .into(),
                )
            })?;
            let problems = crate::fieldwork::InvitationRequest {
                stratum: stratum.clone(),
                count,
            }
            .problems();
            if !problems.is_empty() {
                return Err(AppError::Usage(problems.join("; ")));
            }
            check_stratum(&stored.survey, &settings.stratum_question, &stratum)
                .map_err(|e| AppError::Usage(e.to_string()))?;
            let key = store.key(&db)?;
            let renderer = crate::web::render::Renderer::new(crate::web::i18n::Messages::load()?)?;
            let letter_settings = LetterSettings {
                survey: &stored.survey,
                wave: &settings,
                version_window: stored.window,
                base_url: &letters.url.public_url,
                langs: &letters.lang.langs(),
            };
            // Letters must be printable, and their folder there, before any
            // code is issued: codes without their letters help no one.
            letter_settings.check().map_err(|e| AppError::Usage(e.to_string()))?;
            out_folder(&letters.out_dir)?;
            let (batch, issued) = db.create_invitations(&slug, wave, &stratum, count, &key, COMMAND_LINE_ACTOR)?;
            write_batch(&renderer, &letter_settings, &letters.out_dir, &batch, &issued)
        }
        InvitationsCommand::Export {
            slug,
            batch,
            letters,
            store,
        } => {
            let (db, registry) = store.open()?;
            let stored = registry
                .latest(&slug)
                .ok_or_else(|| AppError::UnknownSurvey(slug.clone()))?;
            let key = store.key(&db)?;
            let (batch, issued) = db.invitation_batch(&slug, batch, &key)?;
            let settings = db
                .wave(&slug, batch.wave)?
                .unwrap_or_else(|| WaveSettings::new(batch.wave));
            let renderer = crate::web::render::Renderer::new(crate::web::i18n::Messages::load()?)?;
            let letter_settings = LetterSettings {
                survey: &stored.survey,
                wave: &settings,
                version_window: stored.window,
                base_url: &letters.url.public_url,
                langs: &letters.lang.langs(),
            };
            out_folder(&letters.out_dir)?;
            write_batch(&renderer, &letter_settings, &letters.out_dir, &batch, &issued)
        }
        InvitationsCommand::List { slug, wave, store } => {
            let (db, _) = store.open_read()?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "batch\twave\tstratum\tinvitations\tused\tcreated\tby")?;
            for b in db.invitation_batches(&slug, wave)? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    b.id, b.wave, b.stratum, b.size, b.used, b.created_at, b.created_by
                )?;
            }
            Ok(())
        }
    }
}

/// `dir`, made if it is not there yet; an error that names it otherwise.
fn out_folder(dir: &Path) -> Result<(), AppError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::Usage(format!("cannot make the folder {} for the letters: {e}", dir.display())))
}

fn write_batch(
    renderer: &crate::web::render::Renderer,
    settings: &LetterSettings<'_>,
    out_dir: &Path,
    batch: &crate::db::InvitationBatch,
    issued: &[crate::db::IssuedInvitation],
) -> Result<(), AppError> {
    let stem = format!("{}-{}-{}-batch{}", batch.slug, batch.wave, batch.stratum, batch.id);
    let write = |name: String, bytes: &[u8]| -> Result<PathBuf, AppError> {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).map_err(AppError::Output)?;
        Ok(path)
    };
    let csv = codes_csv(settings.base_url, batch, issued)?;
    let csv_path = write(format!("{stem}.csv"), &csv)?;
    let html = letters_html(renderer, settings, batch, issued).map_err(|e| AppError::Usage(e.to_string()))?;
    let html_path = write(format!("{stem}-letters.html"), html.as_bytes())?;
    println!(
        "batch {}: {} invitations for {} ({} wave {})\n  {}\n  {}",
        batch.id,
        issued.len(),
        batch.stratum,
        batch.slug,
        batch.wave,
        csv_path.display(),
        html_path.display()
    );
    Ok(())
}

pub fn fieldwork(slug: &str, wave: Option<i32>, format: ExportFormat, store: &StoreArgs) -> Result<(), AppError> {
    let (db, registry) = store.open_read()?;
    // The command has no --time-zone of its own: the server's setting, if
    // the environment gives it, else the default city zone.
    let clock = std::env::var("CIVICPULSE_TIME_ZONE")
        .ok()
        .and_then(|zone| crate::clock::CityClock::new(&zone).ok())
        .unwrap_or_default();
    let report = crate::analysis::fieldwork(&db, &registry, slug, wave, clock.today())?;
    print_report(&report, format, crate::fieldwork::figures::write_fieldwork_csv)
}
