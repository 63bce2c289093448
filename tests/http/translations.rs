//! The translators' pages: the draft's texts side by side with a
//! completeness meter per language, saving translations without dropping
//! any, and the preview of the resident form. Also the pure walk of
//! `survey::translations` over the built-in survey.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::lang::Lang;
use civicpulse::survey::raw::RawSurvey;
use civicpulse::survey::translations::{self, Edit};

const MISSING: [&str; 2] = [
    "questions.safety_night.text",
    "questions.district.options.huancui.label",
];

async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    let html = get(app, client, "/admin").await.text().await.unwrap();
    hidden_value(&html, "_csrf")
}

/// The current published version (the built-in v2).
fn published(app: &TestApp) -> RawSurvey {
    let (_, text) = app.db().published_definition("livability", None).unwrap().unwrap();
    toml::from_str(&text).unwrap()
}

/// The published version without the Korean text of the two `MISSING` slots.
fn without_two_korean_texts(app: &TestApp) -> RawSurvey {
    let mut raw = published(app);
    for path in MISSING {
        translations::set_text(&mut raw, path, Lang::Ko, "").unwrap();
    }
    raw
}

fn stored_draft(app: &TestApp) -> RawSurvey {
    toml::from_str(&app.db().draft("livability").unwrap().expect("a draft").definition).unwrap()
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
}

/// Every textarea of a page as a browser would send it: (name, text).
fn textareas(html: &str) -> Vec<(String, String)> {
    html.split("<textarea")
        .skip(1)
        .map(|rest| {
            let (tag, after) = rest.split_once('>').unwrap();
            let name = attr(tag, "name").expect("textarea name");
            let text = after.split_once("</textarea>").unwrap().0;
            (unescape(&name), unescape(text))
        })
        .collect()
}

/// The meter section of one language.
fn meter<'a>(html: &'a str, lang: &str) -> &'a str {
    let start = html
        .find(&format!("data-lang=\"{lang}\""))
        .unwrap_or_else(|| panic!("no {lang} meter"));
    let end = start + html[start..].find("</section>").unwrap();
    &html[start..end]
}

