//! Where definitions come from: the built-in survey compiled into the
//! binary (so `civicpulse` runs from any folder) plus `*.toml` files of a
//! definitions directory, which may add surveys or newer versions.

use super::model::{DefinitionError, Survey};
use std::path::Path;

/// The current version of each built-in survey: (file name, TOML text).
const BUILTIN: &[(&str, &str)] = &[("livability.toml", include_str!("../../survey-defs/livability.toml"))];

/// Earlier versions of the built-in surveys, oldest first, exactly as they
/// were published. A published version never changes, so a deployment
/// that stored one must find it unchanged; and shipping them all means
/// every deployment numbers the versions alike.
const BUILTIN_EARLIER: &[(&str, &str)] = &[(
    "livability-v1.toml",
    include_str!("../../survey-defs/livability-v1.toml"),
)];

fn parse_builtin(list: &[(&str, &str)]) -> Vec<Survey> {
    list.iter()
        .map(|(name, text)| {
            Survey::from_toml(&format!("<built-in>/{name}"), text)
                .unwrap_or_else(|e| panic!("built-in survey definition is invalid: {e}"))
        })
        .collect()
}

/// The current version of each built-in survey, the one residents answer.
/// They are checked by the test suite, so a broken one never ships; a
/// failure here is a build defect.
pub fn builtin_definitions() -> Vec<Survey> {
    parse_builtin(BUILTIN)
}

/// The earlier published versions of the built-in surveys, oldest first.
pub fn builtin_earlier_versions() -> Vec<Survey> {
    parse_builtin(BUILTIN_EARLIER)
}

/// Built-in definitions (every version, oldest first) plus every `*.toml`
/// in `dir` (when given), in file name order. A file with the same slug and version as another must be
/// identical to it; otherwise it is an error, since a published version
/// never changes. Every broken file is reported, not just the first.
pub fn load_definitions(dir: Option<&Path>) -> Result<Vec<Survey>, Vec<DefinitionError>> {
    let mut surveys = builtin_earlier_versions();
    surveys.extend(builtin_definitions());
    let mut errors = Vec::new();
    if let Some(dir) = dir {
        let mut paths: Vec<_> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect(),
            Err(error) => {
                return Err(vec![DefinitionError::Io {
                    source_name: dir.display().to_string(),
                    error,
                }])
            }
        };
        paths.sort();
        for path in paths {
            match Survey::from_file(&path) {
                Ok(survey) => match surveys
                    .iter()
                    .find(|s| s.slug == survey.slug && s.version == survey.version)
                {
                    Some(existing) if existing.raw() == survey.raw() => {}
                    Some(_) => errors.push(DefinitionError::Syntax {
                        source_name: path.display().to_string(),
                        message: format!(
                            "version {} of survey {:?} is already defined with different content; \
                             give the changed questionnaire a new version number",
                            survey.version,
                            survey.slug.as_str()
                        ),
                    }),
                    None => surveys.push(survey),
                },
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(surveys)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::versioning;

    #[test]
    fn each_builtin_version_follows_the_version_rules_of_the_ones_before() {
        let earlier = builtin_earlier_versions();
        for current in builtin_definitions() {
            let before: Vec<&Survey> = earlier.iter().filter(|s| s.slug == current.slug).collect();
            assert!(
                before.iter().all(|s| s.version < current.version),
                "the current {} is the newest version",
                current.slug
            );
            assert_eq!(versioning::check(&before, current.raw()), [], "{}", current.slug);
        }
        for (k, survey) in earlier.iter().enumerate() {
            let before: Vec<&Survey> = earlier[..k].iter().filter(|s| s.slug == survey.slug).collect();
            assert_eq!(versioning::check(&before, survey.raw()), []);
        }
    }

    #[test]
    fn every_builtin_version_is_loaded_oldest_first() {
        let loaded = load_definitions(None).unwrap();
        let versions: Vec<(String, u32)> = loaded.iter().map(|s| (s.slug.to_string(), s.version)).collect();
        let mut sorted = versions.clone();
        sorted.sort();
        assert_eq!(versions, sorted);
        assert_eq!(versions.first(), Some(&("livability".to_string(), 1)));
        assert!(versions.len() >= 2, "{versions:?}");
    }
}
