//! The deployment's official identity on every resident page, the privacy
//! notice in each language, a deployment's own identity file with a logo,
//! a bad identity file or time zone refused at start, and the large-text
//! toggle that persists across visits.

use crate::helpers::*;
use civicpulse::identity::Identity;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ORGANIZATION: [(&str, &str); 3] = [
    ("zh", "威海市住房和城乡建设局"),
    ("en", "Weihai Municipal Bureau of Housing and Urban-Rural Development"),
    ("ko", "웨이하이시 주택도농건설국"),
];

#[tokio::test]
async fn every_resident_page_shows_who_runs_the_survey_and_how_to_reach_them() {
    let app = spawn_app().await;
    // A wave that takes codes, for the start page.
    let coded = spawn_app().await;
    coded.set_up_wave(civicpulse::fieldwork::Access::Both, &[("huancui", 1000.0)]);
    for (lang, organization) in ORGANIZATION {
        let pages = [
            (&app, format!("/?lang={lang}")),
            (&app, format!("/s/livability?lang={lang}")),
            (&app, format!("/s/livability/thanks?lang={lang}")),
            (&app, format!("/s/no-such-survey?lang={lang}")),
            (&app, format!("/privacy?lang={lang}")),
            (&coded, format!("/s/livability?lang={lang}&code=7K3M-Q9TX-2D4F")),
        ];
        for (app, path) in pages {
            let html = app.get(&path).await.text().await.unwrap();
            let header = &html[html.find("<header").unwrap()..html.find("</header>").unwrap()];
            assert!(header.contains(organization), "{path}: header");
            let footer = &html[html.find("<footer").unwrap()..html.find("</footer>").unwrap()];
            assert!(footer.contains(organization), "{path}: footer");
            assert!(
                footer.contains("<a class=\"site-footer__phone\" href=\"tel:12345\">12345</a>"),
                "{path}"
            );
            assert!(
                footer.contains(&format!("href=\"/privacy?lang&#x3D;{lang}\"")),
                "{path}: {footer}"
            );
        }
    }
    let ko = app.get("/?lang=ko").await.text().await.unwrap();
    assert!(
        ko.contains("평일 오전 8시 30분~오후 5시 30분"),
        "hours in the resident's language"
    );
    assert!(!ko.contains("주택도시농촌건설국"));
}

#[tokio::test]
async fn the_privacy_notice_is_in_the_residents_language() {
    let app = spawn_app().await;
    for (lang, title, says) in [
        ("zh", "隐私说明", "不保存：您的姓名、电话号码、IP 地址"),
        (
            "en",
            "Privacy notice",
            "What we do not keep: your name, your phone number, your IP address",
        ),
        (
            "ko",
            "개인정보 안내",
            "IP 주소 등 네트워크 식별 정보는 저장하지 않습니다",
        ),
    ] {
        let response = app.get(&format!("/privacy?lang={lang}")).await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("<h1 class=\"page-title\">{title}</h1>")),
            "{lang}"
        );
        assert!(html.contains(&escaped(says)), "{lang}: {html}");
        assert!(html.matches("<p>").count() >= 6, "{lang}: paragraphs");
    }
}

