//! Interval charts: one horizontal bar (or dot) per row with its
//! confidence interval as a whisker, on their own or as small multiples.

use super::svg::{self, esc, n, Shape, Used, FONT, GRID, LINE, MUTED, PAD, REFERENCE, TEXT, WIDTH};
use super::{IntervalChart, IntervalRow, Legend, Mark, Reference, Scale};
use std::fmt::Write as _;

/// Labels up to this wide (estimated) stand left of their bars; a chart
/// with any longer label puts every label above its bar.
const LEFT_LABEL_MAX: f64 = 120.0;
/// Height of a bar.
const BAR: f64 = 14.0;
/// Width of a panel in small multiples (two fit in 360).
const PANEL_WIDTH: f64 = 168.0;
/// Space between panels.
const PANEL_GAP: f64 = 8.0;

/// Where a plot is drawn.
struct Frame {
    /// Left edge and width of the whole area (labels, plot and values).
    x: f64,
    width: f64,
    labels_left: bool,
    /// About how many axis ticks.
    tick_target: usize,
    /// Room right of the plot for the value texts; shared by panels so
    /// that they share the mapping.
    value_room: f64,
}

/// A figure drawn only when finite.
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Room needed right of the plot for the rows' value texts.
fn value_room(rows: &[IntervalRow], scale: &Scale) -> f64 {
    rows.iter()
        .filter(|r| r.mark != Mark::Suppressed)
        .filter_map(|r| finite(r.value).map(|v| svg::text_width(&svg::marked_value_text(scale, v, r.mark), FONT)))
        .fold(24.0, f64::max)
        + 6.0
}

/// The start of a bar: 0 when the scale has it, else none (dots).
fn baseline(scale: &Scale) -> Option<f64> {
    let (min, max) = scale.bounds();
    (min <= 0.0 && 0.0 <= max).then_some(0.0)
}

/// The plot's extent, for the axis label under it.
struct Drawn {
    bottom: f64,
    left: f64,
    right: f64,
}

