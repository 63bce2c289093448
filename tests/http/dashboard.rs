//! The officials' dashboard and yearly report, through the real server:
//! every bar and interval drawn equals the API's figure for the same
//! options, suppressed cells are shown as withheld and never drawn, the
//! charts carry their accessible markup and data tables, the downloads
//! are what they say, and only statisticians and admins get in.
//! Two interview waves (tests/reference/report) are imported with the
//! real binary; the server's smallest published cell is 20, so the
//! 12-respondent district is withheld (and one other, to protect it).

use crate::helpers::*;
use civicpulse::account::Role;
use serde_json::Value;

const WAVES: [(i32, &str); 2] = [(2025, "wave2025.csv"), (2026, "wave2026.csv")];

async fn two_waves() -> TestApp {
    let app = spawn_app_with(|_| {}, |config| config.min_cell_floor = 20).await;
    for (wave, file) in WAVES {
        let path = format!("{}/tests/reference/report/{file}", env!("CARGO_MANIFEST_DIR"));
        let (ok, _, stderr) = app.cli(&["import", "livability", &path, "--wave", &wave.to_string()]);
        assert!(ok, "{stderr}");
    }
    app
}

async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// One drawn row of a chart: its label and the exact values it was drawn
/// from (`data-*`), and whether a bar was drawn.
#[derive(Debug)]
struct Drawn {
    label: String,
    value: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    mark: String,
    has_bar: bool,
}

/// The section of the page with `id`, up to its end.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section class=\"dash-block\" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = start + html[start..].find("</section>").unwrap();
    &html[start..end]
}

/// The rows (bars) drawn in the first SVG of `html`.
fn drawn_rows(html: &str) -> Vec<Drawn> {
    drawn(html, "<g class=\"chart-row")
}

/// The points drawn in the first SVG of `html` (the trend).
fn drawn_points(html: &str) -> Vec<Drawn> {
    drawn(html, "<g class=\"chart-point")
}

