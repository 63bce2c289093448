//! The charts' markup read back with a real XML parser (the one resvg
//! uses), and the tables read back as a spreadsheet would.

use super::svg::{id_token, text_width, ticks, wrap, FONT, WIDTH};
use super::table::sheet_name;
use super::*;
use resvg::usvg::roxmltree::{Document, Node};
use std::io::Read;

const HOSTILE: &str = "<script>alert(\"x\")</script> & 'q' ]]> <!-- style=\"color:red\"";

fn legend() -> Legend {
    Legend {
        suppressed: "suppressed".into(),
        low_precision: "low precision".into(),
        interval: "95% confidence interval".into(),
        highlight: "significant change".into(),
    }
}

fn row(label: &str, value: f64, low: f64, high: f64, mark: Mark) -> IntervalRow {
    IntervalRow {
        label: label.into(),
        value: Some(value),
        low: Some(low),
        high: Some(high),
        mark,
        note: None,
    }
}

fn chart(rows: Vec<IntervalRow>) -> IntervalChart {
    IntervalChart {
        id: "districts".into(),
        title: "Livability by district".into(),
        description: "The overall index of each district with its 95% confidence interval.".into(),
        axis_label: "Index (0–100)".into(),
        scale: Scale::index(),
        reference: Some(Reference {
            label: "City-wide".into(),
            value: 61.25,
        }),
        rows,
        legend: legend(),
    }
}

fn trend(points: Vec<TrendPoint>) -> TrendChart {
    TrendChart {
        id: "trend".into(),
        title: "Overall index by wave".into(),
        description: "The overall index of each wave with its 95% confidence interval.".into(),
        axis_label: "Index (0–100)".into(),
        scale: Scale::index(),
        points,
        legend: legend(),
    }
}

fn point(label: &str, value: Option<f64>, mark: Mark) -> TrendPoint {
    TrendPoint {
        label: label.into(),
        value,
        low: value.map(|v| v - 3.0),
        high: value.map(|v| v + 3.0),
        mark,
    }
}

fn parse(svg: &str) -> Document<'_> {
    Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{svg}"))
}

fn has_class(node: &Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

fn by_class<'a, 'i>(doc: &'a Document<'i>, class: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.is_element() && has_class(n, class))
        .collect()
}

fn within<'a, 'i>(node: &Node<'a, 'i>, tag: &str) -> Vec<Node<'a, 'i>> {
    node.descendants().filter(|n| n.has_tag_name(tag)).collect()
}

fn all_text(node: &Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn num(node: &Node, attribute: &str) -> f64 {
    let raw = node
        .attribute(attribute)
        .unwrap_or_else(|| panic!("{attribute} missing on {node:?}"));
    raw.parse().unwrap_or_else(|e| panic!("{attribute}={raw}: {e}"))
}

/// The mapping as the module documentation states it, from the plot's
/// attributes: independent of the drawing code.
fn documented_x(plot: &Node, v: f64) -> f64 {
    let (min, max) = (num(plot, "data-scale-min"), num(plot, "data-scale-max"));
    let (x0, x1) = (num(plot, "data-x-min"), num(plot, "data-x-max"));
    x0 + (v.clamp(min, max) - min) / (max - min) * (x1 - x0)
}

fn all_outputs() -> Vec<String> {
    let rows = vec![
        row("North", 64.2, 60.1, 68.3, Mark::Normal),
        row("East", 58.0, 50.0, 66.0, Mark::LowPrecision),
        row("South", 70.5, 68.0, 73.0, Mark::Highlight),
        IntervalRow {
            label: "West".into(),
            value: None,
            low: None,
            high: None,
            mark: Mark::Suppressed,
            note: None,
        },
    ];
    let points = vec![
        point("2023", Some(60.0), Mark::Normal),
        point("2024", None, Mark::Suppressed),
        point("2025", Some(63.0), Mark::LowPrecision),
        point("2026", Some(66.0), Mark::Highlight),
    ];
    let mut hostile = chart(vec![row(HOSTILE, 50.0, 45.0, 55.0, Mark::Normal)]);
    hostile.title = HOSTILE.into();
    hostile.description = HOSTILE.into();
    hostile.axis_label = HOSTILE.into();
    hostile.reference = Some(Reference {
        label: HOSTILE.into(),
        value: 50.0,
    });
    hostile.legend = Legend {
        suppressed: HOSTILE.into(),
        low_precision: HOSTILE.into(),
        interval: HOSTILE.into(),
        highlight: HOSTILE.into(),
    };
    vec![
        interval_svg(&chart(rows.clone())),
        interval_svg(&hostile),
        trend_svg(&trend(points)),
        small_multiples_svg(
            "multi",
            "Dimensions by district",
            "Each dimension's index.",
            &[chart(rows.clone()), hostile],
            2,
        ),
    ]
}

#[test]
fn hostile_labels_are_escaped_and_read_back_unchanged() {
    let mut hostile = chart(vec![row(HOSTILE, 50.0, 45.0, 55.0, Mark::Normal)]);
    hostile.title = HOSTILE.into();
    hostile.description = format!("desc {HOSTILE}");
    hostile.reference = Some(Reference {
        label: HOSTILE.into(),
        value: 50.0,
    });
    let svg = interval_svg(&hostile);
    assert!(!svg.contains("<script"), "raw markup in:\n{svg}");
    assert!(!svg.contains("<!--"), "raw comment in:\n{svg}");
    let doc = parse(&svg);
    let rows = by_class(&doc, "chart-row");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attribute("data-label"), Some(HOSTILE));
    // Drawn wrapped (it is long), one tspan per line.
    let label = by_class(&doc, "chart-label");
    assert_eq!(
        within(&label[0], "tspan")
            .iter()
            .map(all_text)
            .collect::<Vec<_>>()
            .join(" "),
        HOSTILE
    );
    let title = doc.descendants().find(|n| n.has_tag_name("title")).expect("title");
    assert_eq!(title.text(), Some(HOSTILE));
    let desc = doc.descendants().find(|n| n.has_tag_name("desc")).expect("desc");
    assert_eq!(desc.text(), Some(format!("desc {HOSTILE}").as_str()));
    let reference = &by_class(&doc, "chart-reference-label")[0];
    assert!(within(reference, "tspan")
        .iter()
        .map(all_text)
        .collect::<Vec<_>>()
        .join(" ")
        .starts_with(HOSTILE));
    // Nothing but the SVG elements we write.
    for node in doc.descendants().filter(|n| n.is_element()) {
        let tag = node.tag_name().name();
        assert!(
            [
                "svg", "title", "desc", "defs", "pattern", "rect", "line", "path", "circle", "polyline", "g", "text",
                "tspan"
            ]
            .contains(&tag),
            "unexpected element {tag}"
        );
    }
}