#[test]
fn the_builtin_survey_is_complete_and_every_slot_kind_has_a_path() {
    let raw = livability().raw().clone();
    let slots = translations::slots(&raw);
    let paths: Vec<&str> = slots.iter().map(|s| s.path.as_str()).collect();
    for expected in [
        "title",
        "intro",
        "thanks",
        "scales.satisfaction5.labels[0]",
        "scales.satisfaction5.labels[4]",
        "dimensions.safety.title",
        "sections.about.title",
        "questions.safety_night.text",
        "questions.district.options.huancui.label",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    let unique: std::collections::HashSet<_> = paths.iter().collect();
    assert_eq!(unique.len(), paths.len(), "paths are unique");
    for c in translations::completeness(&slots) {
        assert_eq!((c.filled, c.total), (slots.len(), slots.len()), "{:?}", c.lang);
        assert!(c.missing.is_empty());
    }
}

#[test]
fn missing_texts_are_listed_and_set_by_path_fills_them_back() {
    let app_raw = livability().raw().clone();
    let mut raw = app_raw.clone();
    for path in MISSING {
        translations::set_text(&mut raw, path, Lang::Ko, " ").unwrap();
    }
    let report = translations::completeness(&translations::slots(&raw));
    assert_eq!(report[2].lang, Lang::Ko);
    assert_eq!(
        report[2].missing,
        [
            "questions.district.options.huancui.label",
            "questions.safety_night.text"
        ]
    );
    assert!(report[0].missing.is_empty() && report[1].missing.is_empty());

    let edits: Vec<Edit> = MISSING
        .iter()
        .map(|path| Edit {
            path: path.to_string(),
            lang: Lang::Ko,
            text: translations::slots(&app_raw)
                .into_iter()
                .find(|s| s.path == *path)
                .unwrap()
                .get(Lang::Ko)
                .unwrap()
                .to_string(),
        })
        .collect();
    assert_eq!(translations::apply(&mut raw, &edits), Ok(2));
    assert_eq!(raw, app_raw);

    let err = translations::set_text(&mut raw, "questions.no_such.text", Lang::En, "x").unwrap_err();
    assert_eq!(err.path, "questions.no_such.text");
    assert_eq!(raw, app_raw);
}

#[tokio::test]
async fn a_designer_fills_the_missing_korean_texts_and_can_then_publish() {
    let app = spawn_app().await;
    let incomplete = without_two_korean_texts(&app);
    app.db().store_draft(incomplete.clone(), "dana").unwrap();
    let client = app.signed_in("dana", Role::Designer).await;

    let response = get(&app, &client, "/admin/surveys/livability/translations?lang=en").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let total = translations::slots(&incomplete).len();
    for lang in ["zh", "en"] {
        let m = meter(&html, lang);
        assert!(m.contains(&format!("{total} / {total}")), "{m}");
        assert!(m.contains("Complete"), "{m}");
    }
    let ko = meter(&html, "ko");
    assert!(ko.contains(&format!("{} / {total}", total - 2)), "{ko}");
    let listed: Vec<&str> = ko
        .split("<code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "questions.district.options.huancui.label",
            "questions.safety_night.text"
        ]
    );
    for path in MISSING {
        assert!(ko.contains(&format!("href=\"#t-{path}\"")), "{ko}");
        assert!(html.contains(&format!("id=\"t-{path}\"")), "row anchor of {path}");
    }

    // Fill the two gaps in the page's form, sending every field as a browser does.
    let mut fields = textareas(&html);
    assert_eq!(fields.len(), total * 3);
    for (name, text) in &mut fields {
        if name == "questions.safety_night.text|ko" {
            *text = "밤에 거리를 걸을 때 안전하다고 느끼십니까?".into();
        }
        if name == "questions.district.options.huancui.label|ko" {
            *text = "환추이구".into();
        }
    }
    let token = csrf(&app, &client).await;
    let mut form = vec![("_csrf".to_string(), token.clone())];
    form.extend(fields);

    // A statistician may look but not save; a form without the token is refused.
    let sam = app.signed_in("sam", Role::Statistician).await;
    let sam_token = csrf(&app, &sam).await;
    let page = get(&app, &sam, "/admin/surveys/livability/translations").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        tag_with(&page, "name=\"title|ko\"").unwrap().contains(" readonly"),
        "{page}"
    );
    assert!(
        !page.contains("type=\"submit\">Save"),
        "no save button for statisticians"
    );
    let mut sam_form = form.clone();
    sam_form[0].1 = sam_token;
    assert_eq!(
        post(&app, &sam, "/admin/surveys/livability/translations", &sam_form)
            .await
            .status(),
        403
    );
    assert_eq!(
        post(&app, &client, "/admin/surveys/livability/translations", &form[1..])
            .await
            .status(),
        403
    );
    let mut expected = incomplete.clone();
    expected.version = 3;
    assert_eq!(stored_draft(&app), expected, "nothing stored by refused forms");

    let response = post(&app, &client, "/admin/surveys/livability/translations", &form).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/admin/surveys/livability/translations?saved=2"
    );
    translations::set_text(
        &mut expected,
        MISSING[0],
        Lang::Ko,
        "밤에 거리를 걸을 때 안전하다고 느끼십니까?",
    )
    .unwrap();
    translations::set_text(&mut expected, MISSING[1], Lang::Ko, "환추이구").unwrap();
    assert_eq!(stored_draft(&app), expected, "only the two texts changed");

    let html = get(&app, &client, "/admin/surveys/livability/translations?saved=2&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("2 texts changed"), "{html}");
    for lang in ["zh", "en", "ko"] {
        assert!(meter(&html, lang).contains(&format!("{total} / {total}")), "{lang}");
    }
    let entries: Vec<(String, String)> = app
        .db()
        .audit_log(20)
        .unwrap()
        .into_iter()
        .map(|e| (e.username, e.action))
        .collect();
    assert!(
        entries.contains(&("dana".to_string(), "survey.translate".to_string())),
        "{entries:?}"
    );

    let response = post(
        &app,
        &client,
        "/admin/surveys/livability/publish",
        &[("_csrf".to_string(), token)],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/surveys/livability?published=3");
}

#[tokio::test]
async fn unknown_paths_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let incomplete = without_two_korean_texts(&app);
    app.db().store_draft(incomplete.clone(), "dana").unwrap();
    let client = app.signed_in("dana", Role::Designer).await;
    let token = csrf(&app, &client).await;
    let form = vec![
        ("_csrf".to_string(), token),
        ("questions.safety_night.text|ko".to_string(), "밤".to_string()),
        ("questions.no_such.text|ko".to_string(), "x".to_string()),
    ];
    let response = post(&app, &client, "/admin/surveys/livability/translations?lang=en", &form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Nothing was saved"), "{html}");
    assert!(html.contains("questions.no_such.text"), "{html}");
    assert!(html.contains(">밤</textarea>"), "what was typed is shown again");
    let mut expected = incomplete;
    expected.version = 3;
    assert_eq!(stored_draft(&app), expected);
}

#[tokio::test]
async fn without_a_draft_the_page_says_so_and_links_the_survey_page() {
    let app = spawn_app().await;
    let client = app.signed_in("dana", Role::Designer).await;
    let html = get(&app, &client, "/admin/surveys/livability/translations?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("There is no draft to translate"), "{html}");
    assert!(html.contains("href=\"/admin/surveys/livability\""), "{html}");
    assert!(!html.contains("<textarea"));
    let survey = get(&app, &client, "/admin/surveys/livability?lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        survey.contains("href=\"/admin/surveys/livability/translations\""),
        "{survey}"
    );
    assert!(
        survey.contains(&escaped("/admin/surveys/livability/preview?lang=ko&width=phone")),
        "{survey}"
    );
}

#[tokio::test]
async fn the_preview_shows_the_draft_form_in_korean_and_an_invalid_draft_its_problems() {
    let app = spawn_app().await;
    let mut raw = published(&app);
    translations::set_text(
        &mut raw,
        "questions.safety_night.text",
        Lang::Ko,
        "밤길은 안전합니까? (초안)",
    )
    .unwrap();
    app.db().store_draft(raw.clone(), "dana").unwrap();
    let client = app.signed_in("sam", Role::Statistician).await;

    let response = get(
        &app,
        &client,
        "/admin/surveys/livability/preview?lang=ko&draft=1&width=phone",
    )
    .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"ko\""), "{html}");
    assert!(html.contains(&escaped("밤길은 안전합니까? (초안)")), "{html}");
    assert!(html.contains("class=\"preview-banner\""), "{html}");
    assert!(
        html.contains("Preview of draft version 3"),
        "the banner stays in the staff member's language: {html}"
    );
    assert!(html.contains("class=\"preview-phone\""), "{html}");
    let form = tag_with(&html, "id=\"survey-form\"").unwrap();
    assert_eq!(attr(form, "method").as_deref(), Some("get"));
    assert_eq!(
        attr(form, "action").as_deref(),
        Some("/admin/surveys/livability/preview")
    );
    assert!(tag_with(&html, "id=\"submit-button\"").unwrap().contains(" disabled"));

    // The published version is what residents get, unchanged.
    let html = get(&app, &client, "/admin/surveys/livability/preview?lang=ko")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&escaped("(초안)")), "{html}");
    assert!(html.contains(&escaped(
        livability().question("safety_night").unwrap().text.get(Lang::Ko)
    )));

    // A draft that does not validate lists its problems instead.
    translations::set_text(&mut raw, "title", Lang::En, "").unwrap();
    app.db().store_draft(raw, "dana").unwrap();
    let response = get(&app, &client, "/admin/surveys/livability/preview?lang=ko&draft=1").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(!html.contains("id=\"survey-form\""), "{html}");
    assert!(
        html.contains(&escaped(r#"field "title.en": missing English text"#)),
        "{html}"
    );
}

// ---------------------------------------------------------------------------
// Every UI message key, wherever it is used: templates/*.hbs and the Rust
// code, read from disk at test time so keys added later are covered too.
// ---------------------------------------------------------------------------

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// messages.toml: key → (language → text).
fn catalog() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(root().join("src/web/messages.toml")).unwrap();
    toml::from_str(&text).expect("messages.toml parses")
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'
}

