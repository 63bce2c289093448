//! A batch of invitations as the files fieldwork needs: a CSV for the
//! mail merge (code, stratum, personal URL) and printable letters, one A4
//! page each, in Chinese, English and Korean (or one of them), each with
//! the personal code, a QR code of the personal URL, the fieldwork dates
//! and the helpline.
//!
//! The letters are one self-contained HTML file (styles inline, QR codes
//! as inline SVG), so the same file prints from the browser or from disk.
//! Served by us, it gets its own Content-Security-Policy naming the hash
//! of its one style sheet, so our no-inline-style rule still holds.

use super::render::Renderer;
use crate::db::{InvitationBatch, IssuedInvitation};
use crate::fieldwork::qr::qr_svg;
use crate::fieldwork::WaveSettings;
use crate::lang::Lang;
use crate::survey::schedule::DateText;
use crate::survey::Survey;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The letters' style sheet, inlined into every letters file.
const LETTER_CSS: &str = include_str!("../../static/letters.css");

/// The Content-Security-Policy of a served letters page: nothing but its
/// own inline style sheet and inline SVG.
pub fn letters_csp() -> String {
    let hash = Sha256::digest(LETTER_CSS.as_bytes());
    format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        base64_encode(&hash)
    )
}

/// Standard base64 (for a CSP hash source); a few lines, not a crate.
fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why letters cannot be printed yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    #[error(
        "the letters must say when the survey opens and closes: set the fieldwork dates with \
         `civicpulse wave set {slug} --wave {wave} --opens YYYY-MM-DD --closes YYYY-MM-DD` (or on the fieldwork page)"
    )]
    NoDates { slug: String, wave: i32 },
    #[error(
        "the letters must say whom to call: set the helpline with \
         `civicpulse wave set {slug} --wave {wave} --helpline \"12345 (Mon-Fri 8:30-17:30)\"` (or on the fieldwork page)"
    )]
    NoHelpline { slug: String, wave: i32 },
    #[error("cannot draw the letters: {0}")]
    Render(String),
}

/// The personal URL printed on a letter and in its QR code.
pub fn personal_url(base_url: &str, slug: &str, code: &str) -> String {
    format!("{}/s/{slug}?code={code}", base_url.trim_end_matches('/'))
}

/// The mail-merge file: `code,stratum,url`, one row per invitation.
pub fn codes_csv(
    base_url: &str,
    batch: &InvitationBatch,
    invitations: &[IssuedInvitation],
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["code", "stratum", "url"])?;
    for inv in invitations {
        let code = inv.code.to_string();
        w.write_record([
            code.as_str(),
            &crate::spreadsheet::neutralise_formula(&batch.stratum),
            &personal_url(base_url, &batch.slug, &code),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[derive(Serialize)]
struct LetterText {
    lang: &'static str,
    salutation: String,
    body: String,
    how: String,
    dates: String,
    privacy: String,
    helpline: String,
    closing: String,
}

#[derive(Serialize)]
struct Letter {
    code: String,
    url: String,
    qr: String,
    texts: Vec<LetterText>,
    footer: String,
}

#[derive(Serialize)]
struct LettersPage<'a> {
    html_lang: &'static str,
    title: String,
    css: &'static str,
    code_label: String,
    site_name: String,
    survey_titles: Vec<(&'static str, &'a str)>,
    letters: Vec<Letter>,
}

/// Everything a letter says besides its code.
pub struct LetterSettings<'a> {
    pub survey: &'a Survey,
    pub wave: &'a WaveSettings,
    /// Fieldwork dates when the wave has none: the published version's.
    pub version_window: crate::survey::schedule::DateWindow,
    /// Where residents open the survey, e.g. `https://survey.example.gov.cn`.
    pub base_url: &'a str,
    /// The languages of every letter, in order.
    pub langs: &'a [Lang],
}

impl LetterSettings<'_> {
    /// The fieldwork dates every letter states, if the wave (or else the
    /// published version) has them, and a helpline: what a letter cannot
    /// go without. Checked before any code is issued.
    pub fn check(&self) -> Result<(time::Date, time::Date), LetterError> {
        let (survey, wave) = (self.survey, self.wave);
        let opens = wave.window.opens().or(self.version_window.opens());
        let closes = wave.window.closes().or(self.version_window.closes());
        let (Some(opens), Some(closes)) = (opens, closes) else {
            return Err(LetterError::NoDates {
                slug: survey.slug.to_string(),
                wave: wave.wave,
            });
        };
        if wave.helpline.trim().is_empty() {
            return Err(LetterError::NoHelpline {
                slug: survey.slug.to_string(),
                wave: wave.wave,
            });
        }
        Ok((opens, closes))
    }
}