#[test]
fn every_chart_has_title_desc_and_aria() {
    for svg in all_outputs() {
        let doc = parse(&svg);
        let root = doc.root_element();
        assert_eq!(root.attribute("role"), Some("img"));
        let labelled = root.attribute("aria-labelledby").expect("aria-labelledby");
        let ids: Vec<&str> = labelled.split(' ').collect();
        assert_eq!(ids.len(), 2, "{labelled}");
        assert!(ids[0].ends_with("-title") && ids[1].ends_with("-desc"), "{labelled}");
        let children: Vec<Node> = root.children().filter(|n| n.is_element()).collect();
        // The accessible name comes first, as SVG 2 requires.
        assert!(children[0].has_tag_name("title") && children[0].attribute("id") == Some(ids[0]));
        assert!(children[1].has_tag_name("desc") && children[1].attribute("id") == Some(ids[1]));
        assert!(!children[0].text().unwrap_or("").is_empty());
        assert!(!children[1].text().unwrap_or("").is_empty());
        assert!(root.attribute("viewBox").is_some());
    }
}

#[test]
fn the_chart_id_is_used_for_ids_and_made_a_token() {
    let svg = interval_svg(&chart(vec![row("A", 50.0, 45.0, 55.0, Mark::LowPrecision)]));
    assert!(svg.contains("aria-labelledby=\"districts-title districts-desc\""));
    assert!(svg.contains("id=\"districts-hatch\""));
    assert_eq!(id_token("dim-3_b"), "dim-3_b");
    assert_eq!(id_token("a b\"<c"), "a_b__c");
    assert_eq!(id_token("3d"), "c3d");
    assert_eq!(id_token(""), "chart");
}

#[test]
fn no_inline_style_script_or_style_element_anywhere() {
    for svg in all_outputs() {
        assert!(!svg.contains("<style") && !svg.contains("<script"), "{svg}");
        let doc = parse(&svg);
        for node in doc.descendants().filter(|n| n.is_element()) {
            assert!(node.attribute("style").is_none(), "style attribute on {node:?}");
            assert!(!node.has_tag_name("style") && !node.has_tag_name("script") && !node.has_tag_name("foreignObject"));
            for a in node.attributes() {
                assert!(!a.name().starts_with("on"), "event handler {} on {node:?}", a.name());
                assert!(!a.value().contains("javascript:"), "{}", a.value());
            }
        }
    }
}

