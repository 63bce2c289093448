//! Input rules are stated on the input types themselves with `validator`
//! (the API's numeric parameters, import options, invitation requests,
//! wave settings, the password form); this turns their errors into the
//! sentences every surface uses: "replicates must be between 1 and 5000,
//! not 2000000", in the reader's language on the pages.

use validator::{ValidationErrors, ValidationErrorsKind};

/// The sentence of each kind of broken rule, in English: what the command
/// line and the API say. The pages say the same in the reader's language
/// (`rule_*` in `web/messages.toml`, held to these by a test).
pub const ENGLISH: [(&str, &str); 7] = [
    ("rule_range", "{field} must be between {min} and {max}, not {value}"),
    ("rule_at_least", "{field} must be at least {min}, not {value}"),
    ("rule_at_most", "{field} must be at most {max}, not {value}"),
    ("rule_length", "{field} must be {min} to {max} characters long"),
    ("rule_length_max", "{field} must be at most {max} characters long"),
    ("rule_length_min", "{field} must be at least {min} characters long"),
    ("rule_other", "{field} is not valid"),
];

/// The rules `input` breaks, one English sentence each (none when it
/// keeps them all).
pub fn broken(input: &impl validator::Validate) -> Vec<String> {
    input.validate().err().map_or_else(Vec::new, |errors| problems(&errors))
}

/// One sentence per broken rule, in English (see [`problems_with`]).
pub fn problems(errors: &ValidationErrors) -> Vec<String> {
    problems_with(errors, |key, args| {
        let template = ENGLISH.iter().find(|(k, _)| *k == key).map_or(key, |(_, t)| t);
        args.iter().fold(template.to_string(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
    })
}

/// One sentence per broken rule, fields in name order, each from
/// `say(key, arguments)` with a `rule_*` key and the arguments `field`,
/// `min`, `max` and `value` (a number's; a text is never repeated). A rule with its own
/// `message` says that after the field's name.
pub fn problems_with(errors: &ValidationErrors, say: impl Fn(&str, &[(&str, &str)]) -> String) -> Vec<String> {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by_key(|(name, _)| name.to_string());
    let mut out = Vec::new();
    for (field, kind) in fields {
        let ValidationErrorsKind::Field(list) = kind else {
            continue;
        };
        for error in list {
            if let Some(message) = &error.message {
                out.push(format!("{field} {message}"));
                continue;
            }
            let param = |name: &str| {
                error
                    .params
                    .get(name)
                    .map(|v| v.to_string().trim_matches('"').to_string())
            };
            let (min, max) = (param("min"), param("max"));
            let key = match (error.code.as_ref(), &min, &max) {
                ("range", Some(_), Some(_)) => "rule_range",
                ("range", Some(_), None) => "rule_at_least",
                ("range", None, Some(_)) => "rule_at_most",
                ("length", Some(_), Some(_)) => "rule_length",
                ("length", None, Some(_)) => "rule_length_max",
                ("length", Some(_), None) => "rule_length_min",
                _ => "rule_other",
            };
            let value = match key {
                "rule_range" | "rule_at_least" | "rule_at_most" => param("value").unwrap_or_default(),
                _ => String::new(),
            };
            let (min, max) = (min.unwrap_or_default(), max.unwrap_or_default());
            out.push(say(
                key,
                &[
                    ("field", field.as_ref()),
                    ("min", &min),
                    ("max", &max),
                    ("value", &value),
                ],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use validator::Validate;

    #[derive(Validate)]
    struct Sample {
        #[validate(range(min = 1, max = 10))]
        count: u32,
        #[validate(range(
            exclusive_min = 0.0,
            exclusive_max = 1.0,
            message = "must lie strictly between 0 and 1"
        ))]
        level: f64,
    }

    #[test]
    fn the_pages_english_is_the_command_lines() {
        let messages = crate::web::i18n::Messages::load().unwrap();
        for (key, english) in ENGLISH {
            assert_eq!(messages.text(crate::lang::Lang::En, key, &[]), english, "{key}");
            for lang in crate::lang::Lang::ALL {
                assert!(messages.text(lang, key, &[]).contains("{field}"), "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn each_broken_rule_is_one_sentence() {
        let errors = Sample { count: 11, level: 1.5 }.validate().unwrap_err();
        assert_eq!(
            problems(&errors),
            [
                "count must be between 1 and 10, not 11",
                "level must lie strictly between 0 and 1"
            ]
        );
        assert!(Sample { count: 3, level: 0.9 }.validate().is_ok());
    }
}
