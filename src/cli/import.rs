//! `civicpulse import`: interview data in batches. `import SLUG FILE.csv`
//! adds a file as a new batch; `import list`, `import replace` and `import
//! delete` look at and correct earlier ones. The plain form is kept (a
//! survey's yearly script runs it) and the others are subcommands beside
//! it, so a survey cannot be named `list`, `replace` or `delete`.

use super::StoreArgs;
use crate::account::COMMAND_LINE_ACTOR;
use crate::db::ImportBatch;
use crate::error::AppError;
use crate::import::{self, ImportOptions, ImportOutcome};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub command: Option<ImportCommand>,
    #[command(flatten)]
    pub add: AddArgs,
}

/// `import SLUG FILE.csv`: one file, one new batch.
#[derive(Debug, Args)]
pub struct AddArgs {
    // Options only so that a subcommand can stand in for them; clap
    // requires both when there is none.
    /// The survey.
    #[arg(required = true)]
    pub slug: Option<String>,
    /// CSV file: question ids and reserved columns (_id, _weight, _stratum,
    /// _cluster, _submitted_at, _lang, _wave) in its header; an export's
    /// _version, _source and _flag_* columns are accepted and ignored.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Wave (survey year) of every row; default: each row's _wave, else the
    /// year of its _submitted_at. A file holds one wave.
    #[arg(long)]
    pub wave: Option<i32>,
    /// Name of the batch, unique in its wave; default: the file's name
    /// without .csv.
    #[arg(long)]
    pub name: Option<String>,
    /// When every row's _id is stored in the wave already, say what was
    /// skipped and succeed (without it, that is an error).
    #[arg(long)]
    pub skip_existing: bool,
    /// Cluster labels are numbered within strata (R's nest=TRUE): the same
    /// label in two strata is two clusters.
    #[arg(long)]
    pub nest: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Every import batch of a survey, oldest first (tab-separated).
    List {
        /// The survey.
        slug: String,
        /// Only this wave's batches.
        #[arg(long)]
        wave: Option<i32>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace a batch's responses with a corrected file, all at once: the
    /// file is checked completely first, and a file with any problem
    /// changes nothing.
    Replace {
        /// The survey.
        slug: String,
        /// The batch: its name or its id (`import list`).
        batch: String,
        /// The corrected CSV file (same columns as for `import`).
        file: PathBuf,
        /// The wave of the batch, when its name is used in several.
        #[arg(long)]
        wave: Option<i32>,
        /// Cluster labels are numbered within strata (R's nest=TRUE).
        #[arg(long)]
        nest: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a batch and its responses.
    Delete {
        /// The survey.
        slug: String,
        /// The batch: its name or its id (`import list`).
        batch: String,
        /// The wave of the batch, when its name is used in several.
        #[arg(long)]
        wave: Option<i32>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(args: ImportArgs) -> Result<(), AppError> {
    match args.command {
        None => add(args.add),
        Some(ImportCommand::List { slug, wave, store }) => list(&slug, wave, &store),
        Some(ImportCommand::Replace {
            slug,
            batch,
            file,
            wave,
            nest,
            store,
        }) => {
            let (db, registry) = store.open()?;
            known_survey(&registry, &slug)?;
            let batch = import::find_batch(&db, &slug, &batch, wave)?;
            let name = file.display().to_string();
            let outcome = import::replace_batch(
                &db,
                &registry,
                &batch,
                &name,
                || std::fs::File::open(&file).map(std::io::BufReader::new),
                nest,
                COMMAND_LINE_ACTOR,
            )?;
            println!(
                "{name}: replaced batch {:?} (id {}) of {slug} wave {}: {} responses before, {} now{}",
                batch.name,
                batch.id,
                batch.wave,
                outcome.replaced.unwrap_or(0),
                outcome.counts.added,
                skipped_text(&outcome),
            );
            Ok(())
        }
        Some(ImportCommand::Delete {
            slug,
            batch,
            wave,
            store,
        }) => {
            let (db, registry) = store.open()?;
            known_survey(&registry, &slug)?;
            let batch = import::find_batch(&db, &slug, &batch, wave)?;
            let removed = import::delete_batch(&db, &batch, COMMAND_LINE_ACTOR)?;
            println!(
                "deleted batch {:?} (id {}) of {slug} wave {}: {removed} responses",
                batch.name, batch.id, batch.wave
            );
            Ok(())
        }
    }
}

fn known_survey(registry: &crate::registry::SurveyRegistry, slug: &str) -> Result<(), AppError> {
    match registry.latest(slug) {
        Some(_) => Ok(()),
        None => Err(AppError::UnknownSurvey(slug.to_string())),
    }
}

fn add(args: AddArgs) -> Result<(), AppError> {
    let (Some(slug), Some(file)) = (args.slug, args.file) else {
        return Err(AppError::Usage(
            "`civicpulse import SLUG FILE.csv` needs the survey and the file (see `civicpulse import --help`)".into(),
        ));
    };
    let (db, registry) = args.store.open()?;
    let name = file.display().to_string();
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let bar = super::progress::bytes(size, &name);
    let reader = bar.wrap_read(open(&file)?);
    let options = ImportOptions {
        wave: args.wave,
        name: args.name,
        skip_existing: args.skip_existing,
        nest: args.nest,
    };
    let outcome = import::import_csv(&db, &registry, &slug, &name, reader, &options, COMMAND_LINE_ACTOR);
    bar.finish_and_clear();
    let outcome = outcome?;
    match &outcome.batch {
        Some(batch) => println!(
            "{name}: imported {} responses into {slug} wave {} as batch {:?} (id {}){}",
            outcome.counts.added,
            outcome.wave,
            batch.name,
            batch.id,
            skipped_text(&outcome)
        ),
        None => println!(
            "{name}: imported 0 responses{}; no batch was made",
            skipped_text(&outcome)
        ),
    }
    Ok(())
}

/// ", skipped N already imported (their _id is stored in wave W): a, b, …"
fn skipped_text(outcome: &ImportOutcome) -> String {
    let counts = &outcome.counts;
    if counts.skipped == 0 {
        return String::new();
    }
    let more = counts.skipped.saturating_sub(counts.skipped_ids.len() as u64);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        ", skipped {} already imported (their _id is stored in wave {} already): {}{more}",
        counts.skipped,
        outcome.wave,
        counts.skipped_ids.join(", ")
    )
}

fn open(file: &Path) -> Result<std::io::BufReader<std::fs::File>, AppError> {
    std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .map_err(|error| AppError::Input {
            file: file.display().to_string(),
            error,
        })
}

fn list(slug: &str, wave: Option<i32>, store: &StoreArgs) -> Result<(), AppError> {
    let (db, registry) = store.open_read()?;
    known_survey(&registry, slug)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "id\tname\twave\trows\tnested\tcreated_at\tcreated_by\tfile")?;
    for ImportBatch {
        id,
        name,
        wave,
        rows,
        nested,
        created_at,
        created_by,
        file,
        ..
    } in db.import_batches(slug, wave)?
    {
        let nested = if nested { "yes" } else { "no" };
        let file = file.as_deref().unwrap_or("-");
        writeln!(
            out,
            "{id}\t{name}\t{wave}\t{rows}\t{nested}\t{created_at}\t{created_by}\t{file}"
        )?;
    }
    Ok(())
}
