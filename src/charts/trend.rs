//! Trend charts: a value per wave with its confidence interval, the waves
//! left to right in the order given, the points joined by a line that
//! breaks where a wave has no figure (a gap, never a drop to zero).

use super::svg::{self, esc, n, Shape, Used, FONT, GRID, LINE, MUTED, PAD, TEXT, WIDTH};
use super::{Mark, TrendChart};
use std::fmt::Write as _;

/// Height of the plotting area.
const PLOT_HEIGHT: f64 = 170.0;

/// One trend chart as SVG (see the module documentation for the markup).
/// Each point is a `<g class="chart-point">` with the same `data-*`
/// attributes as an interval chart's rows.
pub fn trend_svg(chart: &TrendChart) -> String {
    let id = svg::id_token(&chart.id);
    let scale = &chart.scale;
    let (min, max) = scale.bounds();
    let inner = WIDTH - 2.0 * PAD;
    let mut body = String::new();
    let mut y = PAD;

    // The axis label heads the value axis, above the plot (a rotated label
    // would cost a phone's width).
    if !chart.axis_label.trim().is_empty() {
        let lines = svg::wrap(&chart.axis_label, inner, FONT);
        svg::lines(&mut body, "chart-axis-label", PAD, y + 11.0, "start", "", &lines);
        y += LINE * lines.len() as f64 + 4.0;
    }

    let ticks = svg::ticks(min, max, 5);
    let tick_labels: Vec<String> = ticks.iter().map(|t| svg::tick_text(scale, *t, &ticks)).collect();
    let tick_room = tick_labels.iter().map(|t| svg::text_width(t, FONT)).fold(0.0, f64::max);
    let left = PAD + tick_room + 6.0;
    let right = WIDTH - PAD;
    // Room above the plot for the value printed over the highest point.
    let top = y + LINE + 2.0;
    let bottom = top + PLOT_HEIGHT;
    let yv = |v: f64| scale.map(v, bottom, top);

    let count = chart.points.len().max(1);
    let column = (right - left) / count as f64;
    let xs: Vec<f64> = (0..chart.points.len())
        .map(|i| left + column * (i as f64 + 0.5))
        .collect();

    let _ = write!(
        body,
        "<g class=\"chart-plot\" data-scale-min=\"{min}\" data-scale-max=\"{max}\" data-y-min=\"{bottom}\" data-y-max=\"{top}\">"
    );

    // Grid and value axis.
    body.push_str("<g class=\"chart-axis chart-axis-value\">");
    for (t, label) in ticks.iter().zip(&tick_labels) {
        let ty = yv(*t);
        let _ = write!(
            body,
            "<line class=\"chart-tick\" data-value=\"{t}\" x1=\"{}\" y1=\"{ty}\" x2=\"{}\" y2=\"{ty}\" stroke=\"{GRID}\" stroke-width=\"1\"/>",
            n(left),
            n(right),
            ty = n(ty)
        );
        svg::text(&mut body, "chart-tick-label", left - 6.0, ty + 4.0, "end", "", label);
    }
    let _ = write!(
        body,
        "<line x1=\"{}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"{MUTED}\" stroke-width=\"1\"/></g>",
        n(left),
        n(right),
        b = n(bottom)
    );

    // What is drawn of each point: a suppressed figure never reaches the
    // markup; a figure that is not finite counts as missing.
    let drawn: Vec<(Option<f64>, Option<f64>, Option<f64>)> = chart
        .points
        .iter()
        .map(|p| {
            if p.mark == Mark::Suppressed {
                (None, None, None)
            } else {
                let f = |v: Option<f64>| v.filter(|x| x.is_finite());
                (f(p.value), f(p.low), f(p.high))
            }
        })
        .collect();

    // The line, in runs of consecutive points that have a value.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, (value, _, _)) in drawn.iter().enumerate() {
        match value {
            Some(v) => runs.last_mut().expect("one run at least").push((xs[i], yv(*v))),
            None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
            None => {}
        }
    }
    for run in runs.iter().filter(|r| r.len() > 1) {
        let points: Vec<String> = run.iter().map(|(x, y)| format!("{},{}", n(*x), n(*y))).collect();
        let _ = write!(
            body,
            "<polyline class=\"chart-line\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            points.join(" "),
            svg::BAR_STROKE
        );
    }

    // Values are printed over the points when every one fits its column;
    // otherwise the table behind the chart has them.
    let value_texts: Vec<Option<String>> = chart
        .points
        .iter()
        .zip(&drawn)
        .map(|(p, (v, _, _))| v.map(|v| svg::marked_value_text(scale, v, p.mark)))
        .collect();
    let show_values = value_texts
        .iter()
        .flatten()
        .all(|t| svg::text_width(t, FONT) <= column - 2.0);

    let mut used = Used::default();
    let middle = (top + bottom) / 2.0;
    for (i, point) in chart.points.iter().enumerate() {
        let (value, low, high) = drawn[i];
        let x = xs[i];
        let _ = write!(
            body,
            "<g class=\"chart-point chart-point-{}\" data-label=\"{}\"",
            point.mark.as_str(),
            esc(&point.label)
        );
        for (name, v) in [("value", value), ("low", low), ("high", high)] {
            if let Some(v) = v {
                let _ = write!(body, " data-{name}=\"{v}\"");
            }
        }
        let _ = write!(body, " data-mark=\"{}\">", point.mark.as_str());
        let tip = match (value, low, high) {
            _ if point.mark == Mark::Suppressed => format!("{}: {}", point.label, chart.legend.suppressed),
            (Some(v), Some(l), Some(h)) => format!(
                "{}: {} ({}–{})",
                point.label,
                svg::marked_value_text(scale, v, point.mark),
                svg::value_text(scale, l),
                svg::value_text(scale, h)
            ),
            (Some(v), _, _) => format!("{}: {}", point.label, svg::marked_value_text(scale, v, point.mark)),
            (None, _, _) => format!("{}: –", point.label),
        };
        let _ = write!(body, "<title>{}</title>", esc(&tip));

        if point.mark == Mark::Suppressed {
            let word = &chart.legend.suppressed;
            let extra = if svg::text_width(word, FONT) > column - 4.0 {
                format!(
                    " font-style=\"italic\" transform=\"rotate(-90 {} {})\"",
                    n(x),
                    n(middle)
                )
            } else {
                " font-style=\"italic\"".to_string()
            };
            svg::coloured_text(
                &mut body,
                "chart-suppressed",
                MUTED,
                x,
                middle + 4.0,
                "middle",
                &extra,
                word,
            );
        }
        if let Some(v) = value {
            let cy = yv(v);
            let mut text_y = cy - svg::dot_radius(point.mark) - 4.0;
            if let (Some(l), Some(h)) = (low, high) {
                used.interval = true;
                let (yl, yh) = (yv(l), yv(h));
                let _ = write!(
                    body,
                    "<line class=\"chart-whisker\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"{TEXT}\" stroke-width=\"1.5\"/>\
                     <path class=\"chart-whisker-caps\" d=\"M{} {}H{}M{} {}H{}\" fill=\"none\" stroke=\"{TEXT}\" stroke-width=\"1.5\"/>",
                    n(yl),
                    n(yh),
                    n(x - 4.0),
                    n(yl),
                    n(x + 4.0),
                    n(x - 4.0),
                    n(yh),
                    n(x + 4.0),
                    x = n(x),
                );
                text_y = text_y.min(yl.min(yh) - 4.0);
            }
            svg::dot(&mut body, &id, point.mark, x, cy);
            used.low_precision |= point.mark == Mark::LowPrecision;
            used.highlight |= point.mark == Mark::Highlight;
            if show_values {
                let weight = if point.mark == Mark::Highlight {
                    " font-weight=\"bold\""
                } else {
                    ""
                };
                let label = value_texts[i].as_deref().unwrap_or_default();
                svg::text(&mut body, "chart-value", x, text_y, "middle", weight, label);
            }
        }
        body.push_str("</g>");
    }
    body.push_str("</g>");

    // The waves under the plot: level when they fit their columns, else
    // slanted.
    let widest = chart
        .points
        .iter()
        .map(|p| svg::text_width(&p.label, FONT))
        .fold(0.0, f64::max);
    let slanted = widest > column - 4.0;
    body.push_str("<g class=\"chart-axis chart-axis-waves\">");
    for (point, x) in chart.points.iter().zip(&xs) {
        if slanted {
            let ly = bottom + 12.0;
            let extra = format!(" transform=\"rotate(-45 {} {})\"", n(*x), n(ly));
            svg::text(&mut body, "chart-tick-label", *x, ly, "end", &extra, &point.label);
        } else {
            svg::text(
                &mut body,
                "chart-tick-label",
                *x,
                bottom + 16.0,
                "middle",
                "",
                &point.label,
            );
        }
    }
    body.push_str("</g>");
    let y = if slanted {
        bottom + 12.0 + widest * std::f64::consts::FRAC_1_SQRT_2 + 8.0
    } else {
        bottom + 22.0
    };

    let y = svg::legend(&mut body, &id, &chart.legend, used, Shape::Dot, PAD, y + 4.0, inner);
    let height = (y + PAD).ceil();
    let mut out = String::with_capacity(body.len() + 1024);
    svg::open(&mut out, &id, "trend", &chart.title, &chart.description, WIDTH, height);
    out.push_str(&body);
    out.push_str("</svg>");
    out
}
