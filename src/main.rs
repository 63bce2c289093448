use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,actix_server=warn")).init();
    let cli = civicpulse::cli::Cli::parse();
    match civicpulse::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`civicpulse export … | head`) is not an error.
        Err(civicpulse::error::AppError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
