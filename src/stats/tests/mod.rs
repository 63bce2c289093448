//! Tests of the statistics engine: the R reference, error cases, behaviour,
//! the fast raking variance against the direct formulation, bootstrap, and a
//! timing smoke test.

mod behaviour;
mod bootstrap;
mod bounded;
mod perf;
mod reference;
mod replicates;
mod report_data;

use super::*;

pub(crate) const SCORES_CSV: &str = include_str!("../../../tests/reference/scores.csv");
pub(crate) const MARGINS_CSV: &str = include_str!("../../../tests/reference/margins.csv");
pub(crate) const STRUCTURE_CSV: &str = include_str!("../../../tests/reference/structure.csv");
pub(crate) const EXPECTED_JSON: &str = include_str!("../../../tests/reference/expected.json");

/// Minimal CSV reader (no quoting in the reference files).
pub(crate) fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(|s| s.trim().to_string()).collect();
    let rows = lines
        .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
        .collect();
    (header, rows)
}

/// Index strings in first-seen order.
pub(crate) fn encode(values: &[&str]) -> (Vec<u32>, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    let mut map = std::collections::HashMap::new();
    let codes = values
        .iter()
        .map(|v| {
            *map.entry(v.to_string()).or_insert_with(|| {
                names.push(v.to_string());
                (names.len() - 1) as u32
            })
        })
        .collect();
    (codes, names)
}

/// Margins from `question,value,total` rows, coded on the sample's
/// answers to each question (`answers`); a sample category the rows lack
/// gets no total, so that raking refuses it.
pub(crate) fn margins(rows: &[Vec<String>], answers: impl Fn(&str) -> Vec<String>) -> Vec<Margin> {
    let mut margins: Vec<Margin> = Vec::new();
    for r in rows {
        if margins.iter().any(|m| m.name == r[0]) {
            continue;
        }
        let of_question = rows.iter().filter(|x| x[0] == r[0]);
        let mut categories: Vec<String> = of_question.clone().map(|x| x[1].clone()).collect();
        let mut totals: Vec<Option<f64>> = of_question.map(|x| Some(x[2].parse().unwrap())).collect();
        let codes = answers(&r[0])
            .iter()
            .map(|v| match categories.iter().position(|c| c == v) {
                Some(k) => k as u32,
                None => {
                    categories.push(v.clone());
                    totals.push(None);
                    (categories.len() - 1) as u32
                }
            })
            .collect();
        margins.push(Margin {
            name: r[0].clone(),
            categories,
            codes,
            totals,
        });
    }
    margins
}

/// Overall, the dimensions and the items, in that order, as the
/// reference scripts list them.
pub(crate) fn variables<'a>(
    composites: &'a Composites,
    dim_ids: &[String],
    item_ids: &[String],
    item_scores: &'a [Vec<f64>],
    item_top: &'a [Vec<Option<bool>>],
) -> Vec<Variable<'a>> {
    let mut v = vec![Variable {
        level: Level::Overall,
        id: "overall".into(),
        score: &composites.overall,
        top_box: None,
    }];
    for (d, id) in dim_ids.iter().enumerate() {
        v.push(Variable {
            level: Level::Dimension,
            id: id.clone(),
            score: &composites.dimensions[d],
            top_box: None,
        });
    }
    for (j, id) in item_ids.iter().enumerate() {
        v.push(Variable {
            level: Level::Item,
            id: id.clone(),
            score: &item_scores[j],
            top_box: Some(&item_top[j]),
        });
    }
    v
}

/// The reference data set, scored and prepared.
pub(crate) struct RefData {
    pub n: usize,
    pub ids: Vec<String>,
    pub weights: Vec<Option<f64>>,
    pub strata: Vec<u32>,
    pub stratum_names: Vec<String>,
    pub psus: Vec<u32>,
    /// district code per respondent and names (sorted order list)
    pub district: Vec<Option<u32>>,
    pub district_names: Vec<String>,
    pub district_order: Vec<u32>,
    pub item_ids: Vec<String>,
    pub item_scores: Vec<Vec<f64>>,
    pub item_top: Vec<Vec<Option<bool>>>,
    pub dim_ids: Vec<String>,
    pub composites: Composites,
    pub margins: Vec<Margin>,
}