#[test]
fn a_suppressed_row_draws_no_bar_and_no_figures_but_the_legend_word() {
    let svg = interval_svg(&chart(vec![
        row("North", 64.2, 60.1, 68.3, Mark::Normal),
        // The caller passed figures anyway: they must not reach the markup.
        row("West", 55.4321, 51.9876, 59.1234, Mark::Suppressed),
    ]));
    let doc = parse(&svg);
    let rows = by_class(&doc, "chart-row");
    let west = rows
        .iter()
        .find(|r| r.attribute("data-label") == Some("West"))
        .expect("West row");
    assert_eq!(west.attribute("data-mark"), Some("suppressed"));
    assert!(within(west, "rect").is_empty(), "a bar in a suppressed row");
    assert!(within(west, "circle").is_empty() && within(west, "line").is_empty() && within(west, "path").is_empty());
    for attribute in ["data-value", "data-low", "data-high"] {
        assert!(west.attribute(attribute).is_none(), "{attribute} on a suppressed row");
    }
    for figure in ["55.4", "51.9", "52.0", "59.1"] {
        assert!(!svg.contains(figure), "a suppressed figure leaked ({figure}):\n{svg}");
    }
    let word: Vec<String> = west
        .descendants()
        .filter(|n| has_class(n, "chart-suppressed"))
        .map(|n| all_text(&n))
        .collect();
    assert_eq!(word, ["suppressed"]);
    // The ordinary row does draw.
    let north = rows
        .iter()
        .find(|r| r.attribute("data-label") == Some("North"))
        .expect("North row");
    assert_eq!(within(north, "rect").len(), 1);
}

#[test]
fn low_precision_is_hatched_and_marked_not_only_coloured() {
    let svg = interval_svg(&chart(vec![
        row("North", 64.2, 60.1, 68.3, Mark::Normal),
        row("East", 58.0, 50.0, 66.0, Mark::LowPrecision),
    ]));
    let doc = parse(&svg);
    let east = by_class(&doc, "chart-row")
        .into_iter()
        .find(|r| r.attribute("data-label") == Some("East"))
        .unwrap();
    let bar = &within(&east, "rect")[0];
    assert_eq!(bar.attribute("fill"), Some("url(#districts-hatch)"));
    assert!(bar.attribute("stroke-dasharray").is_some());
    let pattern = doc.descendants().find(|n| n.has_tag_name("pattern")).expect("pattern");
    assert_eq!(pattern.attribute("id"), Some("districts-hatch"));
    let value = east.descendants().find(|n| has_class(n, "chart-value")).unwrap();
    assert_eq!(all_text(&value), format!("58.0 {LOW_PRECISION_MARKER}"));
    // The normal row has neither.
    let north = by_class(&doc, "chart-row")
        .into_iter()
        .find(|r| r.attribute("data-label") == Some("North"))
        .unwrap();
    assert_ne!(
        within(&north, "rect")[0].attribute("fill"),
        Some("url(#districts-hatch)")
    );
    assert!(!all_text(&north).contains(LOW_PRECISION_MARKER));
    // The legend explains the hatch and the marker.
    let entry = &by_class(&doc, "chart-legend-low")[0];
    assert!(all_text(entry).contains(LOW_PRECISION_MARKER) && all_text(entry).contains("low precision"));
    assert_eq!(
        within(entry, "rect")[0].attribute("fill"),
        Some("url(#districts-hatch)")
    );
}

#[test]
fn a_highlight_has_a_heavier_outline_and_a_marker() {
    let svg = interval_svg(&chart(vec![
        row("North", 64.2, 60.1, 68.3, Mark::Normal),
        row("South", 70.5, 68.0, 73.0, Mark::Highlight),
    ]));
    let doc = parse(&svg);
    let rows = by_class(&doc, "chart-row");
    let width = |r: &Node| num(&within(r, "rect")[0], "stroke-width");
    assert!(width(&rows[1]) >= 2.0 * width(&rows[0]));
    let value = rows[1].descendants().find(|n| has_class(n, "chart-value")).unwrap();
    assert_eq!(all_text(&value), format!("70.5 {HIGHLIGHT_MARKER}"));
    assert!(all_text(&by_class(&doc, "chart-legend-highlight")[0]).contains("significant change"));
}

#[test]
fn the_legend_names_only_the_marks_used() {
    let plain = parse_owned(interval_svg(&chart(vec![IntervalRow {
        label: "North".into(),
        value: Some(64.0),
        low: None,
        high: None,
        mark: Mark::Normal,
        note: None,
    }])));
    assert!(
        !plain.contains("chart-legend"),
        "a legend with nothing to explain:\n{plain}"
    );
    let svg = interval_svg(&chart(vec![row("North", 64.2, 60.1, 68.3, Mark::Normal)]));
    let doc = parse(&svg);
    assert_eq!(by_class(&doc, "chart-legend-interval").len(), 1);
    assert!(by_class(&doc, "chart-legend-low").is_empty() && by_class(&doc, "chart-legend-highlight").is_empty());
}

fn parse_owned(svg: String) -> String {
    parse(&svg);
    svg
}