fn drawn(html: &str, opening: &str) -> Vec<Drawn> {
    let svg_start = html.find("<svg").expect("an svg");
    let svg = &html[svg_start..svg_start + html[svg_start..].find("</svg>").unwrap()];
    let mut rows = Vec::new();
    for (at, _) in svg.match_indices(opening) {
        let tag = &svg[at..at + svg[at..].find('>').unwrap()];
        let body_end = at + svg[at..].find("</g>").unwrap();
        let body = &svg[at..body_end];
        let number = |name: &str| attr(tag, name).map(|v| v.parse::<f64>().unwrap());
        rows.push(Drawn {
            label: unescape(&attr(tag, "data-label").expect("a label")),
            value: number("data-value"),
            low: number("data-low"),
            high: number("data-high"),
            mark: attr(tag, "data-mark").unwrap_or_default(),
            has_bar: body.contains("class=\"chart-bar")
                || (opening.contains("chart-point") && body.contains("class=\"chart-dot")),
        });
    }
    rows
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// The drawn row equals the API's figure exactly; a withheld figure is
/// marked and has no bar.
fn assert_drawn_as(drawn: &Drawn, figure: &Value, what: &str) {
    if figure["suppressed"] == true {
        assert_eq!(drawn.mark, "suppressed", "{what}: {drawn:?}");
        assert!(
            !drawn.has_bar && drawn.value.is_none(),
            "{what}: a withheld cell is drawn: {drawn:?}"
        );
        return;
    }
    assert!(drawn.has_bar, "{what}: no bar: {drawn:?}");
    assert_eq!(drawn.value, f(&figure["estimate"]), "{what}");
    assert_eq!(drawn.low, f(&figure["ci_low"]), "{what}");
    assert_eq!(drawn.high, f(&figure["ci_high"]), "{what}");
    let expected_mark = if figure["low_precision"] == true {
        "low-precision"
    } else {
        "normal"
    };
    assert_eq!(drawn.mark, expected_mark, "{what}");
}

#[tokio::test]
async fn every_bar_and_interval_drawn_is_the_apis_figure() {
    let app = two_waves().await;
    let token = app.api_token("dashboard-check");
    let client = app.signed_in("stella", Role::Statistician).await;
    let survey = livability();
    let by_district = survey.question("district").unwrap();
    let district_label = |value: &str| {
        by_district
            .option(value)
            .unwrap()
            .label
            .get(civicpulse::lang::Lang::En)
            .to_string()
    };

    let page = get(&app, &client, "/dashboard/livability?lang=en&wave=2026").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let report = api(&app, &token, "/api/v1/surveys/livability/indices?wave=2026&by=district").await;
    let rows = report["rows"].as_array().unwrap();
    let city = |level: &str, id: &str| {
        rows.iter()
            .find(|r| r["group"].is_null() && r["level"] == level && r["id"] == id)
            .unwrap_or_else(|| panic!("no {level} {id}"))
    };

    // Dimensions, in the definition's order.
    let dimensions = drawn_rows(section(&html, "dimensions"));
    let api_dimensions: Vec<&Value> = rows
        .iter()
        .filter(|r| r["group"].is_null() && r["level"] == "dimension")
        .collect();
    assert_eq!(dimensions.len(), api_dimensions.len());
    assert_eq!(dimensions.len(), survey.dimensions.len());
    for (drawn, row) in dimensions.iter().zip(&api_dimensions) {
        let dimension = survey.dimensions.iter().find(|d| d.id.as_str() == row["id"]).unwrap();
        assert_eq!(drawn.label, dimension.title.get(civicpulse::lang::Lang::En));
        assert_drawn_as(drawn, row, &format!("dimension {}", row["id"]));
    }

    // Districts, best first, withheld ones shown as withheld.
    let districts = drawn_rows(section(&html, "districts"));
    let api_districts: Vec<&Value> = rows
        .iter()
        .filter(|r| !r["group"].is_null() && r["level"] == "overall" && r["n"] != 0)
        .collect();
    assert_eq!(districts.len(), api_districts.len(), "every district with respondents");
    let mut withheld = 0;
    for row in &api_districts {
        let label = district_label(row["group"].as_str().unwrap());
        let drawn = districts
            .iter()
            .find(|d| d.label == label)
            .unwrap_or_else(|| panic!("{label} not drawn"));
        assert_drawn_as(drawn, row, &format!("district {label}"));
        withheld += usize::from(row["suppressed"] == true);
    }
    assert_eq!(withheld, 2, "the 12-respondent district and its complement");
    let values: Vec<f64> = districts.iter().filter_map(|d| d.value).collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "sorted: {values:?}");
    assert!(districts.last().unwrap().value.is_none(), "withheld last");

    // Each dimension by district: every panel's rows.
    let multiples = drawn_rows(section(&html, "districts-by-dimension"));
    assert_eq!(multiples.len(), api_districts.len() * survey.dimensions.len());
    for row in rows
        .iter()
        .filter(|r| !r["group"].is_null() && r["level"] == "dimension" && r["n"] != 0)
    {
        let label = district_label(row["group"].as_str().unwrap());
        let drawn_matches = multiples
            .iter()
            .filter(|d| d.label == label && d.value == f(&row["estimate"]))
            .count();
        if row["suppressed"] == true {
            continue;
        }
        assert!(drawn_matches >= 1, "{label} {} not drawn", row["id"]);
    }

    // Items: the satisfied rate, lowest first.
    let items = drawn_rows(section(&html, "items"));
    let api_items: Vec<&Value> = rows
        .iter()
        .filter(|r| r["group"].is_null() && r["level"] == "item" && r.get("top_box").is_some())
        .collect();
    assert_eq!(items.len(), api_items.len());
    for row in &api_items {
        let text = survey
            .question(row["id"].as_str().unwrap())
            .unwrap()
            .text
            .get(civicpulse::lang::Lang::En);
        let drawn = items
            .iter()
            .find(|d| d.label == text)
            .unwrap_or_else(|| panic!("{text} not drawn"));
        assert_drawn_as(drawn, &row["top_box"], &format!("item {}", row["id"]));
    }
    let shares: Vec<f64> = items.iter().filter_map(|d| d.value).collect();
    assert!(shares.windows(2).all(|w| w[0] <= w[1]), "lowest first: {shares:?}");

    // The trend: each wave's overall index.
    let trend = drawn_points(section(&html, "trend"));
    assert_eq!(trend.len(), 2);
    for ((wave, _), drawn) in WAVES.iter().zip(&trend) {
        let wave_report = api(
            &app,
            &token,
            &format!("/api/v1/surveys/livability/indices?wave={wave}&by=district"),
        )
        .await;
        let overall = &wave_report["rows"][0];
        assert_eq!(overall["level"], "overall");
        assert_eq!(drawn.label, wave.to_string());
        assert_drawn_as(drawn, overall, &format!("trend {wave}"));
    }

    // The headline and its change, significant exactly when compare says so.
    let overall = city("overall", "overall");
    let shown = format!("{:.1}", overall["estimate"].as_f64().unwrap());
    assert!(
        html.contains(&format!("data-figure=\"overall\">{shown}<")),
        "headline {shown}"
    );
    let compare = api(
        &app,
        &token,
        "/api/v1/surveys/livability/compare?from=2025&to=2026&by=district",
    )
    .await;
    let change = compare["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"].is_null() && r["level"] == "overall")
        .unwrap();
    let significant = change["significant"].as_bool().unwrap();
    assert!(
        html.contains(&format!("data-significant=\"{significant}\"")),
        "the change is marked significant={significant}"
    );
    assert!(
        html.contains("definition version"),
        "the page names the definition version"
    );
}

