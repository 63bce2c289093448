//! The command line: `serve` (the default), `validate`, `survey` (including
//! the designers' drafts: `survey import`, `survey publish`, `survey
//! export`), `export`, `user` (staff accounts), the fieldwork commands
//! (`wave`, `frame`, `invitations`, `fieldwork`; see `fieldwork`), the
//! import batches (`import`; see `import`) and the statistics commands.
//! Flags win over environment variables, which win over defaults.

mod accounts;
mod fieldwork;
mod import;
mod progress;

use crate::config::{self, ServeConfig};
use crate::db::DatabaseUrl;
use crate::error::AppError;
use crate::export::{export, ExportFormat};
use crate::survey::Survey;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "civicpulse",
    version,
    about = "City livability satisfaction surveys: trilingual forms and weighted indices"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Database: an SQLite file path or sqlite://PATH, or a PostgreSQL URL
    /// postgres://USER@HOST/NAME.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = config::DEFAULT_DATABASE)]
    pub database: String,
    /// Folder of extra survey definitions (default: survey-defs/ when it exists).
    #[arg(long, global = true, env = "CIVICPULSE_DEFS")]
    pub defs: Option<PathBuf>,
    /// The server key file (default: beside the database, NAME.key for NAME.db).
    #[arg(long, global = true, env = "CIVICPULSE_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CIVICPULSE_BIND", default_value = config::DEFAULT_BIND)]
    pub bind: String,
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "CIVICPULSE_WORKERS")]
    pub workers: Option<usize>,
    /// Database connections this instance keeps (default: 8 for SQLite,
    /// 32 for PostgreSQL). With several instances on one PostgreSQL, keep
    /// their sum under its max_connections.
    #[arg(long, env = "CIVICPULSE_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: Option<u32>,
    /// Tell browsers to use HTTPS only for this site, for a year
    /// (Strict-Transport-Security). Only behind a TLS proxy that serves
    /// every address of the site over HTTPS.
    #[arg(long, env = "CIVICPULSE_HSTS")]
    pub hsts: bool,
    /// A reverse proxy (IP address) whose X-Forwarded-For / Forwarded
    /// headers name the client; repeat for several.
    #[arg(long, env = "CIVICPULSE_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// A per-client limit, ACTION=N/h (or /m, /d) with ACTION submit, code,
    /// save, resume, signin or api; repeat for several. Defaults:
    /// submit=120/h, code=30/h, save=1200/h, resume=30/h, signin=30/h,
    /// api=3600/h.
    #[arg(long, env = "CIVICPULSE_RATE_LIMIT", value_delimiter = ',')]
    pub rate_limit: Vec<crate::web::limits::LimitSetting>,
    /// The address residents open (e.g. https://survey.example.gov.cn), as
    /// printed on invitation letters; default: the address staff use.
    #[arg(long, env = "CIVICPULSE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The smallest cell size (min_cell) API callers may ask for.
    #[arg(long, env = "CIVICPULSE_MIN_CELL_FLOOR", default_value_t = config::DEFAULT_MIN_CELL_FLOOR)]
    pub min_cell_floor: u64,
    /// Days the answers to free-text questions are kept after submission;
    /// older ones are deleted every hour (choice answers stay). Default:
    /// kept until deleted by hand (`civicpulse purge-text`).
    #[arg(long, env = "CIVICPULSE_FREE_TEXT_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub free_text_days: Option<u32>,
    /// Seconds one analysis (API, dashboard, report) may run before it is
    /// stopped with a clear error; one whose client goes away stops at once.
    #[arg(long, env = "CIVICPULSE_ANALYSIS_TIMEOUT", default_value_t = config::DEFAULT_ANALYSIS_TIMEOUT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub analysis_timeout: u64,
    /// Days a resident's unfinished answers are kept after their last save
    /// (then they are deleted).
    #[arg(long, env = "CIVICPULSE_PARTIAL_DAYS", default_value_t = config::DEFAULT_PARTIAL_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub partial_days: u32,
    /// The city's IANA time zone: survey dates are its calendar days, and
    /// staff pages show its local times.
    #[arg(long, env = "CIVICPULSE_TIME_ZONE", default_value = crate::clock::DEFAULT_TIME_ZONE, value_parser = crate::clock::CityClock::new)]
    pub time_zone: crate::clock::CityClock,
    /// The deployment's official identity (organization, logo, helpline,
    /// privacy notice), a TOML file like deploy/identity.toml; default:
    /// the built-in one.
    #[arg(long, env = "CIVICPULSE_IDENTITY")]
    pub identity: Option<PathBuf>,
    /// Benchmarks only: serve this gzip-encoded file as is at
    /// /bench/static-page (see benches/load/get_form.sh).
    #[arg(long, hide = true)]
    pub bench_static_page: Option<PathBuf>,
    /// Seconds a request waits for a database connection before the
    /// resident is asked to try again (their answers handed back); also
    /// the longest an attempt to connect to PostgreSQL may take.
    #[arg(long, env = "CIVICPULSE_DB_TIMEOUT", default_value_t = crate::db::DEFAULT_CONNECTION_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub db_timeout: u64,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the survey forms (the default command).
    Serve(ServeArgs),
    /// Set up or update the database: apply schema changes and store the
    /// survey definitions (built-in and --defs). The server does the same
    /// at start; read-only commands never do.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete the answers to free-text questions of responses older than
    /// DAYS days (choice answers and indices stay); what was deleted is
    /// counted and audited, never the text. The server does this every hour
    /// with `serve --free-text-days`.
    PurgeText {
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        days: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Check survey definition files; exits non-zero when any is invalid.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Look at surveys; import, publish and export their definitions.
    #[command(subcommand)]
    Survey(SurveyCommand),
    /// Add interview data from a CSV file as a batch (all rows or none);
    /// list, replace or delete batches.
    Import(import::ImportArgs),
    /// Weighted satisfaction indices with confidence intervals.
    Indices {
        slug: String,
        #[command(flatten)]
        options: IndexArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Differences between two waves, with SE, CI and p-value.
    Compare {
        slug: String,
        #[arg(long)]
        from: i32,
        #[arg(long)]
        to: i32,
        /// Degrees of freedom of a difference: min (of the two waves') or
        /// stacked (their sum, as one two-wave design).
        #[arg(long, value_enum, default_value = "min")]
        df: DfArg,
        #[command(flatten)]
        options: IndexArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Population margins for raking, stored per wave.
    #[command(subcommand)]
    Margins(MarginsCommand),
    /// Manage API tokens for the statistics API.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// Manage staff accounts (admin, designer, statistician).
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Set up a survey wave: who may answer, strata, dates, helpline.
    #[command(subcommand)]
    Wave(fieldwork::WaveCommand),
    /// The sampling frame of a wave (population per stratum).
    #[command(subcommand)]
    Frame(fieldwork::FrameCommand),
    /// Invitation codes per stratum, as a CSV and printable letters.
    #[command(subcommand)]
    Invitations(fieldwork::InvitationsCommand),
    /// Fieldwork of a wave: invited, completed, response rate (AAPOR RR1),
    /// design weights, completion times and data-quality flags per stratum.
    Fieldwork {
        slug: String,
        /// Default: the survey's current wave.
        #[arg(long)]
        wave: Option<i32>,
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The yearly report's satisfaction chapter as one self-contained HTML
    /// page (print it, or save it as PDF from a browser): the dashboard's
    /// figures, charts and tables, and a methods section.
    Report {
        slug: String,
        /// Default: the latest wave with responses.
        #[arg(long)]
        wave: Option<i32>,
        #[arg(long, default_value = "zh")]
        lang: crate::lang::Lang,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "design")]
        weights: crate::analysis::Weights,
        /// Sources to use (web, invited, import); default: the wave's
        /// probability sample.
        #[arg(long)]
        source: Option<String>,
        /// The question whose answers are the districts.
        #[arg(long, default_value = "district")]
        by: String,
        /// Confidence level: 0.90, 0.95 or 0.99.
        #[arg(long, default_value_t = 0.95)]
        level: f64,
        /// Leave out responses with these data-quality flags (speeder,straightliner,burst).
        #[arg(long)]
        exclude_flagged: Option<String>,
        /// Smallest cell published.
        #[arg(long, default_value_t = 10)]
        min_cell: u64,
        /// Who runs the survey, for the report's header (see `serve --identity`).
        #[arg(long)]
        identity: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write every response of a survey to standard output (`--format`),
    /// or, with `--out DIR`, responses.csv, responses-labelled.csv,
    /// codebook.json, codebook.md, load.R and load.do into DIR.
    Export {
        slug: String,
        #[arg(long, value_enum, default_value = "json", conflicts_with = "out")]
        format: ExportFormat,
        /// A folder for responses.csv, responses-labelled.csv, the codebook
        /// and the R and Stata scripts (created if needed).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The language of responses-labelled.csv and of the scripts' value
        /// labels (with --out).
        #[arg(long, default_value = "zh", requires = "out")]
        lang: crate::lang::Lang,
        /// Only this wave's responses (default: every wave).
        #[arg(long)]
        wave: Option<i32>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// List the surveys with their versions and response counts.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the published (latest) definition of a survey.
    Show {
        slug: String,
        #[arg(long, value_enum, default_value = "json")]
        format: ShowFormat,
        /// A specific version instead of the latest.
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List every stored version of a survey, drafts included, with its dates.
    Versions {
        slug: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print a stored definition file exactly as stored (default: the latest published version).
    Export {
        slug: String,
        /// A specific published version.
        #[arg(long)]
        version: Option<u32>,
        /// The current draft instead of a published version.
        #[arg(long, conflicts_with = "version")]
        draft: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Store a definition file as the survey's draft (numbered latest + 1,
    /// replacing an earlier draft), or publish it at once with --publish.
    Import {
        file: PathBuf,
        /// Validate and publish it now instead of keeping a draft.
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Validate and publish the current draft of a survey.
    Publish {
        slug: String,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// When a published version may be answered.
#[derive(Debug, Args, Clone)]
pub struct WindowArgs {
    /// First day residents may answer (YYYY-MM-DD); only when publishing.
    #[arg(long, value_parser = crate::survey::schedule::parse_date)]
    pub opens: Option<time::Date>,
    /// Last day residents may answer (YYYY-MM-DD); only when publishing.
    #[arg(long, value_parser = crate::survey::schedule::parse_date)]
    pub closes: Option<time::Date>,
}

#[derive(Debug, Args, Clone)]
pub struct IndexArgs {
    /// Survey wave (year); default: the latest wave with responses.
    #[arg(long)]
    pub wave: Option<i32>,
    /// Also compute every index per answer of this question (e.g. district).
    #[arg(long)]
    pub by: Option<String>,
    #[arg(long, value_enum, default_value = "design")]
    pub weights: crate::analysis::Weights,
    /// Population margins (question,value,total) for --weights raked; default: the wave's stored margins.
    #[arg(long)]
    pub margins: Option<PathBuf>,
    /// With --weights raked: keep every raked weight between L and U times
    /// its design weight (bounded raking, R's calibrate bounds), e.g. 0.5,2.
    #[arg(long, value_parser = crate::analysis::parse_weight_bounds)]
    pub weight_bounds: Option<crate::stats::WeightBounds>,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Cells with fewer respondents are suppressed.
    #[arg(long, default_value_t = 10)]
    pub min_cell: u64,
    #[arg(long, value_enum, default_value = "linearized")]
    pub variance: VarianceArg,
    /// Bootstrap replicates.
    #[arg(long, default_value_t = 1000)]
    pub replicates: usize,
    /// Bootstrap random seed (same seed, same result).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which responses: web, invited, import, or import:BATCH for one
    /// import batch (comma-separated); default: the wave's probability
    /// sample (imported, else invited, else web).
    #[arg(long, value_parser = crate::analysis::parse_sources)]
    pub source: Option<crate::analysis::SourceChoice>,
    /// Leave out responses with these data-quality flags: speeder,
    /// straightliner, burst (comma-separated).
    #[arg(long, value_parser = crate::fieldwork::quality::parse_flags, default_value = "")]
    pub exclude_flagged: crate::fieldwork::Flags,
    /// How a stratum with a single PSU counts in variances: fail, remove,
    /// certainty, adjust or average (as R's survey.lonely.psu).
    #[arg(long, value_parser = crate::analysis::parse_lonely_psu, default_value = "fail")]
    pub lonely_psu: crate::stats::LonelyPsu,
    /// Also the answer distribution (weighted share of each option, with
    /// its CI) of every choice question.
    #[arg(long)]
    pub distributions: bool,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ExportFormat,
    /// auto and rows read every response; sums (PostgreSQL) has the
    /// database add the wave up and computes from the sums
    /// (docs/statistics.md §4.6), slower on the same machine but with a
    /// fifth of the memory; an error where they do not cover the analysis.
    #[arg(long, value_enum, default_value = "auto")]
    pub computation: crate::analysis::Computation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DfArg {
    Min,
    Stacked,
}

impl From<DfArg> for crate::stats::DfRule {
    fn from(arg: DfArg) -> crate::stats::DfRule {
        match arg {
            DfArg::Min => crate::stats::DfRule::Min,
            DfArg::Stacked => crate::stats::DfRule::Stacked,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VarianceArg {
    Linearized,
    Bootstrap,
}

impl IndexArgs {
    fn options(&self) -> Result<crate::analysis::IndexOptions, AppError> {
        let margins = match &self.margins {
            Some(path) => {
                let name = path.display().to_string();
                let file = std::fs::File::open(path).map_err(|error| AppError::Input {
                    file: name.clone(),
                    error,
                })?;
                Some(crate::analysis::parse_margins(&name, file)?)
            }
            None => None,
        };
        Ok(crate::analysis::IndexOptions {
            wave: self.wave,
            by: self.by.clone(),
            weights: self.weights,
            margins,
            level: self.level,
            min_cell: self.min_cell,
            sources: self.source.clone(),
            exclude_flagged: self.exclude_flagged,
            lonely_psu: self.lonely_psu,
            distributions: self.distributions,
            weight_bounds: self.weight_bounds,
            variance: match self.variance {
                VarianceArg::Linearized => crate::analysis::Variance::Linearized,
                VarianceArg::Bootstrap => crate::analysis::Variance::bootstrap(self.replicates, self.seed)?,
            },
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum MarginsCommand {
    /// Store the population margins (question,value,total) of a wave.
    Set {
        slug: String,
        file: PathBuf,
        #[arg(long)]
        wave: i32,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Json,
    Toml,
}

impl StoreArgs {
    fn open(&self) -> Result<(crate::db::Database, crate::registry::SurveyRegistry), AppError> {
        let url = DatabaseUrl::parse(&self.database)?;
        crate::registry::open(&url, config::defs_dir(self.defs.clone()).as_deref())
    }

    /// The database alone, for commands that need no survey definitions.
    fn open_db(&self) -> Result<crate::db::Database, AppError> {
        Ok(crate::db::Database::open(&DatabaseUrl::parse(&self.database)?)?)
    }

    /// For commands that only read: the database must be set up already
    /// (`civicpulse migrate`, or the server's start), and nothing is
    /// written to it, not even a schema change or a definition file.
    fn open_read(&self) -> Result<(crate::db::Database, crate::registry::SurveyRegistry), AppError> {
        crate::registry::open_read(&DatabaseUrl::parse(&self.database)?)
    }

    /// The server key that belongs to `db`.
    fn key(&self, db: &crate::db::Database) -> Result<crate::crypto::ServerKey, AppError> {
        let url = DatabaseUrl::parse(&self.database)?;
        Ok(db.server_key(&config::key_file(self.key_file.clone(), &url))?)
    }
}

/// Run the parsed command line; what `main` calls.
pub fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Validate { files }) => validate(&files),
        Some(Command::PurgeText { days, store }) => {
            let (db, registry) = store.open()?;
            let before = time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
            let purged = db.purge_free_text(&registry.text_questions(), before, crate::account::COMMAND_LINE_ACTOR)?;
            if purged.is_empty() {
                eprintln!("no free-text answers older than {days} days");
            }
            for p in purged {
                println!(
                    "{} v{}: deleted {} free-text answer(s) older than {days} days",
                    p.slug, p.version, p.answers
                );
            }
            Ok(())
        }
        Some(Command::Migrate { store }) => {
            let url = DatabaseUrl::parse(&store.database)?;
            let surveys = crate::survey::load_definitions(config::defs_dir(store.defs.clone()).as_deref())
                .map_err(AppError::Definitions)?;
            let db =
                crate::db::Database::connect(&url, crate::db::PoolSettings::default_for(crate::db::Backend::of(&url)))?;
            // What this process applied: instances migrating at the same
            // time wait for each other, and the later ones find nothing to do.
            let applied = db.migrate()?;
            db.sync_definitions(&surveys)?;
            println!(
                "{url}: schema up to date ({applied} change(s) applied now); {} published survey version(s)",
                db.published_version_count()?
            );
            Ok(())
        }
        Some(Command::Survey(SurveyCommand::List { store })) => {
            let (db, registry) = store.open_read()?;
            let mut out = std::io::stdout().lock();
            for stored in registry.current() {
                let slug = stored.survey.slug.as_str();
                let counts = db.response_counts(slug)?;
                let versions: Vec<String> = counts.iter().map(|(v, n)| format!("v{v}: {n}")).collect();
                writeln!(
                    out,
                    "{slug}\t{}\t{}",
                    stored.survey.title.get(crate::lang::Lang::En),
                    versions.join(", ")
                )?;
            }
            Ok(())
        }
        Some(Command::Survey(SurveyCommand::Show {
            slug,
            format,
            version,
            store,
        })) => {
            let (_db, registry) = store.open_read()?;
            let stored = match version {
                Some(v) => registry.version(&slug, v),
                None => registry.latest(&slug),
            }
            .ok_or_else(|| AppError::UnknownSurvey(slug.clone()))?;
            let mut out = std::io::stdout().lock();
            match format {
                ShowFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &stored.survey.view()).map_err(std::io::Error::from)?;
                    writeln!(out)?;
                }
                ShowFormat::Toml => write!(out, "{}", stored.survey.to_toml())?,
            }
            Ok(())
        }
        Some(Command::Survey(SurveyCommand::Versions { slug, store })) => {
            let (db, _) = store.open_read()?;
            let versions = db.versions(&slug)?;
            if versions.is_empty() {
                return Err(AppError::UnknownSurvey(slug));
            }
            let mut out = std::io::stdout().lock();
            for v in versions {
                let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "v{}\t{}\tcreated {}\tpublished {}\topens {}\tcloses {}",
                    v.version,
                    v.status,
                    v.created_at,
                    or_dash(&v.published_at),
                    or_dash(&v.opens_at),
                    or_dash(&v.closes_at)
                )?;
            }
            Ok(())
        }
        Some(Command::Survey(SurveyCommand::Export {
            slug,
            version,
            draft,
            store,
        })) => {
            let (db, _) = store.open_read()?;
            let text = if draft {
                db.draft(&slug)?
                    .ok_or_else(|| crate::db::DraftError::NoDraft { slug: slug.clone() })?
                    .definition
            } else {
                match db.published_definition(&slug, version)? {
                    Some((_, text)) => text,
                    None => match version {
                        Some(version) if db.published_definition(&slug, None)?.is_some() => {
                            return Err(crate::db::DraftError::NoVersion { slug, version }.into())
                        }
                        _ => return Err(AppError::UnknownSurvey(slug)),
                    },
                }
            };
            write!(std::io::stdout().lock(), "{text}")?;
            Ok(())
        }
        Some(Command::Survey(SurveyCommand::Import {
            file,
            publish,
            window,
            store,
        })) => import_definition(&file, publish, &window, &store),
        Some(Command::Survey(SurveyCommand::Publish { slug, window, store })) => {
            let window = crate::survey::schedule::DateWindow::new(window.opens, window.closes)
                .map_err(crate::db::DraftError::from)?;
            let (db, _) = store.open()?;
            let version = db.publish_draft(&slug, window, crate::account::COMMAND_LINE_ACTOR)?;
            println!("published {slug} v{version}");
            Ok(())
        }
        Some(Command::Import(args)) => import::run(args),
        Some(Command::Indices { slug, options, store }) => {
            let (db, registry) = store.open_read()?;
            let report = crate::analysis::indices_by(&db, &registry, &slug, &options.options()?, options.computation)?;
            print_report(&report, options.format, crate::analysis::write_index_csv)
        }
        Some(Command::Compare {
            slug,
            from,
            to,
            df,
            options,
            store,
        }) => {
            let (db, registry) = store.open_read()?;
            let report = crate::analysis::compare(&db, &registry, &slug, from, to, &options.options()?, df.into())?;
            print_report(&report, options.format, crate::analysis::write_compare_csv)
        }
        Some(Command::Margins(MarginsCommand::Set {
            slug,
            file,
            wave,
            store,
        })) => {
            let (db, registry) = store.open()?;
            let name = file.display().to_string();
            let reader = std::fs::File::open(&file).map_err(|error| AppError::Input {
                file: name.clone(),
                error,
            })?;
            let margins = crate::analysis::parse_margins(&name, reader)?;
            let latest = registry
                .latest(&slug)
                .ok_or_else(|| AppError::UnknownSurvey(slug.clone()))?;
            // Checked against the questionnaire now, not at the first
            // analysis: unknown questions or values, a category twice.
            crate::analysis::check_margins(&slug, &margins, &latest.survey)?;
            db.set_margins(&slug, wave, &margins)?;
            println!(
                "{name}: stored {} population totals for {slug} wave {wave}",
                margins.len()
            );
            Ok(())
        }
        Some(Command::Token(command)) => accounts::token(command),
        Some(Command::User(command)) => accounts::user(command),
        Some(Command::Wave(command)) => fieldwork::wave(command),
        Some(Command::Frame(command)) => fieldwork::frame(command),
        Some(Command::Invitations(command)) => fieldwork::invitations(command),
        Some(Command::Fieldwork {
            slug,
            wave,
            format,
            store,
        }) => fieldwork::fieldwork(&slug, wave, format, &store),
        Some(Command::Report {
            slug,
            wave,
            lang,
            out,
            weights,
            source,
            by,
            level,
            exclude_flagged,
            min_cell,
            identity,
            store,
        }) => {
            let mut pairs: Vec<(String, String)> = vec![
                ("weights".into(), crate::dashboard::weights_name(weights).into()),
                ("by".into(), by),
                ("level".into(), level.to_string()),
            ];
            pairs.extend(wave.map(|w| ("wave".to_string(), w.to_string())));
            pairs.extend(source.iter().map(|s| ("source".to_string(), s.clone())));
            for flag in exclude_flagged
                .iter()
                .flat_map(|f| f.split(','))
                .filter(|f| !f.trim().is_empty())
            {
                pairs.push(("exclude".into(), flag.trim().to_string()));
            }
            let options = crate::dashboard::DashboardOptions::from_pairs(&pairs)
                .map_err(|e| AppError::Usage(format!("--{e}")))?;
            let (db, registry) = store.open_read()?;
            let identity = match identity {
                Some(file) => crate::identity::Identity::load(&file)?,
                None => crate::identity::Identity::builtin(),
            };
            let renderer = crate::web::render::Renderer::new(crate::web::i18n::Messages::load()?)?
                .with_identity(std::sync::Arc::new(identity));
            let wording = crate::web::report::CatalogWording {
                messages: &renderer.messages,
                lang,
            };
            let plan = crate::dashboard::plan(&db, &registry, &slug, &options)?;
            let indices = |wave: i32| {
                crate::analysis::indices(&db, &registry, &slug, &options.index_options(wave, min_cell))
                    .map(std::sync::Arc::new)
            };
            let reports = crate::dashboard::Reports {
                current: indices(plan.wave)?,
                earlier: plan
                    .earlier_waves()
                    .map(|w| (w, indices(w).map_err(|e| e.to_string())))
                    .collect(),
                fieldwork: match plan.invitations {
                    true => Some(crate::analysis::fieldwork(
                        &db,
                        &registry,
                        &slug,
                        Some(plan.wave),
                        crate::clock::CityClock::default().today(),
                    )?),
                    false => None,
                },
            };
            let dashboard = crate::dashboard::build(&registry, &slug, &options, min_cell, &plan, reports, &wording)?;
            let html = crate::web::report::render(&renderer, &dashboard, lang)?;
            write_whole(&out, html.as_bytes())?;
            eprintln!(
                "wrote the {} report of {slug}, wave {}, to {}",
                lang.english_name(),
                dashboard.wave,
                out.display()
            );
            Ok(())
        }
        Some(Command::Export {
            slug,
            out: Some(dir),
            lang,
            wave,
            store,
            ..
        }) => {
            let (db, registry) = store.open_read()?;
            let bar = progress::responses(crate::export::response_count(&db, &slug, wave)?);
            let options = crate::export::ExportOptions { wave, lang };
            let n = crate::export::export_to_dir(&db, &registry, &slug, &options, &dir, &mut |done| {
                bar.set_position(done)
            })?;
            bar.finish_and_clear();
            eprintln!(
                "exported {n} responses of {slug} to {} ({})",
                dir.display(),
                crate::export::EXPORT_FILES.join(", ")
            );
            Ok(())
        }
        Some(Command::Export {
            slug,
            format,
            wave,
            store,
            ..
        }) => {
            let (db, registry) = store.open_read()?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = export(&db, &registry, &slug, wave, format, &mut out)?;
            out.flush()?;
            log::info!("exported {n} responses of {slug}");
            Ok(())
        }
    }
}

/// Write `bytes` to `path` beside it first and rename, so a reader never
/// finds half a file.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<(), AppError> {
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    std::fs::write(&part, bytes)?;
    std::fs::rename(&part, path)?;
    Ok(())
}

/// A report to standard output, as pretty JSON or through its CSV writer.
pub(crate) fn print_report<T: serde::Serialize>(
    report: &T,
    format: ExportFormat,
    write_csv: fn(&T, &mut dyn Write) -> Result<(), csv::Error>,
) -> Result<(), AppError> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        ExportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        ExportFormat::Csv => write_csv(report, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), AppError> {
    let database = DatabaseUrl::parse(&args.store.database)?;
    let mut pool = crate::db::PoolSettings::default_for(crate::db::Backend::of(&database));
    if let Some(size) = args.pool_size {
        pool.max_size = size;
    }
    let config = ServeConfig {
        pool,
        hsts: args.hsts,
        body_deadline: crate::web::body_deadline::DEFAULT_BODY_DEADLINE,
        bind: args.bind,
        key_file: config::key_file(args.store.key_file, &database),
        database,
        defs_dir: config::defs_dir(args.store.defs),
        workers: args.workers,
        limits: crate::web::limits::Limits::default().with(&args.rate_limit),
        trusted_proxies: args.trusted_proxy,
        public_url: args.public_url,
        min_cell_floor: args.min_cell_floor,
        analysis_timeout: std::time::Duration::from_secs(args.analysis_timeout),
        free_text_retention: args.free_text_days.map(|d| time::Duration::days(i64::from(d))),
        partial_lifetime: time::Duration::days(args.partial_days.into()),
        clock: args.time_zone,
        identity: std::sync::Arc::new(match &args.identity {
            Some(file) => crate::identity::Identity::load(file)?,
            None => crate::identity::Identity::builtin(),
        }),
        bench_static_page: args.bench_static_page,
        db_timeout: std::time::Duration::from_secs(args.db_timeout),
    };
    let app = crate::web::Application::build(&config)?;
    // The port bound, which `--bind HOST:0` leaves to the system.
    let address = match config.bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{}", app.port()),
        None => config.bind.clone(),
    };
    log::info!("serving on http://{address} (database {})", config.database);
    eprintln!(
        "civicpulse: listening on http://{address}  (database: {})",
        config.database
    );
    actix_web::rt::System::new()
        .block_on(app.run_until_stopped())
        .map_err(AppError::Output)
}

/// `survey import`: the file must read as a definition (a draft may still
/// lack translations); its `version` is replaced by the number it gets.
fn import_definition(
    file: &std::path::Path,
    publish: bool,
    window: &WindowArgs,
    store: &StoreArgs,
) -> Result<(), AppError> {
    let name = file.display().to_string();
    if !publish && (window.opens.is_some() || window.closes.is_some()) {
        return Err(AppError::Usage(
            "--opens and --closes are set when publishing: add --publish, or give them to `civicpulse survey publish`"
                .into(),
        ));
    }
    let window =
        crate::survey::schedule::DateWindow::new(window.opens, window.closes).map_err(crate::db::DraftError::from)?;
    let text = std::fs::read_to_string(file).map_err(|error| AppError::Input {
        file: name.clone(),
        error,
    })?;
    let raw: crate::survey::raw::RawSurvey = toml::from_str(&text).map_err(|e| {
        AppError::Definitions(vec![crate::survey::DefinitionError::Syntax {
            source_name: name.clone(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        }])
    })?;
    let slug = raw.slug.clone();
    let (db, _) = store.open()?;
    let actor = crate::account::COMMAND_LINE_ACTOR;
    if publish {
        let version = db.import_and_publish(raw, window, actor)?;
        println!("{name}: published {slug} v{version}");
    } else {
        let version = db.store_draft(raw, actor)?;
        println!("{name}: stored {slug} v{version} as a draft; `civicpulse survey publish {slug}` publishes it");
    }
    Ok(())
}

fn validate(files: &[PathBuf]) -> Result<(), AppError> {
    let mut errors = Vec::new();
    for file in files {
        match Survey::from_file(file) {
            Ok(survey) => println!(
                "{}: ok ({} v{}, {} questions)",
                file.display(),
                survey.slug,
                survey.version,
                survey.questions.len()
            ),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Definitions(errors))
    }
}