#[test]
fn bars_and_whiskers_sit_where_the_scale_maps_their_values() {
    let values = [
        (64.2, 60.1, 68.3),
        (0.1 + 0.2, 0.0, 1.0 / 3.0),
        (99.999_999_999, 97.5, 100.0),
        (33.333_333_333_333_336, 12.345_678_901_234_567, 45.678_901_234_567_89),
    ];
    let rows = values
        .iter()
        .enumerate()
        .map(|(i, (v, l, h))| row(&format!("R{i}"), *v, *l, *h, Mark::Normal))
        .collect();
    let svg = interval_svg(&chart(rows));
    let doc = parse(&svg);
    let plot = &by_class(&doc, "chart-plot")[0];
    let drawn = by_class(&doc, "chart-row");
    assert_eq!(drawn.len(), values.len());
    for (row, (v, l, h)) in drawn.iter().zip(values) {
        let bar = &within(row, "rect")[0];
        let start = num(bar, "x");
        let end = start + num(bar, "width");
        assert!((start - documented_x(plot, 0.0)).abs() < 1e-9, "bar starts at {start}");
        assert!((end - documented_x(plot, v)).abs() < 1e-9, "bar of {v} ends at {end}");
        let whisker = row.descendants().find(|n| has_class(n, "chart-whisker")).unwrap();
        assert!((num(&whisker, "x1") - documented_x(plot, l)).abs() < 1e-9);
        assert!((num(&whisker, "x2") - documented_x(plot, h)).abs() < 1e-9);
    }
    // The axis is drawn with the same mapping.
    for tick in by_class(&doc, "chart-tick") {
        assert!((num(&tick, "x1") - documented_x(plot, num(&tick, "data-value"))).abs() < 1e-9);
    }
    let reference = &by_class(&doc, "chart-reference")[0];
    assert!((num(reference, "x1") - documented_x(plot, 61.25)).abs() < 1e-9);
}

#[test]
fn percent_scales_map_proportions_and_print_whole_percent() {
    let mut c = chart(vec![row("Parks", 0.4725, 0.43, 0.515, Mark::Normal)]);
    c.scale = Scale::proportion();
    c.reference = None;
    let svg = interval_svg(&c);
    let doc = parse(&svg);
    let plot = &by_class(&doc, "chart-plot")[0];
    let bar = &within(&by_class(&doc, "chart-row")[0], "rect")[0];
    assert!((num(bar, "x") + num(bar, "width") - documented_x(plot, 0.4725)).abs() < 1e-9);
    assert_eq!(all_text(&by_class(&doc, "chart-value")[0]), "47%");
    let ticks: Vec<String> = by_class(&doc, "chart-tick-label").iter().map(all_text).collect();
    assert_eq!(ticks.first().map(String::as_str), Some("0%"));
    assert_eq!(ticks.last().map(String::as_str), Some("100%"));
}

#[test]
fn a_scale_without_zero_draws_dots_not_bars() {
    let mut c = chart(vec![
        row("North", 64.2, 60.1, 68.3, Mark::Normal),
        row("East", 120.0, 110.0, 130.0, Mark::Normal),
    ]);
    c.scale = Scale {
        min: 40.0,
        max: 90.0,
        percent: false,
    };
    let svg = interval_svg(&c);
    let doc = parse(&svg);
    let plot = &by_class(&doc, "chart-plot")[0];
    let rows = by_class(&doc, "chart-row");
    assert!(within(&rows[0], "rect").is_empty());
    let dot = &within(&rows[0], "circle")[0];
    assert!((num(dot, "cx") - documented_x(plot, 64.2)).abs() < 1e-9);
    // Outside the scale: drawn at its edge, the figure kept exact.
    let dot = &within(&rows[1], "circle")[0];
    assert!((num(dot, "cx") - num(plot, "data-x-max")).abs() < 1e-9);
    assert_eq!(rows[1].attribute("data-value"), Some("120"));
}

