//! `load.R` and `load.do`, written with an export: they read
//! `responses.csv`, apply the value labels of the codebook, declare the
//! sampling design and print the overall index of one wave with its
//! confidence interval, computed as civicpulse computes it
//! (docs/statistics.md §1–§4), so an analyst starts from our figure and
//! can check it. Pure: definitions in, script text out.
//!
//! The scripts carry every version's option scores, dimensions and weights
//! and choose at run time, as the analysis does: the wave (the one
//! exported, else the latest in the file), its default sources (imports if
//! any, else invited, else open-link, §3.1) and its definition (the newest
//! version its respondents answered; each respondent's answers are scored
//! with its own version's scores).

use super::ExportOptions;
use crate::lang::Lang;
use crate::survey::{QuestionKind, Survey};
use std::fmt::Write;

/// The confidence level the scripts print, as `civicpulse indices` by default.
const LEVEL: f64 = 0.95;

/// An R string literal, ASCII only (`\uXXXX` escapes), so the script reads
/// the same in any locale.
fn r_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{{{:x}}}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A number as R and Stata read it back exactly (shortest round trip).
fn num(x: f64) -> String {
    format!("{x:?}")
}

/// A Stata string: compound quotes, with macro characters escaped, on one line.
fn stata_str(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('`', "\\`")
        .replace('$', "\\$");
    format!("`\"{clean}\"'")
}

fn is_choice(kind: &QuestionKind) -> bool {
    matches!(
        kind,
        QuestionKind::SingleChoice { .. } | QuestionKind::Likert { .. } | QuestionKind::Rating { .. }
    )
}

/// Every choice question over all versions with its codes and labels in
/// `lang`: the newest version's options first, then codes only older
/// versions had.
fn choice_labels(versions: &[&Survey], lang: Lang) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for survey in versions.iter().rev() {
        for q in survey.questions.iter().filter(|q| is_choice(&q.kind)) {
            let k = match out.iter().position(|(id, _)| id == q.id.as_str()) {
                Some(k) => k,
                None => {
                    out.push((q.id.to_string(), Vec::new()));
                    out.len() - 1
                }
            };
            for o in q.kind.options() {
                if !out[k].1.iter().any(|(code, _)| code == o.value.as_str()) {
                    out[k].1.push((o.value.to_string(), o.label.get(lang).to_string()));
                }
            }
        }
    }
    out
}

/// A version's scored items (in question order) with the score of each code.
fn scored_items(survey: &Survey) -> Vec<(&str, Vec<(&str, f64)>)> {
    survey
        .questions
        .iter()
        .filter(|q| q.is_scored())
        .map(|q| {
            let scores = q
                .kind
                .options()
                .iter()
                .filter_map(|o| Some((o.value.as_str(), o.score?)))
                .collect();
            (q.id.as_str(), scores)
        })
        .collect()
}

/// A dimension of a version as the scripts compute it.
struct DimensionItems<'s> {
    id: &'s str,
    weight: f64,
    in_overall: bool,
    /// Its items (scored questions, in question order) and their weights.
    items: Vec<(&'s str, f64)>,
}

fn dimensions(survey: &Survey) -> Vec<DimensionItems<'_>> {
    survey
        .dimensions
        .iter()
        .enumerate()
        .map(|(d, dim)| DimensionItems {
            id: dim.id.as_str(),
            weight: dim.weight,
            in_overall: dim.in_overall,
            items: survey
                .questions
                .iter()
                .filter(|q| q.is_scored() && q.dimension == Some(d))
                .map(|q| (q.id.as_str(), q.weight))
                .collect(),
        })
        .collect()
}

fn wave_note(options: &ExportOptions) -> String {
    match options.wave {
        Some(w) => format!("wave {w}, as exported"),
        None => "the latest wave in the file".to_string(),
    }
}

