//! Where definitions come from: the built-in survey compiled into the
//! binary (so `civicpulse` runs from any folder) plus `*.toml` files of a
//! definitions directory, which may add surveys or newer versions.

use super::model::{DefinitionError, Survey};
use std::path::Path;

/// Definitions compiled into the binary: (file name, TOML text).
const BUILTIN: &[(&str, &str)] = &[("livability.toml", include_str!("../../survey-defs/livability.toml"))];

/// The built-in definitions. They are checked by the test suite, so a
/// broken one never ships; a failure here is a build defect.
pub fn builtin_definitions() -> Vec<Survey> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            Survey::from_toml(&format!("<built-in>/{name}"), text)
                .unwrap_or_else(|e| panic!("built-in survey definition is invalid: {e}"))
        })
        .collect()
}

/// Built-in definitions plus every `*.toml` in `dir` (when given), in file
/// name order. A file with the same slug and version as another must be
/// identical to it; otherwise it is an error, since a published version
/// never changes. Every broken file is reported, not just the first.
pub fn load_definitions(dir: Option<&Path>) -> Result<Vec<Survey>, Vec<DefinitionError>> {
    let mut surveys = builtin_definitions();
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
