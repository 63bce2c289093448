//! The official identity of a deployment: the organization that runs the
//! survey, its optional logo, the helpline residents call and the privacy
//! notice, each in zh, en and ko. Residents decide whether to trust a form
//! by who stands behind it, so every resident page shows it.
//!
//! It is read once at start-up from a TOML file (`--identity FILE`), or
//! taken from the built-in `deploy/identity.toml` (Weihai), and checked
//! whole: a missing language, a phone number that cannot be dialled or a
//! logo that cannot be served stops the server with a message that names
//! the file and the field.

use crate::lang::Lang;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The built-in identity (Weihai Municipal Bureau of Housing and
/// Urban-Rural Development).
pub const BUILTIN: &str = include_str!("../deploy/identity.toml");

/// Where a logo file given in the identity is served.
pub const LOGO_PATH: &str = "/identity/logo";

/// Largest logo file: a header image, not a photograph.
const MAX_LOGO_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the identity file {file}: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("the identity file {file} is not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("the identity file {file} has problems:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { file: String, problems: Vec<String> },
}

/// One text in each language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts([String; 3]);

impl Texts {
    pub fn get(&self, lang: Lang) -> &str {
        let i = Lang::ALL.iter().position(|l| *l == lang).unwrap_or(0);
        &self.0[i]
    }

    /// Every language present and not blank, no other key; otherwise the
    /// problems, named by `field`.
    fn check(field: &str, raw: &BTreeMap<String, String>, problems: &mut Vec<String>) -> Option<Texts> {
        for key in raw.keys() {
            if key.parse::<Lang>().is_err() {
                problems.push(format!("{field}: {key:?} is not a language; use zh, en and ko"));
            }
        }
        let mut texts: [String; 3] = Default::default();
        let mut complete = true;
        for (i, lang) in Lang::ALL.iter().enumerate() {
            match raw.get(lang.code()).map(|t| t.trim()).filter(|t| !t.is_empty()) {
                Some(t) => texts[i] = t.to_string(),
                None => {
                    problems.push(format!(
                        "{field} has no {} text ({field}.{} is missing or empty)",
                        lang.english_name(),
                        lang.code()
                    ));
                    complete = false;
                }
            }
        }
        complete.then_some(Texts(texts))
    }
}

/// A logo: a file civicpulse serves itself, or a path elsewhere on the
/// same site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logo {
    File { bytes: Vec<u8>, content_type: &'static str },
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helpline {
    /// As written for people, e.g. `0631-5231234`.
    pub phone: String,
    /// `tel:` link target: the digits and a leading `+`.
    pub tel: String,
    pub hours: Texts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub organization: Texts,
    pub logo: Option<Logo>,
    pub helpline: Helpline,
    pub privacy_title: Texts,
    privacy_text: Texts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    organization: BTreeMap<String, String>,
    logo: Option<RawLogo>,
    helpline: RawHelpline,
    privacy: RawPrivacy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogo {
    file: Option<PathBuf>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHelpline {
    phone: String,
    hours: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivacy {
    title: BTreeMap<String, String>,
    text: BTreeMap<String, String>,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity::builtin()
    }
}

impl Identity {
    /// The built-in identity; checked by the test suite, so it cannot fail.
    pub fn builtin() -> Identity {
        Identity::parse("deploy/identity.toml (built in)", BUILTIN, None).expect("the built-in identity is valid")
    }

    /// Read and check an identity file; a logo file is read from beside it.
    pub fn load(path: &Path) -> Result<Identity, IdentityError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| IdentityError::Read {
            file: file.clone(),
            error,
        })?;
        Identity::parse(&file, &text, Some(path.parent().unwrap_or(Path::new("."))))
    }

    /// Check an identity; `dir` is where relative logo files are, `None`
    /// when a logo file cannot be read (the built-in identity).
    pub fn parse(file: &str, text: &str, dir: Option<&Path>) -> Result<Identity, IdentityError> {
        let raw: RawIdentity = toml::from_str(text).map_err(|e| IdentityError::Syntax {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let mut problems = Vec::new();
        let organization = Texts::check("organization", &raw.organization, &mut problems);
        let hours = Texts::check("helpline.hours", &raw.helpline.hours, &mut problems);
        let privacy_title = Texts::check("privacy.title", &raw.privacy.title, &mut problems);
        let privacy_text = Texts::check("privacy.text", &raw.privacy.text, &mut problems);
        let tel = phone_link(&raw.helpline.phone).map_err(|p| problems.push(p)).ok();
        let logo = raw
            .logo
            .map(|l| logo(l, dir))
            .transpose()
            .map_err(|p| problems.push(p))
            .ok()
            .flatten();
        match (organization, hours, privacy_title, privacy_text, tel) {
            (Some(organization), Some(hours), Some(privacy_title), Some(privacy_text), Some(tel))
                if problems.is_empty() =>
            {
                Ok(Identity {
                    organization,
                    logo,
                    helpline: Helpline {
                        phone: raw.helpline.phone.trim().to_string(),
                        tel,
                        hours,
                    },
                    privacy_title,
                    privacy_text,
                })
            }
            _ => Err(IdentityError::Invalid {
                file: file.to_string(),
                problems,
            }),
        }
    }

    /// The privacy notice in `lang`, one string per paragraph; the lines
    /// of a paragraph are joined as the language writes (Chinese without a
    /// space).
    pub fn privacy_paragraphs(&self, lang: Lang) -> Vec<String> {
        let joiner = if lang == Lang::Zh { "" } else { " " };
        self.privacy_text
            .get(lang)
            .split("\n\n")
            .map(|p| {
                p.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(joiner)
            })
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// Where pages load the logo from.
    pub fn logo_href(&self) -> Option<&str> {
        match &self.logo {
            Some(Logo::File { .. }) => Some(LOGO_PATH),
            Some(Logo::Url(url)) => Some(url),
            None => None,
        }
    }
}

/// The `tel:` target of a phone number as people write it.
fn phone_link(phone: &str) -> Result<String, String> {
    let phone = phone.trim();
    let bad = |why: &str| {
        format!("helpline.phone {phone:?} {why}; write it as residents dial it, e.g. \"0631-5231234\" or \"12345\"")
    };
    if let Some(c) = phone
        .chars()
        .enumerate()
        .find(|(i, c)| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (*c == '+' && *i == 0)))
    {
        return Err(bad(&format!("contains {:?}", c.1)));
    }
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if !(3..=15).contains(&digits.len()) {
        return Err(bad("must have 3 to 15 digits"));
    }
    let plus = if phone.starts_with('+') { "+" } else { "" };
    Ok(format!("tel:{plus}{digits}"))
}

fn logo(raw: RawLogo, dir: Option<&Path>) -> Result<Logo, String> {
    match (raw.file, raw.url) {
        (Some(_), Some(_)) => Err("logo: give either file or url, not both".into()),
        (None, None) => Err("logo: give file (an image to serve) or url (a path on this site)".into()),
        (None, Some(url)) => {
            let url = url.trim().to_string();
            if url.starts_with('/') && !url.starts_with("//") && !url.contains(['\\', '"', '<', '>', ' ']) {
                Ok(Logo::Url(url))
            } else {
                Err(format!(
                    "logo.url {url:?} must be a path on this site starting with / (e.g. \"/branding/logo.png\"): \
                     the pages' Content-Security-Policy loads images from this site only"
                ))
            }
        }
        (Some(file), None) => {
            let Some(dir) = dir else {
                return Err("logo.file cannot be used in the built-in identity".into());
            };
            let path = if file.is_absolute() { file } else { dir.join(file) };
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            let content_type = match ext.as_str() {
                "png" => "image/png",
                "jpg" | "jpeg" => "image/jpeg",
                "svg" => "image/svg+xml",
                "webp" => "image/webp",
                _ => {
                    return Err(format!(
                        "logo.file {}: use a .png, .jpg, .svg or .webp image",
                        path.display()
                    ))
                }
            };
            let bytes = std::fs::read(&path).map_err(|e| format!("logo.file {}: {e}", path.display()))?;
            if bytes.len() > MAX_LOGO_BYTES {
                return Err(format!(
                    "logo.file {} is {} KiB; a logo must be at most {} KiB",
                    path.display(),
                    bytes.len() / 1024,
                    MAX_LOGO_BYTES / 1024
                ));
            }
            Ok(Logo::File { bytes, content_type })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_identity_is_weihais_in_three_languages() {
        let id = Identity::builtin();
        assert_eq!(id.organization.get(Lang::Zh), "威海市住房和城乡建设局");
        assert_eq!(id.organization.get(Lang::Ko), "웨이하이시 주택도농건설국");
        assert_eq!(id.helpline.tel, "tel:12345");
        assert!(id.logo.is_none());
        for lang in Lang::ALL {
            let paragraphs = id.privacy_paragraphs(lang);
            assert!(paragraphs.len() >= 5, "{lang:?}");
            assert!(paragraphs.iter().all(|p| !p.contains('\n')));
        }
        assert!(id.privacy_paragraphs(Lang::En)[2].contains("IP address"));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let text = BUILTIN
            .replace("ko = \"웨이하이시 주택도농건설국\"", "ja = \"威海市\"")
            .replace("phone = \"12345\"", "phone = \"call us\"")
            .replace("hours.ko = \"평일 오전 8시 30분~오후 5시 30분\"", "hours.ko = \" \"");
        let err = Identity::parse("city.toml", &text, None).unwrap_err().to_string();
        assert!(err.contains("city.toml"), "{err}");
        assert!(err.contains("\"ja\" is not a language"), "{err}");
        assert!(
            err.contains("organization has no Korean text (organization.ko"),
            "{err}"
        );
        assert!(err.contains("helpline.hours has no Korean text"), "{err}");
        assert!(err.contains("helpline.phone \"call us\" contains 'c'"), "{err}");
        let syntax = Identity::parse("city.toml", "organization = ", None).unwrap_err();
        assert!(matches!(syntax, IdentityError::Syntax { .. }));
    }

    #[test]
    fn phones_are_checked_and_dialled_as_digits() {
        assert_eq!(phone_link("0631-523 1234").unwrap(), "tel:06315231234");
        assert_eq!(phone_link("+86 (631) 5231234").unwrap(), "tel:+866315231234");
        assert!(phone_link("12").unwrap_err().contains("3 to 15 digits"));
        assert!(phone_link("0631+12345").is_err());
        assert!(phone_link("1234567890123456").is_err());
    }

    #[test]
    fn logos_are_same_origin_files_or_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("logo.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        let with = |logo: &str| {
            let text = format!("{BUILTIN}\n[logo]\n{logo}\n");
            Identity::parse("city.toml", &text, Some(dir.path()))
        };
        let id = with("file = \"logo.svg\"").unwrap();
        assert_eq!(id.logo_href(), Some(LOGO_PATH));
        assert!(matches!(
            id.logo,
            Some(Logo::File {
                content_type: "image/svg+xml",
                ..
            })
        ));
        assert_eq!(
            with("url = \"/branding/logo.png\"").unwrap().logo_href(),
            Some("/branding/logo.png")
        );
        for bad in [
            "url = \"https://cdn.example.com/logo.png\"",
            "url = \"//cdn.example.com/logo.png\"",
            "file = \"missing.png\"",
            "file = \"logo.gif\"",
            "file = \"logo.svg\"\nurl = \"/x.png\"",
        ] {
            assert!(with(bad).is_err(), "{bad}");
        }
    }
}