/// Draws the reference label, the rows, the reference line and the axis
/// from `top`, and returns where it ended.
#[allow(clippy::too_many_arguments)]
fn plot(
    out: &mut String,
    id: &str,
    scale: &Scale,
    reference: Option<&Reference>,
    rows: &[IntervalRow],
    legend: &Legend,
    frame: &Frame,
    top: f64,
    used: &mut Used,
) -> Drawn {
    let (min, max) = scale.bounds();
    let label_col = if frame.labels_left {
        rows.iter().map(|r| svg::text_width(&r.label, FONT)).fold(0.0, f64::max) + 10.0
    } else {
        0.0
    };
    let rough_width = frame.width - label_col - frame.value_room;
    let ticks = svg::ticks(min, max, frame.tick_target.min((rough_width / 40.0).max(2.0) as usize));
    let tick_labels: Vec<String> = ticks.iter().map(|t| svg::tick_text(scale, *t, &ticks)).collect();
    // The first and last tick labels are centred on their ticks: keep them
    // inside the frame.
    let half_first = tick_labels.first().map_or(0.0, |t| svg::text_width(t, FONT) / 2.0);
    let half_last = tick_labels.last().map_or(0.0, |t| svg::text_width(t, FONT) / 2.0);
    let left = frame.x + label_col.max(half_first + 2.0);
    let right = frame.x + frame.width - frame.value_room.max(half_last + 2.0);
    let x = |v: f64| scale.map(v, left, right);

    let _ = write!(
        out,
        "<g class=\"chart-plot\" data-scale-min=\"{min}\" data-scale-max=\"{max}\" data-x-min=\"{left}\" data-x-max=\"{right}\">"
    );

    // The reference's label, above the rows, anchored so it stays inside.
    let mut y = top;
    let reference = reference.filter(|r| r.value.is_finite());
    if let Some(r) = reference {
        let label = format!("{} {}", r.label, svg::value_text(scale, r.value));
        let lines = svg::wrap(&label, frame.width, FONT);
        let widest = lines.iter().map(|l| svg::text_width(l, FONT)).fold(0.0, f64::max);
        let rx = x(r.value);
        let (anchor, tx) = if rx - widest / 2.0 < frame.x {
            ("start", frame.x)
        } else if rx + widest / 2.0 > frame.x + frame.width {
            ("end", frame.x + frame.width)
        } else {
            ("middle", rx)
        };
        svg::coloured_lines(
            out,
            "chart-reference-label",
            REFERENCE,
            tx,
            y + 11.0,
            anchor,
            "",
            &lines,
        );
        y += LINE * lines.len() as f64 + 4.0;
    }

    // Lay the rows out first: the grid goes behind them.
    struct Placed<'a> {
        row: &'a IntervalRow,
        label_lines: Vec<String>,
        note_lines: Vec<String>,
        label_y: f64,
        center: f64,
    }
    let rows_top = y;
    let mut placed = Vec::with_capacity(rows.len());
    for row in rows {
        if frame.labels_left {
            placed.push(Placed {
                row,
                label_lines: vec![row.label.clone()],
                note_lines: vec![],
                label_y: y + 17.0,
                center: y + 13.0,
            });
            y += 26.0;
        } else {
            let label_lines = svg::wrap(&row.label, frame.width, FONT);
            let note_lines = row
                .note
                .as_deref()
                .map(|n| svg::wrap(n, frame.width, FONT))
                .unwrap_or_default();
            let label_y = y + 11.0;
            y += LINE * (label_lines.len() + note_lines.len()) as f64 + 2.0;
            let center = y + BAR / 2.0;
            y += BAR + 10.0;
            placed.push(Placed {
                row,
                label_lines,
                note_lines,
                label_y,
                center,
            });
        }
    }
    let rows_bottom = y.max(rows_top + 4.0);

    out.push_str("<g class=\"chart-grid\">");
    for t in &ticks {
        let _ = write!(
            out,
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{GRID}\" stroke-width=\"1\"/>",
            n(x(*t)),
            n(rows_top),
            n(rows_bottom)
        );
    }
    out.push_str("</g>");

    // Behind the rows: their labels (haloed) and bars stay readable.
    if let Some(r) = reference {
        let rx = n(x(r.value));
        let _ = write!(
            out,
            "<line class=\"chart-reference\" data-value=\"{}\" x1=\"{rx}\" y1=\"{}\" x2=\"{rx}\" y2=\"{}\" stroke=\"{REFERENCE}\" \
             stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
            r.value,
            n(rows_top - 2.0),
            n(rows_bottom)
        );
    }

    let base = baseline(scale);
    for p in &placed {
        let row = p.row;
        let suppressed = row.mark == Mark::Suppressed;
        // A suppressed figure never reaches the markup.
        let (value, low, high) = if suppressed {
            (None, None, None)
        } else {
            (finite(row.value), finite(row.low), finite(row.high))
        };
        let _ = write!(
            out,
            "<g class=\"chart-row chart-row-{}\" data-label=\"{}\"",
            row.mark.as_str(),
            esc(&row.label)
        );
        for (name, v) in [("value", value), ("low", low), ("high", high)] {
            if let Some(v) = v {
                let _ = write!(out, " data-{name}=\"{v}\"");
            }
        }
        let _ = write!(out, " data-mark=\"{}\">", row.mark.as_str());

        // A tooltip with the figures, for pointer users.
        let tip = match (value, low, high) {
            _ if suppressed => format!("{}: {}", row.label, legend.suppressed),
            (Some(v), Some(l), Some(h)) => format!(
                "{}: {} ({}–{})",
                row.label,
                svg::marked_value_text(scale, v, row.mark),
                svg::value_text(scale, l),
                svg::value_text(scale, h)
            ),
            (Some(v), _, _) => format!("{}: {}", row.label, svg::marked_value_text(scale, v, row.mark)),
            (None, _, _) => format!("{}: –", row.label),
        };
        let _ = write!(out, "<title>{}</title>", esc(&tip));

        if frame.labels_left {
            svg::text(out, "chart-label", left - 6.0, p.label_y, "end", "", &row.label);
        } else {
            svg::lines(out, "chart-label", frame.x, p.label_y, "start", "", &p.label_lines);
            if !p.note_lines.is_empty() {
                let note_y = p.label_y + LINE * p.label_lines.len() as f64;
                svg::coloured_lines(out, "chart-note", MUTED, frame.x, note_y, "start", "", &p.note_lines);
            }
        }

        let text_y = p.center + 4.0;
        match value {
            _ if suppressed => svg::coloured_text(
                out,
                "chart-suppressed",
                MUTED,
                left + 2.0,
                text_y,
                "start",
                " font-style=\"italic\"",
                &legend.suppressed,
            ),
            None => svg::text(out, "chart-missing", left + 2.0, text_y, "start", "", "–"),
            Some(v) => {
                let end = x(v);
                let mut reach = end;
                match base {
                    Some(b) => {
                        let start = x(b);
                        svg::bar(
                            out,
                            id,
                            row.mark,
                            start.min(end),
                            p.center - BAR / 2.0,
                            (end - start).abs(),
                            BAR,
                        );
                    }
                    None => {
                        svg::dot(out, id, row.mark, end, p.center);
                        reach += svg::dot_radius(row.mark);
                    }
                }
                if let (Some(l), Some(h)) = (low, high) {
                    used.interval = true;
                    let (xl, xh) = (x(l), x(h));
                    let _ = write!(
                        out,
                        "<line class=\"chart-whisker\" x1=\"{}\" y1=\"{c}\" x2=\"{}\" y2=\"{c}\" stroke=\"{TEXT}\" stroke-width=\"1.5\"/>\
                         <path class=\"chart-whisker-caps\" d=\"M{} {}V{}M{} {}V{}\" fill=\"none\" stroke=\"{TEXT}\" stroke-width=\"1.5\"/>",
                        n(xl),
                        n(xh),
                        n(xl),
                        n(p.center - 4.0),
                        n(p.center + 4.0),
                        n(xh),
                        n(p.center - 4.0),
                        n(p.center + 4.0),
                        c = n(p.center),
                    );
                    reach = reach.max(xl).max(xh);
                }
                used.low_precision |= row.mark == Mark::LowPrecision;
                used.highlight |= row.mark == Mark::Highlight;
                let weight = if row.mark == Mark::Highlight {
                    " font-weight=\"bold\""
                } else {
                    ""
                };
                let label = svg::marked_value_text(scale, v, row.mark);
                svg::text(out, "chart-value", reach + 5.0, text_y, "start", weight, &label);
            }
        }
        out.push_str("</g>");
    }

    // The axis: a line, ticks and their labels.
    let axis_y = rows_bottom;
    let _ = write!(
        out,
        "<g class=\"chart-axis\"><line x1=\"{}\" y1=\"{ay}\" x2=\"{}\" y2=\"{ay}\" stroke=\"{MUTED}\" stroke-width=\"1\"/>",
        n(left),
        n(right),
        ay = n(axis_y)
    );
    for (t, label) in ticks.iter().zip(&tick_labels) {
        let tx = x(*t);
        let _ = write!(
            out,
            "<line class=\"chart-tick\" data-value=\"{t}\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{MUTED}\" stroke-width=\"1\"/>",
            n(tx),
            n(axis_y),
            n(axis_y + 4.0)
        );
        svg::text(out, "chart-tick-label", tx, axis_y + 16.0, "middle", "", label);
    }
    out.push_str("</g></g>");
    Drawn {
        bottom: axis_y + 20.0,
        left,
        right,
    }
}