#[test]
fn data_attributes_round_trip_every_f64_exactly() {
    let values = [
        0.1 + 0.2,
        1.0 / 3.0,
        62.123_456_789_012_345,
        1e-300,
        5e-324,
        99.99999999999999,
        100.0,
        0.0,
    ];
    let rows = values
        .iter()
        .map(|v| row("R", *v, v / 2.0, v * 1.5, Mark::Normal))
        .collect();
    let svg = interval_svg(&chart(rows));
    let doc = parse(&svg);
    for (row, v) in by_class(&doc, "chart-row").iter().zip(values) {
        assert_eq!(num(row, "data-value"), v);
        assert_eq!(num(row, "data-low"), v / 2.0);
        assert_eq!(num(row, "data-high"), v * 1.5);
        assert_eq!(row.attribute("data-mark"), Some("normal"));
    }
    // Absent when None, and when not finite.
    let svg = interval_svg(&chart(vec![IntervalRow {
        label: "R".into(),
        value: Some(f64::NAN),
        low: None,
        high: Some(f64::INFINITY),
        mark: Mark::Normal,
        note: None,
    }]));
    let doc = parse(&svg);
    let r = &by_class(&doc, "chart-row")[0];
    assert!(
        r.attribute("data-value").is_none() && r.attribute("data-low").is_none() && r.attribute("data-high").is_none()
    );
    assert!(within(r, "rect").is_empty());
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn values_print_with_one_decimal_at_the_end_of_the_bar() {
    let svg = interval_svg(&chart(vec![row("North", 64.25, 60.1, 68.3, Mark::Normal)]));
    let doc = parse(&svg);
    let r = &by_class(&doc, "chart-row")[0];
    let value = r.descendants().find(|n| has_class(n, "chart-value")).unwrap();
    assert!(all_text(&value) == "64.2" || all_text(&value) == "64.3");
    // Right of the bar's end and of the whisker, not on them.
    let whisker = r.descendants().find(|n| has_class(n, "chart-whisker")).unwrap();
    assert!(num(&value, "x") > num(&whisker, "x2"));
    let viewbox: Vec<f64> = doc
        .root_element()
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(num(&value, "x") + text_width("64.2", FONT) <= viewbox[2]);
}

#[test]
fn long_labels_stand_above_their_bars_short_ones_beside() {
    let short = interval_svg(&chart(vec![row("North", 64.2, 60.1, 68.3, Mark::Normal)]));
    let doc = parse(&short);
    let label = &by_class(&doc, "chart-label")[0];
    assert_eq!(label.attribute("text-anchor"), Some("end"));

    let long_label = "Housing, rents and the state of the buildings in the old town district";
    let long = interval_svg(&chart(vec![
        row(long_label, 64.2, 60.1, 68.3, Mark::Normal),
        row("北区", 50.0, 45.0, 55.0, Mark::Normal),
    ]));
    let doc = parse(&long);
    let rows = by_class(&doc, "chart-row");
    let label = rows[0].descendants().find(|n| has_class(n, "chart-label")).unwrap();
    assert_eq!(label.attribute("text-anchor"), Some("start"));
    let lines: Vec<Node> = within(&label, "tspan");
    assert!(lines.len() >= 2, "a long label on one line");
    assert_eq!(lines.iter().map(all_text).collect::<Vec<_>>().join(" "), long_label);
    let bar = &within(&rows[0], "rect")[0];
    assert!(
        num(&label, "y") + 15.0 * (lines.len() as f64 - 1.0) < num(bar, "y"),
        "label not above its bar"
    );
}

#[test]
fn text_is_at_least_12_units_at_a_360_wide_view() {
    for svg in all_outputs() {
        let doc = parse(&svg);
        let width: f64 = doc
            .root_element()
            .attribute("viewBox")
            .unwrap()
            .split(' ')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
            let size = num(&text, "font-size");
            assert!(
                size * 360.0 / width >= 12.0 - 1e-9,
                "font-size {size} in a {width}-wide view"
            );
        }
    }
    assert_eq!(WIDTH, 360.0);
}

#[test]
fn a_missing_trend_point_is_a_gap_not_a_zero() {
    let svg = trend_svg(&trend(vec![
        point("2021", Some(60.0), Mark::Normal),
        point("2022", Some(61.0), Mark::Normal),
        point("2023", None, Mark::Normal),
        point("2024", Some(62.0), Mark::Normal),
        point("2025", Some(63.5), Mark::Normal),
    ]));
    let doc = parse(&svg);
    let plot = &by_class(&doc, "chart-plot")[0];
    let (min, max) = (num(plot, "data-scale-min"), num(plot, "data-scale-max"));
    let (y0, y1) = (num(plot, "data-y-min"), num(plot, "data-y-max"));
    let y = |v: f64| y0 + (v - min) / (max - min) * (y1 - y0);
    let lines = by_class(&doc, "chart-line");
    assert_eq!(lines.len(), 2, "the line must break at the missing wave");
    let points = by_class(&doc, "chart-point");
    let gap = &points[2];
    assert!(within(gap, "circle").is_empty() && gap.attribute("data-value").is_none());
    let circles: Vec<Node> = doc.descendants().filter(|n| n.has_tag_name("circle")).collect();
    assert_eq!(circles.len(), 4);
    for c in &circles {
        assert!((num(c, "cy") - y(0.0)).abs() > 1.0, "a point drawn at zero");
    }
    // Each run joins exactly its points, at their values.
    let expected: Vec<Vec<(f64, f64)>> = vec![vec![(0, 60.0), (1, 61.0)], vec![(3, 62.0), (4, 63.5)]]
        .into_iter()
        .map(|run| {
            run.into_iter()
                .map(|(i, v)| (num(&within(&points[i], "circle")[0], "cx"), y(v)))
                .collect()
        })
        .collect();
    for (line, run) in lines.iter().zip(expected) {
        let drawn: Vec<(f64, f64)> = line
            .attribute("points")
            .unwrap()
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(drawn.len(), run.len());
        for ((dx, dy), (ex, ey)) in drawn.iter().zip(run) {
            assert!((dx - ex).abs() < 1e-9 && (dy - ey).abs() < 1e-9);
        }
    }
    for (p, v) in points.iter().zip([60.0, 61.0, f64::NAN, 62.0, 63.5]) {
        if v.is_nan() {
            continue;
        }
        let w = p.descendants().find(|n| has_class(n, "chart-whisker")).unwrap();
        assert!((num(&w, "y1") - y(v - 3.0)).abs() < 1e-9 && (num(&w, "y2") - y(v + 3.0)).abs() < 1e-9);
        assert_eq!(num(p, "data-value"), v);
    }
}