/// An identity file of another city, with a logo beside it.
fn write_identity(dir: &std::path::Path, phone: &str, ko: bool) -> std::path::PathBuf {
    std::fs::write(
        dir.join("logo.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"><rect width=\"1\" height=\"1\"/></svg>",
    )
    .unwrap();
    let ko_line = if ko { "ko = \"옌타이시\"\n" } else { "" };
    let text = format!(
        "[organization]\nzh = \"烟台市\"\nen = \"Yantai City\"\n{ko_line}\n\
         [logo]\nfile = \"logo.svg\"\n\n\
         [helpline]\nphone = \"{phone}\"\nhours = {{ zh = \"工作日\", en = \"Weekdays\", ko = \"평일\" }}\n\n\
         [privacy]\ntitle = {{ zh = \"隐私\", en = \"Privacy\", ko = \"개인정보\" }}\n\
         text = {{ zh = \"第一段。\\n\\n第二段。\", en = \"One.\\n\\nTwo.\", ko = \"하나.\\n\\n둘.\" }}\n"
    );
    let path = dir.join("yantai.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_deployment_shows_its_own_identity_and_logo() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::load(&write_identity(dir.path(), "+86 (535) 1234567", true)).unwrap();
    let app = spawn_app_with(|_| {}, move |config| config.identity = std::sync::Arc::new(identity)).await;
    let html = app.get("/?lang=en").await.text().await.unwrap();
    assert!(html.contains("<p class=\"site-id__org\">Yantai City</p>"), "{html}");
    assert!(html.contains("<img class=\"site-id__logo\" src=\"/identity/logo\" alt=\"\">"));
    assert!(html.contains("href=\"tel:+865351234567\">+86 (535) 1234567</a>"));
    assert!(!html.contains("Weihai Municipal"));
    let logo = app.get("/identity/logo").await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(logo.text().await.unwrap().starts_with("<svg"));
    let privacy = app.get("/privacy?lang=ko").await.text().await.unwrap();
    assert!(privacy.contains("<p>하나.</p>\n<p>둘.</p>"), "{privacy}");

    // The built-in identity has no logo to serve.
    let builtin = spawn_app().await;
    assert_eq!(builtin.get("/identity/logo").await.status(), 404);
}

/// Start `civicpulse serve ARGS` and wait for it to exit; a server that
/// starts instead is stopped, and the test fails.
fn refused_at_start(dir: &std::path::Path, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civicpulse"))
        .arg("serve")
        .args(["--bind", "127.0.0.1:0", "--database"])
        .arg(dir.join("t.db"))
        .args(args)
        .env_remove("CIVICPULSE_IDENTITY")
        .env_remove("CIVICPULSE_TIME_ZONE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("civicpulse runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the server started with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_bad_identity_file_or_time_zone_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_identity(dir.path(), "call 12345", false);
    let message = refused_at_start(dir.path(), &["--identity", file.to_str().unwrap()]);
    assert!(message.contains("yantai.toml has problems"), "{message}");
    assert!(
        message.contains("organization has no Korean text (organization.ko is missing or empty)"),
        "{message}"
    );
    assert!(
        message.contains("helpline.phone \"call 12345\" contains 'c'"),
        "{message}"
    );

    let missing = refused_at_start(dir.path(), &["--identity", "nowhere.toml"]);
    assert!(
        missing.contains("cannot read the identity file nowhere.toml"),
        "{missing}"
    );

    let zone = refused_at_start(dir.path(), &["--time-zone", "Asia/Weihai"]);
    assert!(zone.contains("unknown time zone \"Asia/Weihai\""), "{zone}");
    assert!(zone.contains("Asia/Shanghai"), "an example: {zone}");
}

#[tokio::test]
async fn the_large_text_setting_is_kept_for_a_year_on_every_page() {
    let app = spawn_app().await;
    let plain = app.get("/?lang=en").await.text().await.unwrap();
    assert!(plain.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(plain.contains("name=\"text\" value=\"large\" aria-pressed=\"false\""));

    // The toggle reloads the page with ?text=large, keeping its language.
    let response = app.get("/?lang=en&text=large").await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("text="))
        .expect("a text cookie");
    assert!(cookie.starts_with("text=large;"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(response.headers()["vary"].to_str().unwrap().contains("Cookie"));
    let html = response.text().await.unwrap();
    assert!(
        html.starts_with("<!doctype html>\n<html lang=\"en\" class=\"text-large\">"),
        "{html}"
    );
    assert!(html.contains("name=\"text\" value=\"normal\" aria-pressed=\"true\""));

    // Later pages, cached forms and error pages included, come large.
    for path in ["/s/livability?lang=ko", "/s/livability?lang=ko", "/privacy", "/nowhere"] {
        let html = app.get(path).await.text().await.unwrap();
        assert!(
            html.contains("<html lang=\"ko\" class=\"text-large\">"),
            "{path}: {}",
            &html[..80]
        );
    }
    // A start page keeps the code from the letter when the text size changes.
    let coded = spawn_app().await;
    coded.set_up_wave(civicpulse::fieldwork::Access::Invitation, &[("huancui", 1000.0)]);
    let start = coded
        .get("/s/livability?lang=en&code=7K3M-Q9TX-2D4F")
        .await
        .text()
        .await
        .unwrap();
    assert!(start.contains("<input type=\"hidden\" name=\"code\" value=\"7K3M-Q9TX-2D4F\">"));

    let back = app.get("/?text=normal").await;
    assert!(back.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("text=normal;"));
    let html = back.text().await.unwrap();
    assert!(!html.contains("text-large"), "back to the default size");
    assert!(!app.get("/?lang=zh").await.text().await.unwrap().contains("text-large"));
    // The style sheet enlarges the root for the class.
    let css = app.get("/static/style.css").await.text().await.unwrap();
    assert!(css.contains("html.text-large { font-size: 150%; }"));
}
