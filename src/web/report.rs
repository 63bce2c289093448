//! The yearly report's satisfaction chapter as one self-contained HTML
//! page: the dashboard's figures, charts and tables, and the methods
//! section, with an inline print stylesheet (A4, page breaks, tables that
//! print whole), so the file can be mailed, archived, or saved as PDF by
//! any browser. The server and `civicpulse report` render it alike.

use super::render::{RenderError, Renderer};
use crate::dashboard::Dashboard;
use crate::lang::Lang;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The UI catalog in one language, as the dashboard model asks for words.
pub struct CatalogWording<'a> {
    pub messages: &'a super::i18n::Messages,
    pub lang: Lang,
}

impl crate::dashboard::Wording for CatalogWording<'_> {
    fn lang(&self) -> Lang {
        self.lang
    }
    fn text(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.messages.text(self.lang, key, args)
    }
}

/// The report's stylesheet, inlined so the page needs nothing else.
const REPORT_CSS: &str = include_str!("../../static/report.css");

#[derive(Serialize)]
struct ReportContext<'a> {
    t: serde_json::Value,
    lang: &'static str,
    html_lang: &'static str,
    css: &'static str,
    /// Tables shown whole, no download links.
    in_report: bool,
    organization: &'a str,
    title: String,
    dashboard: &'a Dashboard,
}

/// The report of `dashboard` in `lang`.
pub fn render(renderer: &Renderer, dashboard: &Dashboard, lang: Lang) -> Result<String, RenderError> {
    let title = renderer.messages.text(
        lang,
        "report_title",
        &[("survey", &dashboard.title), ("wave", &dashboard.wave.to_string())],
    );
    let context = ReportContext {
        t: serde_json::Value::Object((*renderer.messages.all(lang)).clone()),
        lang: lang.code(),
        html_lang: lang.html_lang(),
        css: REPORT_CSS,
        in_report: true,
        organization: renderer.identity().organization.get(lang),
        title,
        dashboard,
    };
    renderer.render_standalone("report", &context)
}

/// The Content-Security-Policy of the served report: the site's policy,
/// with the one inline stylesheet allowed by its hash (and nothing else
/// inline).
pub fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(REPORT_CSS.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; \
             form-action 'none'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        )
    })
}