#[test]
fn a_suppressed_trend_point_says_so_and_draws_nothing() {
    let svg = trend_svg(&trend(vec![
        point("2023", Some(60.0), Mark::Normal),
        TrendPoint {
            label: "2024".into(),
            value: Some(57.25),
            low: Some(50.0),
            high: Some(64.0),
            mark: Mark::Suppressed,
        },
        point("2025", Some(63.0), Mark::LowPrecision),
    ]));
    let doc = parse(&svg);
    let points = by_class(&doc, "chart-point");
    assert!(within(&points[1], "circle").is_empty() && within(&points[1], "line").is_empty());
    assert!(points[1].attribute("data-value").is_none() && !svg.contains("57.25"));
    assert!(all_text(&points[1]).contains("suppressed"));
    assert!(
        by_class(&doc, "chart-line").is_empty(),
        "a line across a suppressed wave"
    );
    let low = &within(&points[2], "circle")[0];
    assert_eq!(low.attribute("fill"), Some("url(#trend-hatch)"));
    assert!(all_text(&points[2]).contains(LOW_PRECISION_MARKER));
}

#[test]
fn small_multiples_share_one_scale() {
    let mut a = chart(vec![
        row("North", 64.2, 60.1, 68.3, Mark::Normal),
        row("East", 99.5, 98.0, 100.0, Mark::LowPrecision),
    ]);
    a.title = "Housing".into();
    a.scale = Scale {
        min: 0.0,
        max: 80.0,
        percent: false,
    };
    let mut b = chart(vec![row("North", 64.2, 55.0, 70.0, Mark::Normal)]);
    b.title = "Transport".into();
    b.reference = Some(Reference {
        label: "City".into(),
        value: 58.0,
    });
    let c = chart(vec![row("South", 12.0, 10.0, 14.0, Mark::Highlight)]);
    let svg = small_multiples_svg(
        "dims",
        "Dimensions by district",
        "Each dimension's index per district.",
        &[a, b, c],
        2,
    );
    let doc = parse(&svg);
    let plots = by_class(&doc, "chart-plot");
    assert_eq!(plots.len(), 3);
    for p in &plots {
        for attribute in ["data-scale-min", "data-scale-max", "data-x-min", "data-x-max"] {
            assert_eq!(p.attribute(attribute), plots[0].attribute(attribute), "{attribute}");
        }
    }
    assert_eq!(
        num(&plots[0], "data-scale-max"),
        100.0,
        "the union of the panels' scales"
    );
    let panels = by_class(&doc, "chart-panel");
    assert_eq!(
        panels
            .iter()
            .map(|p| p.attribute("data-title").unwrap())
            .collect::<Vec<_>>(),
        ["Housing", "Transport", "Livability by district"]
    );
    // The same value ends at the same x in both panels.
    let end = |panel: &Node| {
        let bar = &within(
            &panel.descendants().find(|n| has_class(n, "chart-row")).unwrap(),
            "rect",
        )[0];
        num(bar, "x") + num(bar, "width")
    };
    assert!((end(&panels[0]) - end(&panels[1])).abs() < 1e-9);
    assert!((end(&panels[0]) - documented_x(&plots[0], 64.2)).abs() < 1e-9);
    // Two columns: the third panel starts a second grid row, under the first.
    let translate = |p: &Node| -> (f64, f64) {
        let t = p
            .attribute("transform")
            .unwrap()
            .trim_start_matches("translate(")
            .trim_end_matches(')')
            .to_string();
        let (x, y) = t.split_once(' ').unwrap();
        (x.parse().unwrap(), y.parse().unwrap())
    };
    assert_eq!(translate(&panels[2]).0, translate(&panels[0]).0);
    assert!(translate(&panels[2]).1 > translate(&panels[0]).1);
    assert!(translate(&panels[1]).0 > translate(&panels[0]).0);
    // One legend for all panels, naming the marks used in any.
    assert_eq!(by_class(&doc, "chart-legend").len(), 1);
    assert_eq!(by_class(&doc, "chart-legend-low").len(), 1);
    assert_eq!(by_class(&doc, "chart-legend-highlight").len(), 1);
}

#[test]
fn output_is_deterministic() {
    assert_eq!(all_outputs(), all_outputs());
}