#[tokio::test]
async fn charts_are_accessible_and_their_downloads_are_real() {
    let app = two_waves().await;
    let client = app.signed_in("ada", Role::Admin).await;
    for lang in ["zh", "en", "ko"] {
        let response = get(&app, &client, &format!("/dashboard/livability?lang={lang}")).await;
        assert_eq!(response.status(), 200, "{lang}");
        let html = response.text().await.unwrap();
        assert!(!html.contains(" style="), "{lang}: an inline style the CSP would block");
        let svgs: Vec<&str> = html.match_indices("<svg").map(|(at, _)| &html[at..]).collect();
        assert!(svgs.len() >= 5, "{lang}: {} charts", svgs.len());
        for svg in svgs {
            let tag = &svg[..svg.find('>').unwrap()];
            assert_eq!(attr(tag, "role").as_deref(), Some("img"), "{lang}: {tag}");
            let labelled_by = attr(tag, "aria-labelledby").expect("aria-labelledby");
            let body = &svg[..svg.find("</svg>").unwrap()];
            for id in labelled_by.split_whitespace() {
                assert!(
                    body.contains(&format!("id=\"{id}\"")),
                    "{lang}: {id} is not in its chart"
                );
            }
            assert!(
                body.contains("<title") && body.contains("<desc"),
                "{lang}: title and desc"
            );
        }
        for name in ["dimensions", "districts", "districts-by-dimension", "items", "trend"] {
            assert!(
                html.contains(&format!("data-chart=\"{name}\"")),
                "{lang}: the data table behind {name}"
            );
        }
    }

    let base = "/dashboard/livability";
    let query = "wave=2026&weights=design&by=district&level=0.95&lang=en";
    let page = get(&app, &client, &format!("{base}?{query}"))
        .await
        .text()
        .await
        .unwrap();
    let svg = get(&app, &client, &format!("{base}/chart/items.svg?{query}")).await;
    assert_eq!(svg.status(), 200);
    assert!(svg.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("image/svg+xml"));
    assert!(svg.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("livability-2026-items.svg"));
    let svg = svg.text().await.unwrap();
    assert!(page.contains(&svg), "the download is the chart on the page");
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));

    let png = get(&app, &client, &format!("{base}/chart/districts.png?{query}")).await;
    assert_eq!(png.status(), 200);
    let png = png.bytes().await.unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2_000,
        "{} bytes",
        png.len()
    );

    let csv = get(&app, &client, &format!("{base}/table/districts.csv?{query}")).await;
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    let table_rows = section(&page, "districts").matches("<tr>").count() - 1;
    assert_eq!(csv.lines().count(), table_rows + 1, "header and every row:\n{csv}");

    let xlsx = get(&app, &client, &format!("{base}/table/items.xlsx?{query}")).await;
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"), "a zip (xlsx)");

    for missing in ["/chart/nothing.svg", "/chart/items.exe", "/table/items.pdf"] {
        let response = get(&app, &client, &format!("{base}{missing}?{query}")).await;
        assert_eq!(response.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn only_statisticians_and_admins_see_the_results() {
    let app = two_waves().await;
    let anonymous = new_client();
    for path in [
        "/dashboard/livability",
        "/dashboard/livability/report",
        "/dashboard/livability/chart/items.svg",
    ] {
        let response = get(&app, &anonymous, path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert!(location(&response).starts_with("/login?next="), "{path}");
    }
    let designer = app.signed_in("dana", Role::Designer).await;
    let response = get(&app, &designer, "/dashboard/livability?lang=ko").await;
    assert_eq!(response.status(), 403);
    let statistician = app.signed_in("stella", Role::Statistician).await;
    assert_eq!(get(&app, &statistician, "/dashboard/livability").await.status(), 200);
}

#[tokio::test]
async fn settings_the_figures_cannot_use_are_explained_in_the_officials_language() {
    let app = two_waves().await;
    let client = app.signed_in("stella", Role::Statistician).await;
    let cases = [
        ("level=0.5&lang=ko", 400, "설정 중 하나가 올바르지 않습니다"),
        ("weights=raked&lang=en", 422, "population margins: store them first"),
        ("wave=1999&lang=zh", 404, "还没有答卷"),
        ("by=nosuch&lang=en", 422, "cannot be grouped by that question"),
    ];
    for (query, status, message) in cases {
        let response = get(&app, &client, &format!("/dashboard/livability?{query}")).await;
        assert_eq!(response.status(), status, "{query}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{query}: {html}");
    }
    let response = get(&app, &client, "/dashboard/nosuchsurvey?lang=en").await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_yearly_report_is_one_page_with_its_methods_and_the_cli_writes_the_same() {
    let app = two_waves().await;
    let client = app.signed_in("stella", Role::Statistician).await;
    let response = get(&app, &client, "/dashboard/livability/report?wave=2026&lang=en").await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<link") && !html.contains("<script"),
        "self-contained, no script"
    );
    // The one inline stylesheet is allowed by its hash, and nothing else is.
    let css = &html[html.find("<style>").unwrap() + 7..html.find("</style>").unwrap()];
    let hash = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css.as_bytes()))
    };
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    assert!(css.contains("@page") && css.contains("A4"), "a print stylesheet");
    for heading in [
        "Methods",
        "Sample",
        "Weighting",
        "Confidence intervals",
        "Suppression",
        "Exclusions",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    assert!(
        html.contains("fewer than 20 respondents"),
        "the server's suppression rule"
    );
    assert!(
        html.contains("2 figures of this report are withheld") || html.contains("figures of this report are withheld")
    );

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("report.html");
    let (ok, _, stderr) = app.cli(&[
        "report",
        "livability",
        "--wave",
        "2026",
        "--lang",
        "en",
        "--min-cell",
        "20",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let written = std::fs::read_to_string(&file).unwrap();
    let headline = |html: &str| {
        let at = html.find("data-figure=\"overall\">").unwrap() + 22;
        html[at..at + html[at..].find('<').unwrap()].to_string()
    };
    assert_eq!(
        headline(&written),
        headline(&html),
        "the CLI's report shows the server's figures"
    );
    let ko = out.path().join("report-ko.html");
    let (ok, _, stderr) = app.cli(&[
        "report",
        "livability",
        "--lang",
        "ko",
        "--level",
        "0.5",
        "--out",
        ko.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("level"), "{stderr}");
    assert!(!ko.exists(), "nothing half-written");
}

#[tokio::test]
async fn an_invitation_wave_shows_its_response_rates_as_the_fieldwork_api_gives_them() {
    use civicpulse::fieldwork::Access;
    let app = spawn_app_with(|_| {}, |config| config.min_cell_floor = 5).await;
    app.set_up_wave(Access::Invitation, &[("huancui", 620_000.0), ("wendeng", 480_000.0)]);
    for (district, invited, answering) in [("huancui", 30, 12), ("wendeng", 20, 7)] {
        let mut codes = app.invite(district, invited);
        for _ in 0..answering {
            let client = new_client();
            let page = app.form_with_code(&client, &codes.pop().unwrap(), "zh").await;
            let mut answers = valid_answers(&livability());
            answers.retain(|(q, _)| q != "district");
            answers.push(("district".into(), district.into()));
            let sent = post(&app, &client, "/s/livability", &with_tokens(&page, "zh", &answers)).await;
            assert_eq!(sent.status(), 303);
        }
    }
    let token = app.api_token("fieldwork");
    let fieldwork = api(
        &app,
        &token,
        &format!("/api/v1/surveys/livability/fieldwork?wave={}", this_year()),
    )
    .await;
    let client = app.signed_in("stella", Role::Statistician).await;
    let html = get(&app, &client, "/dashboard/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    let drawn = drawn_rows(section(&html, "fieldwork"));
    let strata = fieldwork["strata"].as_array().unwrap();
    assert_eq!(drawn.len(), strata.len());
    for stratum in strata {
        let label = livability()
            .question("district")
            .unwrap()
            .option(stratum["stratum"].as_str().unwrap())
            .unwrap()
            .label
            .get(civicpulse::lang::Lang::En)
            .to_string();
        let row = drawn
            .iter()
            .find(|d| d.label == label)
            .unwrap_or_else(|| panic!("{label} not drawn"));
        assert_eq!(row.value, f(&stratum["response_rate"]), "{label}");
    }
    assert_eq!(
        drawn.iter().filter_map(|d| d.value).collect::<Vec<_>>(),
        vec![0.4, 0.35]
    );
    assert!(
        section(&html, "fieldwork").contains("AAPOR RR1"),
        "the definition of the rate"
    );
}

#[tokio::test]
async fn the_export_downloads_as_one_zip_with_the_files_of_export_out() {
    let app = two_waves().await;
    let anonymous = new_client();
    assert_eq!(
        get(&app, &anonymous, "/dashboard/livability/export.zip").await.status(),
        303
    );
    let client = app.signed_in("stella", Role::Statistician).await;
    let response = get(&app, &client, "/dashboard/livability/export.zip?wave=2026&lang=en").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = app.cli(&[
        "export",
        "livability",
        "--wave",
        "2026",
        "--lang",
        "en",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let mut names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().to_string())
        .collect();
    names.sort();
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(names, files);
    for name in ["responses.csv", "responses-labelled.csv", "load.R", "codebook.json"] {
        let mut zipped = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut zipped).unwrap();
        assert_eq!(
            zipped,
            std::fs::read_to_string(dir.path().join(name)).unwrap(),
            "{name}"
        );
    }
    let responses = std::fs::read_to_string(dir.path().join("responses.csv")).unwrap();
    assert_eq!(responses.lines().count(), 1 + 689, "wave 2026 alone");
}
