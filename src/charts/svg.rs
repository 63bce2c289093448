//! The small pieces every chart is written with: escaping, id tokens,
//! numbers, text measurement and wrapping, axis ticks, colours, and the
//! legend. No fonts are available when the SVG is written, so text widths are
//! estimates that err on the wide side.

use super::{Legend, Mark, Scale};
use std::fmt::Write as _;

/// The width of every chart's viewBox (user units). Sizes below are chosen
/// for it: at a 360-pixel phone the chart is drawn 1:1, text at 12 px.
pub(crate) const WIDTH: f64 = 360.0;
/// Outer padding.
pub(crate) const PAD: f64 = 8.0;
/// Font size of labels, values, ticks and the legend.
pub(crate) const FONT: f64 = 12.0;
/// Line height of `FONT` text.
pub(crate) const LINE: f64 = 15.0;

pub(crate) const TEXT: &str = "#1f2328";
pub(crate) const MUTED: &str = "#57606a";
pub(crate) const GRID: &str = "#d0d7de";
/// Bar fill: light, so the black whisker on top of it stays visible.
pub(crate) const BAR_FILL: &str = "#9ec0e4";
/// Bar outline: dark enough (> 3:1 on white) to carry the bar's shape on
/// its own (WCAG 1.4.11).
pub(crate) const BAR_STROKE: &str = "#2f5d8f";
pub(crate) const HIGHLIGHT_FILL: &str = "#5b8cc4";
pub(crate) const REFERENCE: &str = "#9a4d00";

/// Printed after the value of a low-precision row or point.
pub const LOW_PRECISION_MARKER: &str = "†";
/// Printed after the value of a highlighted row or point.
pub const HIGHLIGHT_MARKER: &str = "*";

/// `text` safe inside XML text and double- or single-quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newline are not allowed
            // in XML 1.0 at all; a browser would refuse the whole page.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The chart id as an XML id token: it is joined into other ids and into
/// the space-separated `aria-labelledby`, so anything but ASCII letters,
/// digits, `-` and `_` becomes `_`. Ids that are already tokens are kept.
pub(crate) fn id_token(id: &str) -> String {
    let token: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match token.chars().next() {
        None => "chart".to_string(),
        // An XML id cannot start with a digit or '-'.
        Some(c) if !c.is_ascii_alphabetic() && c != '_' => format!("c{token}"),
        Some(_) => token,
    }
}

/// A coordinate. Full precision (shortest round trip), so that a test can
/// check the drawing against the scale exactly.
pub(crate) fn n(v: f64) -> String {
    if v == 0.0 {
        // No "-0".
        "0".to_string()
    } else {
        format!("{v}")
    }
}

/// The value as printed beside its bar or point: whole percent on a percent
/// scale, one decimal otherwise.
pub(crate) fn value_text(scale: &Scale, v: f64) -> String {
    if scale.percent {
        format!("{:.0}%", v * 100.0)
    } else {
        format!("{v:.1}")
    }
}

/// The value text with the mark's marker appended.
pub(crate) fn marked_value_text(scale: &Scale, v: f64, mark: Mark) -> String {
    let mut s = value_text(scale, v);
    match mark {
        Mark::LowPrecision => {
            s.push(' ');
            s.push_str(LOW_PRECISION_MARKER)
        }
        Mark::Highlight => {
            s.push(' ');
            s.push_str(HIGHLIGHT_MARKER)
        }
        Mark::Normal | Mark::Suppressed => {}
    }
    s
}

/// East Asian wide characters, drawn about one em wide.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Estimated width of `text` at `font` size: an em for wide characters,
/// 0.62 em for others (wider than most sans-serif fonts' average).
pub(crate) fn text_width(text: &str, font: f64) -> f64 {
    text.chars().map(|c| if is_wide(c) { 1.0 } else { 0.62 }).sum::<f64>() * font
}

/// `text` in lines no wider than `max` (estimated): broken at spaces, and
/// between wide characters (Chinese and Korean text may break there); a
/// word longer than a line is cut.
pub(crate) fn wrap(text: &str, max: f64, font: f64) -> Vec<String> {
    // Pieces that stay together, each with whether a space preceded it.
    let mut pieces: Vec<(bool, String)> = Vec::new();
    let mut space_before = false;
    let mut current = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            if !current.is_empty() {
                pieces.push((space_before, std::mem::take(&mut current)));
            }
            space_before = true;
        } else if is_wide(c) {
            if !current.is_empty() {
                pieces.push((space_before, std::mem::take(&mut current)));
                space_before = false;
            }
            pieces.push((space_before, c.to_string()));
            space_before = false;
        } else {
            // Latin text right after a wide character joins it without a
            // space, and a line may break there.
            current.push(c);
        }
    }
    if !current.is_empty() {
        pieces.push((space_before, current));
    }

    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (space, piece) in pieces {
        let candidate = if line.is_empty() {
            piece.clone()
        } else if space {
            format!("{line} {piece}")
        } else {
            format!("{line}{piece}")
        };
        if text_width(&candidate, font) <= max || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = piece;
        }
        // A single piece wider than a line: cut it by characters.
        while text_width(&line, font) > max && line.chars().count() > 1 {
            let mut head = String::new();
            let mut rest = line.chars().peekable();
            while let Some(&c) = rest.peek() {
                head.push(c);
                if text_width(&head, font) > max && head.chars().count() > 1 {
                    head.pop();
                    break;
                }
                rest.next();
            }
            let tail: String = rest.collect();
            if tail.is_empty() {
                break;
            }
            lines.push(head);
            line = tail;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Round axis values between `min` and `max`, about `target` of them.
pub(crate) fn ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    let range = max - min;
    if range.is_nan() || range <= 0.0 || range.is_infinite() {
        return vec![min];
    }
    let rough = range / target.max(1) as f64;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).ceil();
    let last = (max / step + 1e-9).floor();
    let mut out = Vec::new();
    let mut k = first;
    while k <= last && out.len() < 50 {
        // Multiply rather than accumulate, so 0.1 + 0.2 does not creep in.
        let v = k * step;
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        k += 1.0;
    }
    out
}

