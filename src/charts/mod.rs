//! Charts drawn on the server: figures in, accessible SVG out, and the same
//! SVG as PNG, and the table behind a chart as CSV and `.xlsx`, for the
//! dashboard's downloads and the yearly report (issue 10). Pure: no I/O, no
//! HTTP, no database; the caller gives the figures and the texts in the
//! page's language, and the chart has no language logic of its own.
//!
//! The SVG is made for WCAG 1.1.1 and our CSP:
//! - `<svg role="img" aria-labelledby="{id}-title {id}-desc">` with a
//!   `<title>` and a `<desc>`; the data table behind the chart is the
//!   caller's ([`Table`]);
//! - no `style` attribute, no `<style>` and no `<script>`: presentation
//!   attributes (`fill`, `stroke`, `font-size`, …), which any page stylesheet
//!   overrides, and `chart-` classes to restyle by;
//! - colour is never the only signal: low precision is hatched and dashed
//!   and carries a `†` after its value, a highlight has a heavy outline and
//!   a `*`, a suppressed figure draws nothing and says so in words
//!   (`Legend::suppressed`); the legend names only the marks used;
//! - every viewBox is 360 wide (small multiples with more than two columns
//!   are wider) and scales with the page, so text at 12 units is 12 px on a
//!   phone; long labels go on their own lines above the bars.
//!
//! Every drawn row or point is a `<g>` carrying the figures it was drawn
//! from (`data-label`, `data-value`, `data-low`, `data-high` as Rust's
//! shortest round-trip `{}`, absent when None, and `data-mark`), and every
//! plot a `<g class="chart-plot">` carrying its mapping, so a test can check
//! the drawing against the API's JSON:
//!
//! ```text
//! x(v) = data-x-min + (clamp(v, min, max) - min) / (max - min) * (data-x-max - data-x-min)
//! ```
//!
//! with `min`, `max` = `data-scale-min`, `data-scale-max` (for trends, `y`
//! the same way with `data-y-min`, `data-y-max`). A bar runs from x(0) to
//! x(value) when the scale contains 0; on a scale that does not, a bar's
//! length would mislead, so each value is a dot at x(value). A whisker runs
//! from x(low) to x(high). Figures outside the scale are drawn at its edge;
//! figures that are not finite are treated as missing. A suppressed figure
//! is never written into the SVG, not even as `data-value`.
//!
//! Output is deterministic: the same chart gives the same bytes.

mod interval;
mod svg;
pub mod table;
#[cfg(test)]
mod tests;
mod trend;

pub use interval::{interval_svg, small_multiples_svg};
pub use svg::{HIGHLIGHT_MARKER, LOW_PRECISION_MARKER};
pub use table::{write_csv, xlsx, Cell, Table};
pub use trend::trend_svg;

use std::sync::{Arc, OnceLock};

/// The value axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub min: f64,
    pub max: f64,
    /// Values are proportions (0–1) shown as percent (0–100 %).
    pub percent: bool,
}

impl Scale {
    /// The livability indices' scale, 0–100 (docs/statistics.md).
    pub fn index() -> Scale {
        Scale {
            min: 0.0,
            max: 100.0,
            percent: false,
        }
    }

    /// Proportions shown as 0–100 %.
    pub fn proportion() -> Scale {
        Scale {
            min: 0.0,
            max: 1.0,
            percent: true,
        }
    }

    /// The bounds drawn: the given ones when they are finite and
    /// `min < max`, else 0–1 (or 0–100), so a bad scale draws a chart
    /// rather than NaN coordinates.
    pub(crate) fn bounds(&self) -> (f64, f64) {
        if self.min.is_finite() && self.max.is_finite() && self.min < self.max {
            (self.min, self.max)
        } else if self.percent {
            (0.0, 1.0)
        } else {
            (0.0, 100.0)
        }
    }

    /// `v`'s position between `from` (at `min`) and `to` (at `max`),
    /// clamped to the scale.
    pub(crate) fn map(&self, v: f64, from: f64, to: f64) -> f64 {
        let (min, max) = self.bounds();
        let t = (v.clamp(min, max) - min) / (max - min);
        from + t * (to - from)
    }
}

/// A labelled dashed line across the rows, e.g. the city-wide value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub label: String,
    pub value: f64,
}