fn key_at(text: &str, start: usize) -> &str {
    let end = text[start..]
        .bytes()
        .position(|c| !is_key_char(c))
        .map_or(text.len(), |n| start + n);
    &text[start..end]
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// `t.key`, `@root.t.key` and `../t.key` in a template: (line, key).
fn template_keys(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("t.") {
        let before = &text[..at];
        let bound = before.ends_with("@root.")
            || before.ends_with("../")
            || before
                .bytes()
                .last()
                .is_none_or(|c| c.is_ascii_whitespace() || c == b'{' || c == b'(');
        let key = key_at(text, at + 2);
        if bound && !key.is_empty() {
            out.push((line_of(text, at), key.to_string()));
        }
    }
    out
}

/// Keys the web code looks up by literal: `.text(lang, "key"`,
/// `.has("key")`, and any `"err_…"` or `"staff_…"` literal (those
/// prefixes are the catalog's own) that is not a template's name: (line, key).
fn rust_lookups(text: &str, templates: &BTreeSet<String>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(".text(") {
        let rest = &text[at + 6..];
        let Some(comma) = rest.find(',') else { continue };
        if rest[..comma].contains(['(', ')', '"', ';']) {
            continue;
        }
        let after = rest[comma + 1..].trim_start();
        if let Some(quoted) = after.strip_prefix('"') {
            let key = key_at(quoted, 0);
            if quoted[key.len()..].starts_with('"') && !key.is_empty() {
                out.push((line_of(text, at), key.to_string()));
            }
        }
    }
    for (at, _) in text.match_indices(".has(\"") {
        let key = key_at(text, at + 6);
        if text[at + 6 + key.len()..].starts_with('"') {
            out.push((line_of(text, at), key.to_string()));
        }
    }
    for (line, literal) in literals(text) {
        if (literal.starts_with("err_") || literal.starts_with("staff_")) && !templates.contains(&literal) {
            out.push((line, literal));
        }
    }
    out
}

/// Every string literal made of key characters only: (line, text).
fn literals(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let key = key_at(text, i + 1);
            let end = i + 1 + key.len();
            if !key.is_empty() && bytes.get(end) == Some(&b'"') && key.as_bytes()[0].is_ascii_lowercase() {
                out.push((line_of(text, i), key.to_string()));
                i = end + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `format!("prefix_{…}")`: families of keys built at run time.
fn dynamic_prefixes(text: &str) -> Vec<String> {
    text.match_indices("format!(\"")
        .map(|(at, _)| key_at(text, at + 9))
        .filter(|p| p.ends_with('_') && text[text.find(p).unwrap() + p.len()..].starts_with('{'))
        .map(str::to_string)
        .collect()
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].bytes().all(is_key_char) && close > 0 => {
                out.insert(after[..close].to_string());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

#[test]
fn every_message_has_all_three_languages_with_the_same_placeholders() {
    let mut problems = Vec::new();
    for (key, texts) in catalog() {
        for lang in ["zh", "en", "ko"] {
            match texts.get(lang) {
                Some(t) if !t.trim().is_empty() => {}
                _ => problems.push(format!("src/web/messages.toml: key {key}: no {lang} text")),
            }
        }
        if let Some(extra) = texts.keys().find(|l| !["zh", "en", "ko"].contains(&l.as_str())) {
            problems.push(format!("src/web/messages.toml: key {key}: unknown language {extra}"));
        }
        let en = placeholders(texts.get("en").map_or("", String::as_str));
        for lang in ["zh", "ko"] {
            let other = placeholders(texts.get(lang).map_or("", String::as_str));
            if other != en {
                problems.push(format!(
                    "src/web/messages.toml: key {key}: {lang} has placeholders {other:?} but en has {en:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_key_a_template_or_the_code_uses_exists_and_no_key_is_unused() {
    let catalog = catalog();
    let mut problems = Vec::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut prefixes: Vec<String> = Vec::new();

    let mut templates = Vec::new();
    files(&root().join("templates"), "hbs", &mut templates);
    assert!(templates.len() >= 10, "the templates are found: {templates:?}");
    for path in &templates {
        let text = std::fs::read_to_string(path).unwrap();
        for (line, key) in template_keys(&text) {
            if !catalog.contains_key(&key) {
                problems.push(format!(
                    "{}:{line}: t.{key} is not in src/web/messages.toml (zh, en and ko needed)",
                    relative(path)
                ));
            }
            used.insert(key);
        }
    }

    let template_names: BTreeSet<String> = templates
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut sources = Vec::new();
    files(&root().join("src"), "rs", &mut sources);
    for path in &sources {
        let text = std::fs::read_to_string(path).unwrap();
        // Only the web layer reads the catalog; `.text(` elsewhere is another method.
        let lookups = match path.starts_with(root().join("src/web")) {
            true => rust_lookups(&text, &template_names),
            false => Vec::new(),
        };
        for (line, key) in lookups {
            if !catalog.contains_key(&key) {
                problems.push(format!(
                    "{}:{line}: message key {key:?} is not in src/web/messages.toml (zh, en and ko needed)",
                    relative(path)
                ));
            }
        }
        used.extend(literals(&text).into_iter().map(|(_, k)| k));
        prefixes.extend(dynamic_prefixes(&text));
    }

    for key in catalog.keys() {
        if !used.contains(key) && !prefixes.iter().any(|p| key.starts_with(p.as_str())) {
            problems.push(format!(
                "src/web/messages.toml: key {key} is used by no template and no code (remove it, or use it)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_key_scanners_find_what_they_should() {
    let template = "{{t.submit}} {{@root.t.required_marker}} {{../t.back_home}} {{@root.can_edit}} layout.hbs (t.x_y)";
    let keys: Vec<String> = template_keys(template).into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys, ["submit", "required_marker", "back_home", "x_y"]);
    let code = "m.text(lang, \"err_csrf\", &[]);\nmessages.has(\"staff_x\")\nlet k = \"err_form_expired\";\nx.text(a, b(\"no\"), \"skip\")";
    let names = BTreeSet::from(["staff_bar".to_string()]);
    let code = format!("{code}\nrender(\"staff_bar\")");
    let keys: Vec<String> = rust_lookups(&code, &names).into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys, ["err_csrf", "staff_x", "err_csrf", "staff_x", "err_form_expired"]);
    assert_eq!(
        dynamic_prefixes("format!(\"staff_flag_{flag}\") format!(\"a{x}\")"),
        ["staff_flag_"]
    );
    assert_eq!(
        placeholders("{count} of {total} {not a key} {}"),
        BTreeSet::from(["count".to_string(), "total".to_string()])
    );
}