impl RefData {
    pub fn load() -> RefData {
        let (h, rows) = parse_csv(SCORES_CSV);
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let n = rows.len();
        let get = |name: &str| -> Vec<&str> {
            let j = col(name);
            rows.iter().map(|r| r[j].as_str()).collect()
        };
        let ids: Vec<String> = get("_id").iter().map(|s| s.to_string()).collect();
        let weights = get("_weight").iter().map(|s| Some(s.parse::<f64>().unwrap())).collect();
        let (strata, stratum_names) = encode(&get("_stratum"));
        let (psus, _) = encode(&get("_cluster"));
        let (dcodes, district_names) = encode(&get("district"));
        let mut order: Vec<u32> = (0..district_names.len() as u32).collect();
        order.sort_by(|a, b| district_names[*a as usize].cmp(&district_names[*b as usize]));

        let (_, st) = parse_csv(STRUCTURE_CSV);
        let item_ids: Vec<String> = st.iter().map(|r| r[2].clone()).collect();
        let mut item_scores = Vec::new();
        let mut item_top = Vec::new();
        for q in &item_ids {
            item_scores.push(
                get(&format!("s_{q}"))
                    .iter()
                    .map(|s| if s.is_empty() { f64::NAN } else { s.parse().unwrap() })
                    .collect::<Vec<f64>>(),
            );
            item_top.push(
                get(&format!("t_{q}"))
                    .iter()
                    .map(|s| match *s {
                        "" => None,
                        "1" => Some(true),
                        "0" => Some(false),
                        o => panic!("bad top box {o}"),
                    })
                    .collect::<Vec<Option<bool>>>(),
            );
        }
        let mut dims: Vec<DimensionSpec> = Vec::new();
        for (j, r) in st.iter().enumerate() {
            let a: f64 = r[3].parse().unwrap();
            match dims.iter_mut().find(|d| d.id == r[0]) {
                Some(d) => d.items.push((j, a)),
                None => dims.push(DimensionSpec {
                    id: r[0].clone(),
                    weight: r[1].parse().unwrap(),
                    in_overall: true,
                    items: vec![(j, a)],
                }),
            }
        }
        let cols: Vec<&[f64]> = item_scores.iter().map(|c| c.as_slice()).collect();
        let composites = composites(&cols, &dims).unwrap();

        let (_, mrows) = parse_csv(MARGINS_CSV);
        let margins = margins(&mrows, |question| get(question).iter().map(|v| v.to_string()).collect());
        RefData {
            n,
            ids,
            weights,
            strata,
            stratum_names,
            psus,
            district: dcodes.into_iter().map(Some).collect(),
            district_names,
            district_order: order,
            item_ids,
            item_scores,
            item_top,
            dim_ids: dims.iter().map(|d| d.id.clone()).collect(),
            composites,
            margins,
        }
    }

    pub fn design(&self) -> Design {
        Design::new(DesignSpec {
            weights: &self.weights,
            respondent_ids: Some(&self.ids),
            strata: Some(&self.strata),
            stratum_names: &self.stratum_names,
            psus: Some(&self.psus),
            lonely_psu: crate::stats::LonelyPsu::Fail,
        })
        .unwrap()
    }

    pub fn raked(&self) -> Design {
        self.design().rake(&self.margins, &RakeOptions::default()).unwrap()
    }

    pub fn variables(&self) -> Vec<Variable<'_>> {
        variables(
            &self.composites,
            &self.dim_ids,
            &self.item_ids,
            &self.item_scores,
            &self.item_top,
        )
    }

    pub fn grouping(&self) -> Grouping<'_> {
        Grouping {
            codes: &self.district,
            order: &self.district_order,
        }
    }
}
