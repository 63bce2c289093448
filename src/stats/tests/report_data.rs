//! Loader for `tests/reference/report/` (interview CSVs scored with its
//! `structure.csv`, its margins and `expected.json`), shared by the tests
//! that check figures against it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/report");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{file}")).unwrap_or_else(|e| panic!("{DIR}/{file}: {e}"))
}

/// A CSV file's header and records (the free-text `suggestions` is quoted
/// and has commas).
pub(crate) fn parse_quoted_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let records = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, records)
}

/// `expected.json`, parsed once.
pub(crate) fn expected() -> &'static [Value] {
    static EXPECTED: OnceLock<Vec<Value>> = OnceLock::new();
    EXPECTED.get_or_init(|| serde_json::from_str(&read("expected.json")).unwrap())
}

/// The rows of one figure.
pub(crate) fn expected_rows(figure: &str) -> Vec<&'static Value> {
    expected().iter().filter(|r| r["figure"] == figure).collect()
}

pub(crate) fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / b.abs().max(1e-300)
    }
}

/// One interview file of the report folder, scored as `prep.R` does.
pub(crate) struct Wave {
    pub n: usize,
    pub ids: Vec<String>,
    pub weights: Vec<Option<f64>>,
    pub strata: Vec<u32>,
    pub stratum_names: Vec<String>,
    pub psus: Vec<u32>,
    /// Raw answers by question id.
    pub answers: HashMap<String, Vec<String>>,
    /// Answered district per respondent, names, and names in sorted order.
    pub district: Vec<Option<u32>>,
    pub district_names: Vec<String>,
    pub district_order: Vec<u32>,
    pub item_ids: Vec<String>,
    pub item_scores: Vec<Vec<f64>>,
    pub item_top: Vec<Vec<Option<bool>>>,
    pub dims: Vec<DimensionSpec>,
    pub composites: Composites,
}

impl Wave {
    /// `file`: e.g. "wave2026.csv".
    pub fn load(file: &str) -> Wave {
        let (h, rows) = parse_quoted_csv(&read(file));
        let n = rows.len();
        let mut answers: HashMap<String, Vec<String>> = HashMap::new();
        for (j, name) in h.iter().enumerate() {
            answers.insert(name.clone(), rows.iter().map(|r| r[j].clone()).collect());
        }
        let col = |name: &str| -> Vec<&str> { answers[name].iter().map(|s| s.as_str()).collect() };
        let ids = answers["_id"].clone();
        let weights = col("_weight").iter().map(|s| Some(s.parse::<f64>().unwrap())).collect();
        let (strata, stratum_names) = encode(&col("_stratum"));
        let (psus, _) = encode(&col("_cluster"));
        let (dcodes, district_names) = encode(&col("district"));
        let mut district_order: Vec<u32> = (0..district_names.len() as u32).collect();
        district_order.sort_by(|a, b| district_names[*a as usize].cmp(&district_names[*b as usize]));

        let (sh, st) = parse_quoted_csv(&read("structure.csv"));
        let sc = |name: &str| sh.iter().position(|c| c == name).unwrap();
        let (q, dim, iw, dw, inov, vals, scs) = (
            sc("question"),
            sc("dimension"),
            sc("item_weight"),
            sc("dimension_weight"),
            sc("in_overall"),
            sc("values"),
            sc("scores"),
        );
        let mut item_ids = Vec::new();
        let mut item_scores = Vec::new();
        let mut item_top = Vec::new();
        let mut dims: Vec<DimensionSpec> = Vec::new();
        for (j, r) in st.iter().enumerate() {
            let values: Vec<&str> = r[vals].split(';').collect();
            let option_scores: Vec<Option<f64>> = r[scs]
                .split(';')
                .map(|s| if s == "NA" { None } else { Some(s.parse().unwrap()) })
                .collect();
            let codes: Vec<Option<u32>> = answers[&r[q]]
                .iter()
                .map(|a| match a.as_str() {
                    "" => None,
                    a => Some(values.iter().position(|v| *v == a).unwrap() as u32),
                })
                .collect();
            let s = score_codes(&r[q], &codes, &option_scores).unwrap();
            item_ids.push(r[q].clone());
            item_scores.push(s.score);
            item_top.push(s.top_box);
            if r[dim].is_empty() {
                continue;
            }
            let a: f64 = r[iw].parse().unwrap();
            match dims.iter_mut().find(|d| d.id == r[dim]) {
                Some(d) => d.items.push((j, a)),
                None => dims.push(DimensionSpec {
                    id: r[dim].clone(),
                    weight: r[dw].parse().unwrap(),
                    in_overall: r[inov] == "TRUE",
                    items: vec![(j, a)],
                }),
            }
        }
        let cols: Vec<&[f64]> = item_scores.iter().map(|c| c.as_slice()).collect();
        let composites = composites(&cols, &dims).unwrap();
        Wave {
            n,
            ids,
            weights,
            strata,
            stratum_names,
            psus,
            answers,
            district: dcodes.into_iter().map(Some).collect(),
            district_names,
            district_order,
            item_ids,
            item_scores,
            item_top,
            dims,
            composites,
        }
    }