/// The legend's texts, in the page's language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Legend {
    /// Written in a suppressed row instead of its bar, e.g. "suppressed".
    pub suppressed: String,
    /// Beside the hatched swatch and `†`, e.g. "low precision (n_eff < 30)".
    pub low_precision: String,
    /// Beside the whisker swatch, e.g. "95% confidence interval".
    pub interval: String,
    /// Beside the heavy-outlined swatch and `*`, e.g. "significant change".
    pub highlight: String,
}

/// How a row or point is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mark {
    #[default]
    Normal,
    /// Hatched, dashed outline, `†` after the value.
    LowPrecision,
    /// Nothing drawn; `Legend::suppressed` in its place.
    Suppressed,
    /// Heavier outline, `*` after the value (e.g. a significant change).
    Highlight,
}

impl Mark {
    /// The `data-mark` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Normal => "normal",
            Mark::LowPrecision => "low-precision",
            Mark::Suppressed => "suppressed",
            Mark::Highlight => "highlight",
        }
    }
}

/// Horizontal rows: a bar (or dot) per row with its confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalChart {
    /// Unique in a page; the SVG's ids are made from it. Use ASCII letters,
    /// digits, `-` and `_` (anything else becomes `_`).
    pub id: String,
    pub title: String,
    /// One or two sentences: what the chart shows.
    pub description: String,
    pub axis_label: String,
    pub scale: Scale,
    pub reference: Option<Reference>,
    pub rows: Vec<IntervalRow>,
    pub legend: Legend,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntervalRow {
    pub label: String,
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub mark: Mark,
    /// A short remark under the label (e.g. "n = 23"); a chart with notes
    /// puts every label above its bar.
    pub note: Option<String>,
}

/// Values over waves: x = the points in order, y = value with whiskers, the
/// points joined by a line that breaks where a value is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendChart {
    pub id: String,
    pub title: String,
    pub description: String,
    pub axis_label: String,
    pub scale: Scale,
    pub points: Vec<TrendPoint>,
    pub legend: Legend,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub label: String,
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub mark: Mark,
}

#[derive(thiserror::Error, Debug)]
pub enum ChartError {
    #[error("the chart's SVG could not be read for rendering: {0}")]
    Svg(String),
    #[error("the chart is too large to render as PNG ({width}×{height} pixels)")]
    PngSize { width: u32, height: u32 },
    #[error("the chart could not be encoded as PNG: {0}")]
    PngEncode(String),
    #[error("row {row} of table '{title}' has {found} cells but the table has {expected} columns")]
    RowLength {
        title: String,
        row: usize,
        expected: usize,
        found: usize,
    },
    #[error("writing the table as CSV failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the table failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the table as .xlsx failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// PNG pixels per SVG user unit: 2× for sharp text on high-density screens
/// and in documents.
pub const PNG_SCALE: f32 = 2.0;

/// The largest PNG side rendered, in pixels: a chart is far smaller; this
/// bounds the memory a malformed SVG could ask for.
const PNG_MAX_SIDE: u32 = 8192;

/// The system's fonts, loaded once per process (a scan of the font
/// directories takes tens of milliseconds). Sans-serif is mapped to the
/// first installed of a few common families; characters it lacks (Chinese,
/// Korean) fall back to any installed font that has them, e.g. Noto CJK.
fn fonts() -> Arc<resvg::usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_system_fonts();
            let installed = |name: &str| db.faces().any(|f| f.families.iter().any(|(family, _)| family == name));
            let preferred = [
                "Noto Sans",
                "DejaVu Sans",
                "Liberation Sans",
                "Arial",
                "Noto Sans CJK SC",
            ];
            if let Some(family) = preferred.into_iter().find(|f| installed(f)) {
                db.set_sans_serif_family(family);
            }
            Arc::new(db)
        })
        .clone()
}

/// `svg` (one of ours, or any self-contained SVG) as PNG at [`PNG_SCALE`]
/// times its viewBox size.
pub fn png(svg: &str) -> Result<Vec<u8>, ChartError> {
    use resvg::{tiny_skia, usvg};
    let options = usvg::Options {
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| ChartError::Svg(e.to_string()))?;
    let size = tree.size();
    let width = (size.width() * PNG_SCALE).ceil() as u32;
    let height = (size.height() * PNG_SCALE).ceil() as u32;
    if width == 0 || height == 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE {
        return Err(ChartError::PngSize { width, height });
    }
    let mut pixmap = tiny_skia::Pixmap::new(width, height).ok_or(ChartError::PngSize { width, height })?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| ChartError::PngEncode(e.to_string()))
}