/// A tick's label: percent scales in whole percent (one decimal when the
/// step needs it), other scales with the decimals the step needs.
pub(crate) fn tick_text(scale: &Scale, v: f64, ticks: &[f64]) -> String {
    let step = if ticks.len() > 1 { ticks[1] - ticks[0] } else { 1.0 };
    let shown_step = if scale.percent { step * 100.0 } else { step };
    let shown = if scale.percent { v * 100.0 } else { v };
    let decimals = if (shown_step - shown_step.round()).abs() < 1e-9 {
        0
    } else {
        1
    };
    let mut s = format!("{shown:.decimals$}");
    if scale.percent {
        s.push('%');
    }
    s
}

/// Which marks a chart used, so its legend names only those.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Used {
    pub interval: bool,
    pub low_precision: bool,
    pub highlight: bool,
}

impl Used {
    pub(crate) fn any(&self) -> bool {
        self.interval || self.low_precision || self.highlight
    }
}

/// How values are drawn, so the legend's swatches match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Bar,
    Dot,
}

/// The `<defs>` every chart carries: the hatch of low-precision marks.
pub(crate) fn defs(out: &mut String, id: &str) {
    let _ = write!(
        out,
        "<defs><pattern id=\"{id}-hatch\" patternUnits=\"userSpaceOnUse\" width=\"5\" height=\"5\" \
         patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#ffffff\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"{BAR_STROKE}\" stroke-width=\"2\"/></pattern></defs>"
    );
}

/// A low-precision, highlighted or ordinary bar (`rect`) with its outline.
pub(crate) fn bar(out: &mut String, id: &str, mark: Mark, x: f64, y: f64, w: f64, h: f64) {
    let (class, fill, stroke_width, dash) = match mark {
        Mark::LowPrecision => (
            "chart-bar chart-bar-low",
            format!("url(#{id}-hatch)"),
            "1",
            " stroke-dasharray=\"3 2\"",
        ),
        Mark::Highlight => ("chart-bar chart-bar-highlight", HIGHLIGHT_FILL.to_string(), "2.5", ""),
        _ => ("chart-bar", BAR_FILL.to_string(), "1", ""),
    };
    let stroke = if mark == Mark::Highlight { TEXT } else { BAR_STROKE };
    let _ = write!(
        out,
        "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" \
         stroke-width=\"{stroke_width}\"{dash}/>",
        n(x),
        n(y),
        n(w),
        n(h)
    );
}

/// A dot for a value, marked like a bar: hatched and dashed when of low
/// precision (and larger, so the hatch shows), heavy outline when
/// highlighted.
pub(crate) fn dot(out: &mut String, id: &str, mark: Mark, cx: f64, cy: f64) {
    let (class, r, fill, stroke, width, dash) = match mark {
        Mark::LowPrecision => (
            "chart-dot chart-dot-low",
            6.0,
            format!("url(#{id}-hatch)"),
            BAR_STROKE,
            "1.5",
            " stroke-dasharray=\"2 1.5\"",
        ),
        Mark::Highlight => (
            "chart-dot chart-dot-highlight",
            5.5,
            HIGHLIGHT_FILL.to_string(),
            TEXT,
            "2.5",
            "",
        ),
        _ => ("chart-dot", 4.5, BAR_STROKE.to_string(), BAR_STROKE, "1", ""),
    };
    let _ = write!(
        out,
        "<circle class=\"{class}\" cx=\"{}\" cy=\"{}\" r=\"{r}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>",
        n(cx),
        n(cy)
    );
}

/// Radius a dot of this mark is drawn with (for placing text beside it).
pub(crate) fn dot_radius(mark: Mark) -> f64 {
    match mark {
        Mark::LowPrecision => 6.0,
        Mark::Highlight => 5.5,
        _ => 4.5,
    }
}

