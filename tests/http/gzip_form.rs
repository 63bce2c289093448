//! The resident form's first page served gzip-encoded from a page
//! compressed once (src/web/precompressed.rs): byte for byte the plain page
//! but for its own tokens, which work; plain to clients that do not ask for
//! gzip; and made again when a new version is published.

use crate::helpers::*;
use civicpulse::account::Role;
use civicpulse::survey::raw::RawSurvey;
use std::io::Read;

/// A page's response as the server sent it: its body still encoded.
struct Raw {
    status: u16,
    encoding: Option<String>,
    vary: Vec<String>,
    length: Option<usize>,
    body: Vec<u8>,
}

async fn fetch(app: &TestApp, client: &reqwest::Client, path: &str, accept: Option<&str>) -> Raw {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
    let response = get_with(app, client, path, &headers).await;
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let encoding = header("content-encoding");
    let length = header("content-length").map(|l| l.parse().unwrap());
    let vary = response
        .headers()
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap().to_vec();
    Raw {
        status,
        encoding,
        vary,
        length,
        body,
    }
}

/// One gzip member, decoded (its CRC and length checked).
fn gunzip(bytes: &[u8]) -> String {
    let mut decoder = flate2::read::GzDecoder::new(bytes);
    let mut out = String::new();
    decoder.read_to_string(&mut out).expect("a valid gzip stream");
    // Nothing after the member: a client that stops after one sees it all.
    let rest = decoder.into_inner();
    assert!(rest.is_empty(), "{} bytes after the gzip member", rest.len());
    out
}

fn page(html: String) -> FormPage {
    FormPage {
        csrf: hidden_value(&html, "_csrf"),
        form_token: hidden_value(&html, "_form"),
        html,
    }
}

/// The page with its tokens replaced by placeholders.
fn without_tokens(page: &FormPage) -> String {
    assert_eq!(
        (page.csrf.len(), page.form_token.len()),
        (32, 56),
        "tokens of their shape"
    );
    page.html.replace(&page.csrf, "CSRF").replace(&page.form_token, "FORM")
}

fn csrf_cookie(client_cookie: &str) -> &str {
    client_cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("cp_csrf="))
        .expect("the csrf cookie")
}

#[tokio::test]
async fn the_gzipped_form_is_the_plain_form_with_its_own_tokens() {
    let app = spawn_app().await;
    for lang in ["zh", "en", "ko"] {
        let client = new_client();
        let path = format!("/s/livability?lang={lang}");
        let gzipped = fetch(&app, &client, &path, Some("gzip")).await;
        assert_eq!(gzipped.status, 200);
        assert_eq!(gzipped.encoding.as_deref(), Some("gzip"), "{lang}");
        assert!(
            gzipped.vary.contains(&"accept-encoding".to_string()),
            "{:?}",
            gzipped.vary
        );
        assert_eq!(gzipped.length, Some(gzipped.body.len()), "sent with its length");
        let zipped = page(gunzip(&gzipped.body));
        assert!(zipped.html.len() > 3 * gzipped.body.len(), "compressed well");

        let plain = fetch(&app, &client, &path, None).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.encoding, None, "{lang}: no gzip unasked");
        assert!(plain.vary.contains(&"accept-encoding".to_string()), "{:?}", plain.vary);
        let plain = page(String::from_utf8(plain.body).unwrap());
        assert_eq!(without_tokens(&zipped), without_tokens(&plain), "{lang}");
        // The same browser, so the same CSRF token; a new form token each time.
        assert_eq!(zipped.csrf, plain.csrf);
        assert_ne!(zipped.form_token, plain.form_token);

        let identity = fetch(&app, &client, &path, Some("identity")).await;
        assert_eq!(identity.encoding, None);
        let identity = page(String::from_utf8(identity.body).unwrap());
        assert_eq!(without_tokens(&identity), without_tokens(&plain));

        // Deflate preferred: the middleware compresses the plain page.
        let deflated = fetch(&app, &client, &path, Some("gzip;q=0.5, deflate")).await;
        assert_eq!(deflated.encoding.as_deref(), Some("deflate"));
        let mut html = String::new();
        flate2::read::ZlibDecoder::new(&deflated.body[..])
            .read_to_string(&mut html)
            .unwrap();
        assert_eq!(without_tokens(&page(html)), without_tokens(&plain));

        // What browsers send.
        let browser = fetch(&app, &client, &path, Some("gzip, deflate, br, zstd")).await;
        assert_eq!(browser.encoding.as_deref(), Some("gzip"));
        let browser = page(gunzip(&browser.body));
        assert_eq!(without_tokens(&browser), without_tokens(&plain));
        assert_ne!(browser.form_token, zipped.form_token);
    }
}