#[test]
fn wrapping_keeps_lines_within_the_width_and_breaks_cjk() {
    let lines = wrap("Housing, rents and the state of the buildings", 120.0, FONT);
    assert!(lines.len() > 1);
    assert!(lines.iter().all(|l| text_width(l, FONT) <= 120.0));
    assert_eq!(lines.join(" "), "Housing, rents and the state of the buildings");
    let zh = "住房租金和老城区建筑状况的满意度";
    let lines = wrap(zh, 100.0, FONT);
    assert!(lines.len() > 1 && lines.iter().all(|l| text_width(l, FONT) <= 100.0));
    assert_eq!(lines.concat(), zh);
    let long_word = "Donaudampfschifffahrtsgesellschaftskapitän";
    let lines = wrap(long_word, 60.0, FONT);
    assert!(lines.iter().all(|l| text_width(l, FONT) <= 60.0) && lines.concat() == long_word);
    assert_eq!(wrap("", 60.0, FONT), [""]);
}

#[test]
fn ticks_are_round_and_inside_the_scale() {
    assert_eq!(ticks(0.0, 100.0, 5), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    assert_eq!(ticks(0.0, 1.0, 4), [0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(ticks(40.0, 90.0, 5), [40.0, 50.0, 60.0, 70.0, 80.0, 90.0]);
    assert_eq!(ticks(-10.0, 10.0, 4), [-10.0, -5.0, 0.0, 5.0, 10.0]);
}

/// The IHDR width and height of a PNG.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

fn viewbox(svg: &str) -> (f64, f64) {
    let doc = parse(svg);
    let v: Vec<f64> = doc
        .root_element()
        .attribute("viewBox")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    (v[2], v[3])
}

#[test]
fn png_renders_every_chart_at_twice_its_size() {
    for svg in all_outputs() {
        let bytes = png(&svg).expect("png");
        let (w, h) = viewbox(&svg);
        assert_eq!(png_size(&bytes), ((w * 2.0).ceil() as u32, (h * 2.0).ceil() as u32));
        assert!(bytes.len() > 2_000, "a suspiciously small PNG: {} bytes", bytes.len());
        // Something is drawn: dark pixels (text, whiskers) on the white.
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap();
        let dark = pixmap
            .pixels()
            .iter()
            .filter(|p| p.alpha() == 255 && p.red() < 80 && p.green() < 80)
            .count();
        assert!(dark > 500, "only {dark} dark pixels");
    }
}

#[test]
fn png_draws_chinese_and_korean_labels_where_a_cjk_font_is_installed() {
    let has_cjk = fonts()
        .faces()
        .any(|f| f.families.iter().any(|(name, _)| name.contains("CJK")));
    if !has_cjk {
        eprintln!("no CJK font installed (fonts-noto-cjk): not checked");
        return;
    }
    let render = |label: &str| {
        let mut c = chart(vec![row(label, 64.2, 60.1, 68.3, Mark::Normal)]);
        c.reference = None;
        let bytes = png(&interval_svg(&c)).unwrap();
        let pixmap = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap();
        pixmap
            .pixels()
            .iter()
            .filter(|p| p.alpha() == 255 && p.red() < 80 && p.green() < 80)
            .count()
    };
    let blank = render("");
    assert!(render("北区") > blank + 20, "Chinese label drew nothing");
    assert!(render("북구") > blank + 20, "Korean label drew nothing");
}

#[test]
fn png_refuses_what_is_not_svg() {
    assert!(matches!(png("<svg"), Err(ChartError::Svg(_))));
    assert!(matches!(png("not svg at all"), Err(ChartError::Svg(_))));
}

fn table() -> Table {
    Table {
        title: "Districts: index [2025/26]?".into(),
        columns: vec!["District".into(), "Index".into(), "Low".into(), "=SUM(A1)".into()],
        rows: vec![
            vec![
                Cell::Text("North".into()),
                Cell::Number {
                    value: Some(62.123_456_789_012_35),
                    decimals: 1,
                },
                Cell::Number {
                    value: Some(0.1 + 0.2),
                    decimals: 2,
                },
                Cell::Text("=HYPERLINK(\"http://x\",\"y\")".into()),
            ],
            vec![
                Cell::Text("-West".into()),
                Cell::Number {
                    value: None,
                    decimals: 1,
                },
                Cell::Number {
                    value: Some(-3.5),
                    decimals: 0,
                },
                Cell::Empty,
            ],
        ],
    }
}

#[test]
fn csv_neutralises_formulas_and_keeps_full_precision() {
    let mut out = Vec::new();
    write_csv(&table(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["District", "Index", "Low", "'=SUM(A1)"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows[0][0], *"North");
    assert_eq!(rows[0][1].parse::<f64>().unwrap(), 62.123_456_789_012_35);
    assert_eq!(rows[0][2].parse::<f64>().unwrap(), 0.1 + 0.2);
    assert_eq!(rows[0][3], *"'=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(
        crate::spreadsheet::restore_neutralised(&rows[0][3]),
        "=HYPERLINK(\"http://x\",\"y\")"
    );
    assert_eq!(rows[1][0], *"'-West");
    assert_eq!(&rows[1][1], "");
    // A number is a number, even a negative one.
    assert_eq!(&rows[1][2], "-3.5");
    assert_eq!(&rows[1][3], "");
}

#[test]
fn a_row_of_the_wrong_length_is_refused() {
    let mut t = table();
    t.rows[1].pop();
    let err = write_csv(&t, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            ChartError::RowLength {
                row: 2,
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("row 2"));
    assert!(matches!(xlsx(&t), Err(ChartError::RowLength { .. })));
}

fn zip_file(bytes: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut file = archive.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn xlsx_opens_with_a_bold_header_numbers_as_numbers_and_formulas_as_text() {
    let bytes = xlsx(&table()).unwrap();
    assert_eq!(&bytes[..2], b"PK");

    let strings_xml = zip_file(&bytes, "xl/sharedStrings.xml");
    let strings_doc = Document::parse(&strings_xml).unwrap();
    let strings: Vec<String> = strings_doc
        .descendants()
        .filter(|n| n.has_tag_name("si"))
        .map(|n| all_text(&n))
        .collect();

    let sheet_xml = zip_file(&bytes, "xl/worksheets/sheet1.xml");
    let sheet = Document::parse(&sheet_xml).unwrap();
    assert!(
        sheet.descendants().all(|n| !n.has_tag_name("f")),
        "a formula in the sheet:\n{sheet_xml}"
    );
    let cell = |r: &str| {
        sheet
            .descendants()
            .find(|n| n.has_tag_name("c") && n.attribute("r") == Some(r))
    };
    let value = |r: &str| {
        cell(r)
            .and_then(|c| c.children().find(|n| n.has_tag_name("v")))
            .and_then(|v| v.text())
            .unwrap()
    };
    let string_at = |r: &str| {
        let c = cell(r).unwrap();
        assert_eq!(c.attribute("t"), Some("s"), "{r} is not a string cell");
        strings[value(r).parse::<usize>().unwrap()].clone()
    };
    assert_eq!(
        ["A1", "B1", "C1", "D1"].map(string_at),
        ["District", "Index", "Low", "=SUM(A1)"]
    );
    assert_eq!(string_at("D2"), "=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(string_at("A3"), "-West");
    // Numbers: no type (numeric), the exact value.
    assert_eq!(cell("B2").unwrap().attribute("t"), None);
    assert_eq!(value("B2").parse::<f64>().unwrap(), 62.123_456_789_012_35);
    assert_eq!(value("C3").parse::<f64>().unwrap(), -3.5);
    assert!(cell("B3").is_none(), "a None number is an empty cell");

    // The header's format is bold; the numbers' formats show their decimals.
    let styles_xml = zip_file(&bytes, "xl/styles.xml");
    let styles = Document::parse(&styles_xml).unwrap();
    let xfs: Vec<Node> = styles
        .descendants()
        .find(|n| n.has_tag_name("cellXfs"))
        .unwrap()
        .children()
        .filter(|n| n.has_tag_name("xf"))
        .collect();
    let fonts: Vec<Node> = styles
        .descendants()
        .find(|n| n.has_tag_name("fonts"))
        .unwrap()
        .children()
        .filter(|n| n.has_tag_name("font"))
        .collect();
    let xf_of = |r: &str| &xfs[cell(r).unwrap().attribute("s").unwrap_or("0").parse::<usize>().unwrap()];
    let font = &fonts[xf_of("A1").attribute("fontId").unwrap().parse::<usize>().unwrap()];
    assert!(font.children().any(|n| n.has_tag_name("b")), "header not bold");
    let format_code = |r: &str| {
        let id = xf_of(r).attribute("numFmtId").unwrap();
        styles
            .descendants()
            .find(|n| n.has_tag_name("numFmt") && n.attribute("numFmtId") == Some(id))
            .and_then(|n| n.attribute("formatCode"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("builtin {id}"))
    };
    assert_eq!(format_code("B2"), "0.0");
    assert_eq!(format_code("C2"), "0.00");
    // "0" is Excel's built-in format 1.
    assert!(
        ["0", "builtin 1"].contains(&format_code("C3").as_str()),
        "{}",
        format_code("C3")
    );

    let workbook = zip_file(&bytes, "xl/workbook.xml");
    assert!(workbook.contains("name=\"Districts_ index _2025_26__\""), "{workbook}");
}

#[test]
fn sheet_names_follow_excels_rules() {
    assert_eq!(sheet_name("Districts: index [2025/26]?"), "Districts_ index _2025_26__");
    assert_eq!(sheet_name("'quoted'"), "quoted");
    assert_eq!(sheet_name(""), "Sheet1");
    assert_eq!(sheet_name("history"), "history_");
    let long = sheet_name("各区居住满意度指数与置信区间（二〇二五年度调查，第三波）以及更多");
    assert_eq!(long.chars().count(), 31);
    for title in ["a*b\\c", "x".repeat(40).as_str(), "  spaced  ", "区"] {
        let name = sheet_name(title);
        let mut book = rust_xlsxwriter::Workbook::new();
        book.add_worksheet()
            .set_name(&name)
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
    }
}