/// The letters of a batch as one HTML page, one letter per printed page.
pub fn letters_html(
    renderer: &Renderer,
    settings: &LetterSettings<'_>,
    batch: &InvitationBatch,
    invitations: &[IssuedInvitation],
) -> Result<String, LetterError> {
    let survey = settings.survey;
    let wave = settings.wave;
    let (opens, closes) = settings.check()?;
    let m = &renderer.messages;
    let stratum_label = |lang: Lang| {
        survey
            .question(&wave.stratum_question)
            .and_then(|q| q.option(&batch.stratum))
            .map_or_else(|| batch.stratum.clone(), |o| o.label.get(lang).to_string())
    };
    let survey_url = format!("{}/s/{}", settings.base_url.trim_end_matches('/'), survey.slug);
    let (opens, closes) = (DateText(opens).to_string(), DateText(closes).to_string());
    let total = invitations.len().to_string();
    let letters = invitations
        .iter()
        .map(|inv| {
            let code = inv.code.to_string();
            let url = personal_url(settings.base_url, survey.slug.as_str(), &code);
            let qr = qr_svg(&url, 34, &m.text(settings.langs[0], "letter_qr_label", &[]))
                .map_err(|e| LetterError::Render(e.to_string()))?;
            let texts = settings
                .langs
                .iter()
                .map(|&lang| {
                    let stratum = stratum_label(lang);
                    LetterText {
                        lang: lang.code(),
                        salutation: m.text(lang, "letter_salutation", &[]),
                        body: m.text(
                            lang,
                            "letter_body",
                            &[("survey", survey.title.get(lang)), ("stratum", &stratum)],
                        ),
                        how: m.text(lang, "letter_how", &[("url", &survey_url), ("code", &code)]),
                        dates: m.text(lang, "letter_dates", &[("opens", &opens), ("closes", &closes)]),
                        privacy: m.text(lang, "letter_privacy", &[]),
                        helpline: m.text(lang, "letter_helpline", &[("helpline", wave.helpline.trim())]),
                        closing: m.text(lang, "letter_closing", &[]),
                    }
                })
                .collect();
            Ok(Letter {
                footer: format!(
                    "{} · {} {} · {} · {}/{}",
                    survey.slug, wave.wave, batch.stratum, batch.id, inv.position, total
                ),
                code,
                url,
                qr,
                texts,
            })
        })
        .collect::<Result<Vec<_>, LetterError>>()?;
    let joined = |key: &str| {
        settings
            .langs
            .iter()
            .map(|&l| m.text(l, key, &[]))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let page = LettersPage {
        html_lang: settings.langs[0].html_lang(),
        title: format!(
            "{} · {} · {}",
            survey.title.get(settings.langs[0]),
            wave.wave,
            batch.stratum
        ),
        css: LETTER_CSS,
        code_label: joined("letter_code_label"),
        site_name: joined("site_name"),
        survey_titles: settings
            .langs
            .iter()
            .map(|&l| (l.code(), survey.title.get(l)))
            .collect(),
        letters,
    };
    renderer
        .render_standalone("letters", &page)
        .map_err(|e| LetterError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert!(letters_csp().contains("style-src 'sha256-"));
        assert!(!letters_csp().contains("unsafe-inline"));
    }
}