#[tokio::test]
async fn a_new_browser_gets_a_gzipped_form_whose_tokens_are_taken() {
    let app = spawn_app().await;
    let survey = livability();
    let client = new_client();
    let response = get_with(&app, &client, "/s/livability?lang=en", &[("accept-encoding", "gzip")]).await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("cp_csrf="))
        .expect("a CSRF cookie for a new browser");
    let first = page(gunzip(&response.bytes().await.unwrap()));
    assert_eq!(csrf_cookie(&cookie), first.csrf, "the page carries the cookie's token");

    // A forged form token in the same page is refused: the check is real.
    let mut forged = page_fields(&first.html);
    for (name, value) in &mut forged {
        if name == "_form" {
            let last = if value.ends_with('0') { "1" } else { "0" };
            value.replace_range(value.len() - 1.., last);
        }
    }
    forged.extend(section_answers(&survey, 0));
    forged.push(("_go".into(), "next".into()));
    assert_eq!(post(&app, &client, "/s/livability", &forged).await.status(), 403);

    // The page's own tokens carry the first page on to the second.
    let second = continue_page(&app, &client, &first.html, &section_answers(&survey, 0)).await;
    assert_eq!(hidden_value(&second, "_page"), "2");
    assert_eq!(partial_counts(&app).started, 1, "the first page's answers were saved");
}

#[tokio::test]
async fn large_text_is_marked_in_the_gzipped_form_too() {
    let app = spawn_app().await;
    let client = new_client();
    let gzipped = fetch(&app, &client, "/s/livability?lang=en&text=large", Some("gzip")).await;
    assert_eq!(gzipped.encoding.as_deref(), Some("gzip"));
    let large = page(gunzip(&gzipped.body));
    assert!(
        large.html.contains("<html lang=\"en\" class=\"text-large\">"),
        "{}",
        &large.html[..200]
    );
    assert_eq!(large.html.matches("text-large").count(), 1);
    // The choice is kept in the cookie; the plain page is marked the same.
    let plain = fetch(&app, &client, "/s/livability?lang=en", None).await;
    let plain = page(String::from_utf8(plain.body).unwrap());
    assert_eq!(without_tokens(&large), without_tokens(&plain));
    let again = fetch(&app, &client, "/s/livability?lang=en", Some("gzip")).await;
    assert_eq!(without_tokens(&page(gunzip(&again.body))), without_tokens(&plain));
    // And back to normal.
    let normal = fetch(&app, &client, "/s/livability?lang=en&text=normal", Some("gzip")).await;
    let normal = page(gunzip(&normal.body));
    assert!(normal.html.contains("<html lang=\"en\">"));
    assert!(!normal.html.contains("text-large"));
}

#[tokio::test]
async fn a_publication_replaces_the_cached_form() {
    let app = spawn_app().await;
    let resident = new_client();
    let before = fetch(&app, &resident, "/s/livability?lang=en", Some("gzip")).await;
    let before = page(gunzip(&before.body));
    assert_eq!(hidden_value(&before.html, "_v"), "2");
    assert!(app.state.cached_blank_forms() > 0, "the page is cached");

    let designer = app.signed_in("dana", Role::Designer).await;
    let admin = get(&app, &designer, "/admin").await.text().await.unwrap();
    let token = hidden_value(&admin, "_csrf");
    let (_, text) = app.db().published_definition("livability", None).unwrap().unwrap();
    let mut raw: RawSurvey = toml::from_str(&text).unwrap();
    raw.title.en = Some("Life in our city, 2027".to_string());
    let definition = toml::to_string_pretty(&raw).unwrap();
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let imported = post(
        &app,
        &designer,
        "/admin/surveys/livability/import",
        &pairs(&[("_csrf", &token), ("definition", &definition)]),
    )
    .await;
    assert_eq!(imported.status(), 303);
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let published = post(
        &app,
        &designer,
        "/admin/surveys/livability/publish",
        &pairs(&[("_csrf", &token), ("opens", &today), ("closes", "")]),
    )
    .await;
    assert_eq!(published.status(), 303);
    assert_eq!(app.state.cached_blank_forms(), 0, "the cache is emptied");

    let after = fetch(&app, &resident, "/s/livability?lang=en", Some("gzip")).await;
    let after = page(gunzip(&after.body));
    assert_eq!(hidden_value(&after.html, "_v"), "3");
    assert!(after.html.contains("Life in our city, 2027"));
    assert!(!before.html.contains("Life in our city, 2027"));
    let plain = fetch(&app, &resident, "/s/livability?lang=en", None).await;
    let plain = page(String::from_utf8(plain.body).unwrap());
    assert_eq!(without_tokens(&after), without_tokens(&plain));
}