    /// `svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, nest = TRUE)`.
    pub fn design(&self, lonely_psu: LonelyPsu) -> Design {
        Design::new(DesignSpec {
            weights: &self.weights,
            respondent_ids: Some(&self.ids),
            strata: Some(&self.strata),
            stratum_names: &self.stratum_names,
            psus: Some(&self.psus),
            lonely_psu,
        })
        .unwrap()
    }

    /// The margins of `margins.csv` (district, sex, age_group), coded on
    /// this wave's answers.
    pub fn margins(&self) -> Vec<Margin> {
        let (_, rows) = parse_quoted_csv(&read("margins.csv"));
        super::margins(&rows, |question| self.answers[question].clone())
    }

    /// Overall, the dimensions and the items, in `reference.R`'s order.
    pub fn variables(&self) -> Vec<Variable<'_>> {
        let dim_ids: Vec<String> = self.dims.iter().map(|d| d.id.clone()).collect();
        super::variables(
            &self.composites,
            &dim_ids,
            &self.item_ids,
            &self.item_scores,
            &self.item_top,
        )
    }

    /// By answered district.
    pub fn grouping(&self) -> Grouping<'_> {
        Grouping {
            codes: &self.district,
            order: &self.district_order,
        }
    }

    /// Group code of a district name.
    pub fn district_code(&self, name: &str) -> u32 {
        self.district_names.iter().position(|x| x == name).unwrap() as u32
    }
}

/// Largest relative differences from R over a figure's mean rows.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MeanDiffs {
    pub rows: usize,
    pub estimate: f64,
    pub n_eff: f64,
    pub se: f64,
    pub ci: f64,
}

/// Compare the score rows (level overall, dimension, item; whole sample and
/// by district) of one `expected.json` figure with `estimate_all` on
/// `design`: n and df exactly, the rest to `tol` relative.
pub(crate) fn check_mean_rows(figure: &str, wave: &Wave, design: &Design, tol: f64) -> MeanDiffs {
    let options = EstimateOptions {
        min_cell: 0,
        ..Default::default()
    };
    let vars = wave.variables();
    let ours = estimate_all(design, &vars, Some(&wave.grouping()), &options).unwrap();
    let mut diffs = MeanDiffs::default();
    for e in expected_rows(figure) {
        let level = e["level"].as_str().unwrap();
        if level == "weights" {
            continue;
        }
        let id = e["id"].as_str().unwrap();
        let group = e["group"].as_str();
        let code = group.map(|g| wave.district_code(g));
        let row = ours
            .iter()
            .find(|r| r.id == id && r.group == code)
            .unwrap_or_else(|| panic!("{figure}: no row for {id} {group:?}"));
        assert_eq!(serde_json::to_value(row.level).unwrap(), level);
        let ctx = format!("{figure} {id} {group:?}");
        let s = &row.score;
        assert_eq!(s.n, e["n"].as_u64().unwrap(), "n {ctx}");
        assert_eq!(s.df, e["df"].as_u64().unwrap(), "df {ctx}");
        let check = |slot: &mut f64, got: Option<f64>, key: &str| match (got, e[key].as_f64()) {
            (Some(g), Some(w)) => {
                let r = rel(g, w);
                assert!(r <= tol, "{key} {ctx}: {g} vs {w} (rel {r:e})");
                *slot = slot.max(r);
            }
            (None, None) => {}
            (g, w) => panic!("{key} {ctx}: {g:?} vs {w:?}"),
        };
        let mut d = diffs;
        check(&mut d.estimate, s.estimate, "estimate");
        check(&mut d.n_eff, s.n_eff, "n_eff");
        check(&mut d.se, s.se, "se");
        check(&mut d.ci, s.ci_low, "ci_low");
        check(&mut d.ci, s.ci_high, "ci_high");
        d.rows += 1;
        diffs = d;
    }
    // R leaves out exactly the cells with n < 2.
    assert_eq!(
        ours.iter().filter(|r| r.score.n >= 2).count(),
        diffs.rows,
        "{figure}: rows"
    );
    diffs
}
