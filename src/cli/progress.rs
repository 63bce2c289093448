//! Progress bars on standard error for the long commands (`export --out`,
//! `import`), drawn only when standard error is a terminal: a script's log
//! or a CI run gets the closing line alone, never bar redraws.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

fn bar(total: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        // Whole responses a second, not indicatif's four decimals.
        let style = style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        );
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Responses written out of `total`, with the rate and the time left.
pub fn responses(total: u64) -> ProgressBar {
    bar(
        total,
        "[{wide_bar}] {human_pos}/{human_len} responses, {rate}, {eta} left",
    )
}

/// Bytes of a file read out of its size, with the rate and the time left.
pub fn bytes(total: u64, file: &str) -> ProgressBar {
    let bar = bar(
        total,
        "{msg}[{wide_bar}] {bytes}/{total_bytes}, {bytes_per_sec}, {eta} left",
    );
    bar.set_message(format!("{file} "));
    bar
}