/// The axis label, centred under the plot; returns the y below it.
fn axis_label(out: &mut String, label: &str, drawn: &Drawn, x0: f64, width: f64) -> f64 {
    if label.trim().is_empty() {
        return drawn.bottom;
    }
    let lines = svg::wrap(label, width, FONT);
    let widest = lines.iter().map(|l| svg::text_width(l, FONT)).fold(0.0, f64::max);
    // Centred under the plot when it fits there, else from the left edge.
    let centre = (drawn.left + drawn.right) / 2.0;
    let (anchor, tx) = if centre - widest / 2.0 < x0 {
        ("start", x0)
    } else {
        ("middle", centre)
    };
    svg::lines(out, "chart-axis-label", tx, drawn.bottom + 11.0, anchor, "", &lines);
    drawn.bottom + LINE * lines.len() as f64 + 6.0
}

/// One interval chart as SVG (see the module documentation for the markup).
pub fn interval_svg(chart: &IntervalChart) -> String {
    let id = svg::id_token(&chart.id);
    let labels_left = chart.rows.iter().all(|r| r.note.is_none())
        && chart
            .rows
            .iter()
            .all(|r| svg::text_width(&r.label, FONT) <= LEFT_LABEL_MAX);
    let frame = Frame {
        x: PAD,
        width: WIDTH - 2.0 * PAD,
        labels_left,
        tick_target: 5,
        value_room: value_room(&chart.rows, &chart.scale),
    };
    let mut used = Used::default();
    let mut body = String::new();
    let drawn = plot(
        &mut body,
        &id,
        &chart.scale,
        chart.reference.as_ref(),
        &chart.rows,
        &chart.legend,
        &frame,
        PAD,
        &mut used,
    );
    let y = axis_label(&mut body, &chart.axis_label, &drawn, PAD, WIDTH - 2.0 * PAD);
    let shape = if baseline(&chart.scale).is_some() {
        Shape::Bar
    } else {
        Shape::Dot
    };
    let y = svg::legend(
        &mut body,
        &id,
        &chart.legend,
        used,
        shape,
        PAD,
        y + 4.0,
        WIDTH - 2.0 * PAD,
    );

    let height = (y + PAD).ceil();
    let mut out = String::with_capacity(body.len() + 1024);
    svg::open(
        &mut out,
        &id,
        "interval",
        &chart.title,
        &chart.description,
        WIDTH,
        height,
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// One SVG with a grid of small interval charts, `columns` wide, on one
/// shared scale (the union of the panels' scales), each panel headed by its
/// title; the axis label and legend (texts from the first panel) are shared
/// below the grid. Two columns fit a 360-wide phone at 12 px text; more
/// columns make the viewBox wider (for desktop and print).
pub fn small_multiples_svg(
    id: &str,
    title: &str,
    description: &str,
    panels: &[IntervalChart],
    columns: usize,
) -> String {
    let id = svg::id_token(id);
    let columns = columns.clamp(1, panels.len().max(1));
    let scale = shared_scale(panels);
    let panel_width = if columns == 1 {
        WIDTH - 2.0 * PAD
    } else {
        PANEL_WIDTH.max((WIDTH - 2.0 * PAD - (columns - 1) as f64 * PANEL_GAP) / columns as f64)
    };
    let width = (2.0 * PAD + columns as f64 * panel_width + (columns - 1) as f64 * PANEL_GAP).max(WIDTH);
    let all_rows: Vec<IntervalRow> = panels.iter().flat_map(|p| p.rows.iter().cloned()).collect();
    let room = value_room(&all_rows, &scale);

    let mut used = Used::default();
    let mut body = String::new();
    let mut y = PAD;
    let mut last = None;
    for (grid_row, chunk) in panels.chunks(columns).enumerate() {
        let mut row_height: f64 = 0.0;
        for (col, panel) in chunk.iter().enumerate() {
            let px = PAD + col as f64 * (panel_width + PANEL_GAP);
            let mut inner = String::new();
            let heading = svg::wrap(&panel.title, panel_width, FONT);
            svg::lines(
                &mut inner,
                "chart-panel-title",
                0.0,
                11.0,
                "start",
                " font-weight=\"bold\"",
                &heading,
            );
            let frame = Frame {
                x: 0.0,
                width: panel_width,
                labels_left: false,
                tick_target: 3,
                value_room: room,
            };
            let top = LINE * heading.len() as f64 + 4.0;
            let drawn = plot(
                &mut inner,
                &id,
                &scale,
                panel.reference.as_ref(),
                &panel.rows,
                &panel.legend,
                &frame,
                top,
                &mut used,
            );
            row_height = row_height.max(drawn.bottom);
            last = Some(Drawn {
                bottom: 0.0,
                left: PAD + drawn.left,
                right: PAD + drawn.right,
            });
            let _ = write!(
                body,
                "<g class=\"chart-panel\" data-panel=\"{}\" data-title=\"{}\" transform=\"translate({} {})\">{inner}</g>",
                grid_row * columns + col,
                esc(&panel.title),
                n(px),
                n(y)
            );
        }
        y += row_height + 12.0;
    }
    // No gap after the last grid row.
    y -= 12.0_f64.min(y - PAD);

    let axis = panels.first().map(|p| p.axis_label.as_str()).unwrap_or("");
    let drawn = match last {
        // Centred under the whole grid when there are several columns.
        Some(d) if columns == 1 => Drawn { bottom: y, ..d },
        _ => Drawn {
            bottom: y,
            left: PAD,
            right: width - PAD,
        },
    };
    let y = axis_label(&mut body, axis, &drawn, PAD, width - 2.0 * PAD);
    let legend = panels.first().map(|p| p.legend.clone()).unwrap_or_default();
    let shape = if baseline(&scale).is_some() {
        Shape::Bar
    } else {
        Shape::Dot
    };
    let y = svg::legend(&mut body, &id, &legend, used, shape, PAD, y + 4.0, width - 2.0 * PAD);

    let height = (y + PAD).ceil();
    let mut out = String::with_capacity(body.len() + 1024);
    svg::open(&mut out, &id, "small-multiples", title, description, width, height);
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// The scale every panel is drawn on: the smallest min and largest max of
/// the panels' (valid) scales.
fn shared_scale(panels: &[IntervalChart]) -> Scale {
    let percent = panels.first().is_some_and(|p| p.scale.percent);
    let mut bounds: Option<(f64, f64)> = None;
    for p in panels {
        let (lo, hi) = p.scale.bounds();
        bounds = Some(match bounds {
            None => (lo, hi),
            Some((a, b)) => (a.min(lo), b.max(hi)),
        });
    }
    let (min, max) = bounds.unwrap_or(if percent { (0.0, 1.0) } else { (0.0, 100.0) });
    Scale { min, max, percent }
}
