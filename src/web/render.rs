//! HTML rendering: handlebars templates compiled into the binary, and the
//! parts of the page context every page shares (language, switcher, UI
//! messages). Templates never see a request or a database row.

use super::i18n::Messages;
use crate::identity::Identity;
use crate::lang::Lang;
use handlebars::Handlebars;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/layout.hbs")),
    ("survey_form", include_str!("../../templates/survey_form.hbs")),
    ("thanks", include_str!("../../templates/thanks.hbs")),
    ("survey_start", include_str!("../../templates/survey_start.hbs")),
    ("survey_review", include_str!("../../templates/survey_review.hbs")),
    ("survey_resume", include_str!("../../templates/survey_resume.hbs")),
    ("letters", include_str!("../../templates/letters.hbs")),
    ("admin_fieldwork", include_str!("../../templates/admin_fieldwork.hbs")),
    (
        "fieldwork_figures",
        include_str!("../../templates/fieldwork_figures.hbs"),
    ),
    ("error", include_str!("../../templates/error.hbs")),
    ("dashboard", include_str!("../../templates/dashboard.hbs")),
    (
        "dashboard_refused",
        include_str!("../../templates/dashboard_refused.hbs"),
    ),
    (
        "dashboard_figures",
        include_str!("../../templates/dashboard_figures.hbs"),
    ),
    ("dashboard_block", include_str!("../../templates/dashboard_block.hbs")),
    ("dashboard_table", include_str!("../../templates/dashboard_table.hbs")),
    ("report", include_str!("../../templates/report.hbs")),
    ("privacy", include_str!("../../templates/privacy.hbs")),
    ("home", include_str!("../../templates/home.hbs")),
    ("staff_bar", include_str!("../../templates/staff_bar.hbs")),
    ("staff_login", include_str!("../../templates/staff_login.hbs")),
    ("admin_home", include_str!("../../templates/admin_home.hbs")),
    ("admin_audit", include_str!("../../templates/admin_audit.hbs")),
    ("admin_users", include_str!("../../templates/admin_users.hbs")),
    (
        "admin_user_password",
        include_str!("../../templates/admin_user_password.hbs"),
    ),
    ("account_password", include_str!("../../templates/account_password.hbs")),
    ("admin_surveys", include_str!("../../templates/admin_surveys.hbs")),
    ("admin_survey", include_str!("../../templates/admin_survey.hbs")),
    (
        "admin_translations",
        include_str!("../../templates/admin_translations.hbs"),
    ),
    ("admin_structure", include_str!("../../templates/admin_structure.hbs")),
    (
        "admin_preview_problems",
        include_str!("../../templates/admin_preview_problems.hbs"),
    ),
    (
        "admin_create_problems",
        include_str!("../../templates/admin_create_problems.hbs"),
    ),
];

pub struct Renderer {
    registry: Handlebars<'static>,
    pub messages: Messages,
    /// Who runs the survey: every page's header and footer.
    identity: Arc<Identity>,
}

#[derive(Serialize)]
struct LanguageLink {
    code: &'static str,
    native_name: &'static str,
    href: String,
    current: bool,
}

/// The deployment's identity in the page's language.
#[derive(Serialize)]
struct IdentityMeta<'a> {
    organization: &'a str,
    logo_href: Option<&'a str>,
    phone: &'a str,
    tel_href: &'a str,
    /// The helpline's hours, bracketed as the language writes it.
    hours: String,
    privacy_href: String,
}

#[derive(Serialize)]
struct KeptField<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct PageMeta<'a> {
    lang: &'static str,
    html_lang: &'static str,
    title: &'a str,
    languages: Vec<LanguageLink>,
    switcher_in_form: bool,
    identity: IdentityMeta<'a>,
    /// Query fields the text-size toggle keeps when it reloads the page.
    keep: Vec<KeptField<'a>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template error: {0}")]
    Template(#[from] Box<handlebars::TemplateError>),
    #[error("cannot render {template}: {message}")]
    Render { template: String, message: String },
}

