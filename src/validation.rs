//! Input rules are stated on the input types themselves with `validator`
//! (the API's numeric parameters, the password form); this turns their
//! errors into the sentences every surface uses: "replicates must be
//! between 1 and 5000, not 2000000".

use validator::{ValidationErrors, ValidationErrorsKind};

/// One sentence per broken rule, fields in name order. A rule with a
/// `message` says it; otherwise the sentence is made from its `code` and
/// parameters (`min`, `max`, `value`).
pub fn problems(errors: &ValidationErrors) -> Vec<String> {
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
            let got = param("value").map_or_else(String::new, |v| format!(", not {v}"));
            let sentence = match (error.code.as_ref(), param("min"), param("max")) {
                ("range", Some(min), Some(max)) => format!("{field} must be between {min} and {max}{got}"),
                ("range", Some(min), None) => format!("{field} must be at least {min}{got}"),
                ("range", None, Some(max)) => format!("{field} must be at most {max}{got}"),
                ("length", Some(min), Some(max)) => format!("{field} must be {min} to {max} characters long"),
                ("length", None, Some(max)) => format!("{field} must be at most {max} characters long"),
                ("length", Some(min), None) => format!("{field} must be at least {min} characters long"),
                (code, _, _) => format!("{field} is not valid ({code})"),
            };
            out.push(sentence);
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