/// `<text>` in the text colour; `extra` is more attributes.
pub(crate) fn text(out: &mut String, class: &str, x: f64, y: f64, anchor: &str, extra: &str, content: &str) {
    coloured_text(out, class, TEXT, x, y, anchor, extra, content)
}

/// A white halo behind text, so grid and reference lines crossing a label
/// never make it hard to read (SVG 2 `paint-order`).
const HALO: &str = "stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\"";

/// `<text>` in `fill`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn coloured_text(
    out: &mut String,
    class: &str,
    fill: &str,
    x: f64,
    y: f64,
    anchor: &str,
    extra: &str,
    content: &str,
) {
    let _ = write!(
        out,
        "<text class=\"{class}\" x=\"{}\" y=\"{}\" font-size=\"{FONT}\" fill=\"{fill}\" {HALO} text-anchor=\"{anchor}\"{extra}>{}</text>",
        n(x),
        n(y),
        esc(content)
    );
}

/// Lines of text stacked from `y` (the first baseline), one `<text>` with a
/// `<tspan>` per line, in the text colour.
pub(crate) fn lines(out: &mut String, class: &str, x: f64, y: f64, anchor: &str, extra: &str, lines: &[String]) {
    coloured_lines(out, class, TEXT, x, y, anchor, extra, lines)
}

/// Lines of text in `fill`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn coloured_lines(
    out: &mut String,
    class: &str,
    fill: &str,
    x: f64,
    y: f64,
    anchor: &str,
    extra: &str,
    lines: &[String],
) {
    let _ = write!(
        out,
        "<text class=\"{class}\" x=\"{}\" y=\"{}\" font-size=\"{FONT}\" fill=\"{fill}\" {HALO} text-anchor=\"{anchor}\"{extra}>",
        n(x),
        n(y)
    );
    for (i, line) in lines.iter().enumerate() {
        let dy = if i == 0 { 0.0 } else { LINE };
        let _ = write!(out, "<tspan x=\"{}\" dy=\"{}\">{}</tspan>", n(x), n(dy), esc(line));
    }
    out.push_str("</text>");
}

/// The legend, from `y` (top) across `width` starting at `x`: one entry per
/// mark used, each a swatch and its text. Returns the y below it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn legend(
    out: &mut String,
    id: &str,
    legend: &Legend,
    used: Used,
    shape: Shape,
    x: f64,
    y: f64,
    width: f64,
) -> f64 {
    if !used.any() {
        return y;
    }
    out.push_str("<g class=\"chart-legend\">");
    let text_x = x + 24.0;
    let text_width = width - 24.0;
    let mut y = y;
    let entries: [(bool, &str, Option<Mark>, &str); 3] = [
        (used.interval, "chart-legend-interval", None, &legend.interval),
        (
            used.low_precision,
            "chart-legend-low",
            Some(Mark::LowPrecision),
            &legend.low_precision,
        ),
        (
            used.highlight,
            "chart-legend-highlight",
            Some(Mark::Highlight),
            &legend.highlight,
        ),
    ];
    for (shown, class, mark, label) in entries {
        if !shown {
            continue;
        }
        let label = match mark {
            Some(Mark::LowPrecision) => format!("{LOW_PRECISION_MARKER} {label}"),
            Some(Mark::Highlight) => format!("{HIGHLIGHT_MARKER} {label}"),
            _ => label.to_string(),
        };
        let wrapped = wrap(&label, text_width, FONT);
        let _ = write!(out, "<g class=\"chart-legend-entry {class}\">");
        let mid = y + LINE / 2.0;
        match (mark, shape) {
            (None, _) => {
                let _ = write!(
                    out,
                    "<path class=\"chart-whisker\" d=\"M{} {}H{}M{} {}V{}M{} {}V{}\" fill=\"none\" stroke=\"{TEXT}\" stroke-width=\"1.5\"/>",
                    n(x + 1.0),
                    n(mid),
                    n(x + 17.0),
                    n(x + 1.0),
                    n(mid - 4.0),
                    n(mid + 4.0),
                    n(x + 17.0),
                    n(mid - 4.0),
                    n(mid + 4.0)
                );
            }
            (Some(mark), Shape::Bar) => bar(out, id, mark, x + 1.0, mid - 5.0, 16.0, 10.0),
            (Some(mark), Shape::Dot) => dot(out, id, mark, x + 9.0, mid),
        }
        lines(out, "chart-legend-text", text_x, y + 11.0, "start", "", &wrapped);
        out.push_str("</g>");
        y += LINE * wrapped.len() as f64 + 4.0;
    }
    out.push_str("</g>");
    y
}

/// The opening `<svg>` with its accessible name and description, and the
/// pattern definitions. Closed by the caller with `</svg>`.
pub(crate) fn open(out: &mut String, id: &str, kind: &str, title: &str, description: &str, width: f64, height: f64) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart chart-{kind}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        n(width),
        n(height),
        esc(title),
        esc(description)
    );
    defs(out, id);
    let _ = write!(
        out,
        "<rect class=\"chart-background\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        n(width),
        n(height)
    );
}