impl Renderer {
    pub fn new(messages: Messages) -> Result<Renderer, RenderError> {
        let mut registry = Handlebars::new();
        registry.set_dev_mode(false);
        for (name, text) in TEMPLATES {
            registry.register_template_string(name, *text).map_err(Box::new)?;
        }
        Ok(Renderer {
            registry,
            messages,
            identity: Arc::new(Identity::builtin()),
        })
    }

    /// This renderer, showing `identity` instead of the built-in one.
    pub fn with_identity(mut self, identity: Arc<Identity>) -> Renderer {
        self.identity = identity;
        self
    }

    /// Who runs the survey, as every page shows it.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Render `template` with `body`'s fields plus `page` and `t`.
    /// `switcher_in_form` tells the layout that the page renders its own
    /// language buttons (the survey form, where switching must keep answers).
    pub fn render(
        &self,
        template: &str,
        lang: Lang,
        title: &str,
        switcher_in_form: bool,
        body: &impl Serialize,
    ) -> Result<String, RenderError> {
        self.render_keeping(template, lang, title, switcher_in_form, body, &[])
    }

    /// A page of its own (no layout, no UI messages): `body` is the whole
    /// context.
    pub fn render_standalone(&self, template: &str, body: &impl Serialize) -> Result<String, RenderError> {
        self.registry.render(template, body).map_err(|e| RenderError::Render {
            template: template.to_string(),
            message: e.to_string(),
        })
    }

    /// `render`, with the language links keeping `keep` in their query
    /// (e.g. the invitation code a letter's QR code brought).
    pub fn render_keeping(
        &self,
        template: &str,
        lang: Lang,
        title: &str,
        switcher_in_form: bool,
        body: &impl Serialize,
        keep: &[(&str, &str)],
    ) -> Result<String, RenderError> {
        let kept: String = keep
            .iter()
            .map(|(k, v)| format!("&{}={}", query_escape(k), query_escape(v)))
            .collect();
        let failed = |message: String| RenderError::Render {
            template: template.to_string(),
            message,
        };
        let mut context = match serde_json::to_value(body).map_err(|e| failed(e.to_string()))? {
            Value::Object(map) => map,
            _ => return Err(failed("the page context is not an object".into())),
        };
        let page = PageMeta {
            lang: lang.code(),
            html_lang: lang.html_lang(),
            title,
            languages: Lang::ALL
                .iter()
                .map(|&l| LanguageLink {
                    code: l.code(),
                    native_name: l.native_name(),
                    href: format!("?lang={}{kept}", l.code()),
                    current: l == lang,
                })
                .collect(),
            switcher_in_form,
            identity: IdentityMeta {
                organization: self.identity.organization.get(lang),
                logo_href: self.identity.logo_href(),
                phone: &self.identity.helpline.phone,
                tel_href: &self.identity.helpline.tel,
                hours: self.messages.text(
                    lang,
                    "helpline_hours",
                    &[("hours", self.identity.helpline.hours.get(lang))],
                ),
                privacy_href: format!("/privacy?lang={}", lang.code()),
            },
            keep: keep.iter().map(|(name, value)| KeptField { name, value }).collect(),
        };
        context.insert(
            "page".into(),
            serde_json::to_value(page).map_err(|e| failed(e.to_string()))?,
        );
        context.insert("t".into(), Value::Object((*self.messages.all(lang)).clone()));
        self.registry
            .render(template, &context)
            .map_err(|e| failed(e.to_string()))
    }
}

/// Percent-encode a query component.
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{{t.key}}` and `{{@root.t.key}}` in every template name a message
    /// the catalog has in all three languages.
    #[test]
    fn every_message_a_template_uses_is_in_the_catalog() {
        let messages = Messages::load().unwrap();
        let mut checked = 0;
        for (name, text) in TEMPLATES {
            for (i, _) in text.match_indices("t.") {
                let before = &text[..i];
                if !(before.ends_with('{') || before.ends_with("@root.")) {
                    continue;
                }
                let key: String = text[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(messages.has(&key), "{name} uses t.{key}, which messages.toml lacks");
                checked += 1;
            }
        }
        assert!(checked > 150, "{checked}");
    }

    #[test]
    fn query_escape_leaves_only_unreserved_characters() {
        assert_eq!(query_escape("7K3M-Q9TX 2&=x"), "7K3M-Q9TX%202%26%3Dx");
    }
}