/// `load.R`: base R and the `survey` package.
pub fn r_script(slug: &str, versions: &[&Survey], options: &ExportOptions) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "# load.R: written by `civicpulse export` with responses.csv (survey {slug:?}).\n\
         # Reads responses.csv, applies the codebook's value labels ({lang}), declares the\n\
         # sampling design and prints the overall index of one wave ({wave}) with its\n\
         # {pct}% confidence interval, computed as civicpulse computes it (docs/statistics.md\n\
         # sections 1-4), so it equals `civicpulse indices` for the same wave.\n\
         # Run it in this folder: Rscript load.R   (needs install.packages(\"survey\"))\n\
         # Afterwards: `responses` holds every row with labelled factors; `design` is the\n\
         # survey design of the wave's analysed responses, with their scores as columns\n\
         # score.<item>, index.<dimension> and index.overall (NA: no score).",
        lang = options.lang.code(),
        wave = wave_note(options),
        pct = LEVEL * 100.0,
    );
    r.push_str(
        r#"
suppressMessages(library(survey))
options(survey.lonely.psu = "fail")  # civicpulse's default --lonely-psu

codes <- read.csv("responses.csv", colClasses = "character", check.names = FALSE,
                  na.strings = character(0), fileEncoding = "UTF-8")
# A cell that started like a spreadsheet formula was written with a ' in
# front of it; take it off again.
codes[] <- lapply(codes, function(x) sub("^'(?=[-=+@\t\r'])", "", x, perl = TRUE))
for (column in c("_version", "_wave", grep("^_flag_", names(codes), value = TRUE))) {
  codes[[column]] <- as.integer(codes[[column]])
}
codes$`_weight` <- as.numeric(codes$`_weight`)  # empty: no design weight

# Value labels: each choice question as a factor of its codes' labels
# (no answer is NA; multi-choice and text answers stay text).
value_labels <- list(
"#,
    );
    let choices = choice_labels(versions, options.lang);
    for (k, (id, options)) in choices.iter().enumerate() {
        let codes: Vec<String> = options.iter().map(|(c, _)| r_str(c)).collect();
        let labels: Vec<String> = options.iter().map(|(_, l)| r_str(l)).collect();
        let _ = writeln!(
            r,
            "  {} = list(codes = c({}),\n    labels = c({})){}",
            r_str(id),
            codes.join(", "),
            labels.join(", "),
            if k + 1 < choices.len() { "," } else { "" }
        );
    }
    r.push_str(
        r#")
responses <- codes
for (q in names(value_labels)) {
  if (!is.null(responses[[q]])) {
    responses[[q]] <- factor(codes[[q]], levels = value_labels[[q]]$codes, labels = value_labels[[q]]$labels)
  }
}

# Every version's option scores (0-100; "don't know" and "does not apply"
# have none) and its dimensions: weight, whether in the overall index, and
# item weights (docs/statistics.md sections 1-2).
versions <- list(
"#,
    );
    for (k, survey) in versions.iter().enumerate() {
        let _ = writeln!(
            r,
            "  {} = list(\n    scores = list(",
            r_str(&survey.version.to_string())
        );
        let items = scored_items(survey);
        for (j, (id, scores)) in items.iter().enumerate() {
            let cells: Vec<String> = scores
                .iter()
                .map(|(c, s)| format!("{} = {}", r_str(c), num(*s)))
                .collect();
            let _ = writeln!(
                r,
                "      {} = c({}){}",
                r_str(id),
                cells.join(", "),
                if j + 1 < items.len() { "," } else { "" }
            );
        }
        r.push_str("    ),\n    dimensions = list(\n");
        let dims = dimensions(survey);
        for (j, dim) in dims.iter().enumerate() {
            let cells: Vec<String> = dim
                .items
                .iter()
                .map(|(q, w)| format!("{} = {}", r_str(q), num(*w)))
                .collect();
            let _ = writeln!(
                r,
                "      list(id = {}, weight = {}, in_overall = {}, items = c({})){}",
                r_str(dim.id),
                num(dim.weight),
                if dim.in_overall { "TRUE" } else { "FALSE" },
                cells.join(", "),
                if j + 1 < dims.len() { "," } else { "" }
            );
        }
        let _ = writeln!(r, "    )){}", if k + 1 < versions.len() { "," } else { "" });
    }
    let wave = match options.wave {
        Some(w) => format!("{w}L"),
        None => "max(codes$`_wave`)".to_string(),
    };
    let _ = write!(
        r,
        r#")

# The wave and its responses as `civicpulse indices` takes them by default
# (docs/statistics.md section 3.1): the wave's imported interviews if it has
# any, else its invited responses, else its open-link answers.
wave <- {wave}
in_wave <- codes$`_wave` == wave
sources <- codes$`_source`[in_wave]
use <- if (any(startsWith(sources, "import"))) "import" else if (any(sources == "invited")) "invited" else "web"
chosen <- in_wave & (if (use == "import") startsWith(codes$`_source`, "import") else codes$`_source` == use)
if (!any(chosen)) stop("responses.csv has no responses in wave ", wave)
picked <- codes[chosen, , drop = FALSE]
if (anyNA(picked$`_weight`)) {{
  stop(sum(is.na(picked$`_weight`)), " responses of wave ", wave, " have no design weight (_weight is empty); ",
       "see the codebook")
}}

# Scores: each respondent's answers with its own version's option scores;
# the items, dimensions and weights of the wave's definition, the newest
# version its respondents answered. A dimension is the weighted mean of the
# items answered, the overall index the weighted mean of the dimensions
# available (docs/statistics.md section 2).
definition <- versions[[as.character(max(picked$`_version`))]]
score <- function(item) {{
  s <- rep(NA_real_, nrow(picked))
  for (v in unique(picked$`_version`)) {{
    table <- versions[[as.character(v)]]$scores[[item]]
    if (is.null(table) || is.null(picked[[item]])) next
    rows <- picked$`_version` == v
    s[rows] <- unname(table[picked[[item]][rows]])
  }}
  s
}}
row_mean <- function(columns, weights) {{
  num <- numeric(nrow(picked))
  den <- numeric(nrow(picked))
  for (k in seq_along(columns)) {{
    ok <- !is.na(columns[[k]])
    num[ok] <- num[ok] + weights[[k]] * columns[[k]][ok]
    den[ok] <- den[ok] + weights[[k]]
  }}
  ifelse(den > 0, num / den, NA_real_)
}}
d <- responses[chosen, , drop = FALSE]
overall_parts <- list()
overall_weights <- numeric(0)
for (dim in definition$dimensions) {{
  items <- names(dim$items)
  item_scores <- lapply(items, score)
  for (j in seq_along(items)) d[[paste0("score.", items[j])]] <- item_scores[[j]]
  value <- row_mean(item_scores, dim$items)
  d[[paste0("index.", dim$id)]] <- value
  if (dim$in_overall) {{
    overall_parts[[length(overall_parts) + 1]] <- value
    overall_weights <- c(overall_weights, dim$weight)
  }}
}}
d$index.overall <- row_mean(overall_parts, overall_weights)

# The design (docs/statistics.md section 3): the weights of _weight, strata
# of _stratum (none: one stratum), PSUs of _cluster nested in strata (none:
# each respondent its own PSU).
if (any(d$`_cluster` != "")) {{
  own <- d$`_cluster` == ""
  d$`_cluster`[own] <- paste0(".respondent.", d$`_id`[own])
  design <- svydesign(ids = ~`_cluster`, strata = ~`_stratum`, weights = ~`_weight`, nest = TRUE, data = d)
}} else if (any(d$`_stratum` != "")) {{
  design <- svydesign(ids = ~1, strata = ~`_stratum`, weights = ~`_weight`, data = d)
}} else {{
  design <- svydesign(ids = ~1, weights = ~`_weight`, data = d)
}}

# The overall index: a domain mean over the respondents with a score, with
# degrees of freedom from the domain's own PSUs and strata, and a t interval
# (docs/statistics.md section 4).
answered <- subset(design, !is.na(index.overall))
estimate <- svymean(~index.overall, answered)
df <- degf(answered)
ci <- confint(estimate, level = {level}, df = df)
cat(sprintf("survey %s, wave %d, sources %s: overall index %.2f (%.0f%% CI %.2f to %.2f), n = %d\n",
            {slug_r}, wave, use, coef(estimate)[[1]], {pct}, ci[1, 1], ci[1, 2], sum(!is.na(d$index.overall))))
cat(sprintf("estimate %.17g\nse %.17g\nci_low %.17g\nci_high %.17g\nn %d\ndf %d\n",
            coef(estimate)[[1]], SE(estimate)[[1]], ci[1, 1], ci[1, 2], sum(!is.na(d$index.overall)), as.integer(df)))
"#,
        level = num(LEVEL),
        pct = num(LEVEL * 100.0),
        slug_r = r_str(slug),
    );
    r
}

/// `load.do`: Stata 16 or later (`svy`, Unicode strings).
pub fn stata_script(slug: &str, versions: &[&Survey], options: &ExportOptions) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "* load.do: written by `civicpulse export` with responses.csv (survey {slug}).\n\
         * Reads responses.csv, applies the codebook's value labels ({lang}), declares the\n\
         * sampling design (svyset) and prints the overall index of one wave\n\
         * ({wave}) with its {pct}% confidence interval, computed as civicpulse\n\
         * computes it (docs/statistics.md sections 1-4).\n\
         * Run it in this folder: do load.do   (Stata 16 or later)\n\
         * Choice questions become numeric variables labelled with their options (the\n\
         * number is the option's position; the code is in the label list below).\n\
         * Question ids longer than 32 characters are shortened by Stata.",
        lang = options.lang.code(),
        wave = wave_note(options),
        pct = LEVEL * 100.0,
    );
    s.push_str(
        r#"version 16
clear all
set more off
import delimited using "responses.csv", varnames(1) case(preserve) encoding("utf-8") stringcols(_all) bindquote(strict) maxquotedrows(unlimited) clear
* A cell that started like a spreadsheet formula was written with a ' in front of it.
foreach v of varlist _all {
    quietly replace `v' = usubstr(`v', 2, .) if usubstr(`v', 1, 1) == "'" & strpos("=+-@'" + char(9) + char(13), usubstr(`v', 2, 1)) > 0 & ustrlen(`v') > 1
}
destring _version _wave _flag_*, replace
destring _weight, replace force
"#,
    );
    let wave = match options.wave {
        Some(w) => format!("local wave {w}"),
        None => "quietly summarize _wave\nlocal wave = r(max)".to_string(),
    };
    let _ = write!(
        s,
        r#"
* The wave and its responses as `civicpulse indices` takes them by default
* (docs/statistics.md section 3.1): imports if any, else invited, else open-link.
{wave}
keep if _wave == `wave'
quietly count if substr(_source, 1, 6) == "import"
local use = cond(r(N) > 0, "import", "")
if "`use'" == "" {{
    quietly count if _source == "invited"
    local use = cond(r(N) > 0, "invited", "web")
}}
if "`use'" == "import" keep if substr(_source, 1, 6) == "import"
else keep if _source == "`use'"
quietly count if missing(_weight)
if r(N) > 0 {{
    display as error r(N) " responses have no design weight (_weight is empty); see the codebook"
    exit 459
}}
quietly summarize _version
local definition = r(max)
"#
    );
    // Scores of every item of every version, then the composites of the
    // definition the wave uses, chosen at run time like the R script does.
    let mut item_numbers: Vec<String> = Vec::new();
    for survey in versions {
        for (id, _) in scored_items(survey) {
            if !item_numbers.iter().any(|i| i == id) {
                item_numbers.push(id.to_string());
            }
        }
    }
    s.push_str(
        "\n* Item scores (0-100; \"don't know\" and \"does not apply\" are missing), each\n\
         * respondent's answers with its own version's option scores.\n",
    );
    for (k, id) in item_numbers.iter().enumerate() {
        let var = format!("_s{}", k + 1);
        let _ = writeln!(s, "generate double {var} = .");
        let _ = writeln!(s, "label variable {var} {}", stata_str(&format!("score of {id}")));
        for survey in versions {
            if let Some((_, scores)) = scored_items(survey).into_iter().find(|(q, _)| q == id) {
                for (code, score) in scores {
                    let _ = writeln!(
                        s,
                        "quietly replace {var} = {} if _version == {} & {id} == \"{code}\"",
                        num(score),
                        survey.version
                    );
                }
            }
        }
    }
    s.push_str(
        "\n* Dimensions: the weighted mean of the items answered; the overall index: the\n\
         * weighted mean of the dimensions available (docs/statistics.md section 2).\n\
         generate double _overall = .\n",
    );
    for survey in versions {
        let dims = dimensions(survey);
        let _ = writeln!(s, "if `definition' == {} {{", survey.version);
        let mut overall: Vec<(String, f64)> = Vec::new();
        for (d, dim) in dims.iter().enumerate() {
            let var = format!("_d{}", d + 1);
            let _ = writeln!(
                s,
                "    capture drop {var}\n    generate double _num = 0\n    generate double _den = 0"
            );
            for (q, w) in &dim.items {
                let k = item_numbers
                    .iter()
                    .position(|i| i == q)
                    .expect("an item of the version")
                    + 1;
                let _ = writeln!(
                    s,
                    "    quietly replace _num = _num + {w} * _s{k} if !missing(_s{k})\n    quietly replace _den = _den + {w} if !missing(_s{k})",
                    w = num(*w)
                );
            }
            let _ = writeln!(
                s,
                "    generate double {var} = _num / _den if _den > 0\n    label variable {var} {}\n    drop _num _den",
                stata_str(&format!("index of dimension {}", dim.id))
            );
            if dim.in_overall {
                overall.push((var, dim.weight));
            }
        }
        s.push_str("    generate double _num = 0\n    generate double _den = 0\n");
        for (var, w) in &overall {
            let _ = writeln!(
                s,
                "    quietly replace _num = _num + {w} * {var} if !missing({var})\n    quietly replace _den = _den + {w} if !missing({var})",
                w = num(*w)
            );
        }
        s.push_str("    quietly replace _overall = _num / _den if _den > 0\n    drop _num _den\n}\n");
    }
    s.push_str("label variable _overall \"overall index\"\n");

    s.push_str("\n* Value labels: the number is the option's position, the label its text.\n");
    for (id, options) in choice_labels(versions, options.lang) {
        let _ = writeln!(s, "capture confirm variable {id}\nif !_rc {{");
        let _ = writeln!(s, "    generate int _code = .");
        for (k, (code, _)) in options.iter().enumerate() {
            let _ = writeln!(s, "    quietly replace _code = {} if {id} == \"{code}\"", k + 1);
        }
        let _ = writeln!(s, "    drop {id}\n    rename _code {id}");
        let pairs: Vec<String> = options
            .iter()
            .enumerate()
            .map(|(k, (_, label))| format!("{} {}", k + 1, stata_str(label)))
            .collect();
        let _ = writeln!(
            s,
            "    label define {id} {}, replace\n    label values {id} {id}\n}}",
            pairs.join(" ")
        );
    }
    let _ = write!(
        s,
        r#"
* The design (docs/statistics.md section 3): weights _weight, strata _stratum
* (empty: one stratum), PSUs _cluster nested in strata (empty: each
* respondent its own PSU).
quietly replace _cluster = ".respondent." + _id if _cluster == ""
egen long _psu = group(_stratum _cluster), missing
egen long _str = group(_stratum), missing
svyset _psu [pweight = _weight], strata(_str) singleunit(missing)

* The overall index: a domain mean over the respondents with a score, with
* degrees of freedom from the domain's own PSUs and strata, and a t interval
* (docs/statistics.md section 4).
generate byte _answered = !missing(_overall)
svy, subpop(_answered): mean _overall
matrix _b = e(b)
matrix _V = e(V)
scalar _estimate = _b[1, 1]
scalar _se = sqrt(_V[1, 1])
egen byte _tag_psu = tag(_psu) if _answered
egen byte _tag_str = tag(_str) if _answered
quietly count if _tag_psu == 1
scalar _df = r(N)
quietly count if _tag_str == 1
scalar _df = _df - r(N)
scalar _t = invttail(_df, (1 - {level}) / 2)
quietly count if _answered
display "survey {slug}, wave `wave', sources `use': overall index " %9.2f _estimate " ({pct}% CI " %9.2f _estimate - _t * _se " to " %9.2f _estimate + _t * _se "), n = " r(N)
display "estimate " %21.16g _estimate
display "se " %21.16g _se
display "ci_low " %21.16g _estimate - _t * _se
display "ci_high " %21.16g _estimate + _t * _se
display "df " _df
"#,
        level = num(LEVEL),
        pct = LEVEL * 100.0,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_strings_are_ascii_and_escaped() {
        assert_eq!(r_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(r_str("环翠"), r#""\u73af\u7fe0""#);
        assert_eq!(r_str("x\ny"), r#""x\ny""#);
        assert_eq!(stata_str("say \"hi\" `x' $y"), "`\"say \"hi\" \\`x' \\$y\"'");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(100.0), "100.0");
        assert_eq!(num(100.0 / 3.0).parse::<f64>().unwrap(), 100.0 / 3.0);
    }
}
