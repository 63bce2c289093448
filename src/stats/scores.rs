//! Scores, top-two-box indicators and respondent-level composites
//! (docs/statistics.md §1–§2).
//!
//! Numeric columns use `f64::NAN` for a missing value (8 bytes per
//! respondent instead of 16 for `Option<f64>`); [`column_from_options`]
//! converts. Indicators are `Option<bool>` (1 byte).

use super::error::StatsError;

/// Scores of one item for every respondent plus its top-two-box indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemScores {
    /// Score 0–100, `NaN` when missing (don't know, not applicable, no answer).
    pub score: Vec<f64>,
    /// `Some(true)` when the answer is one of the two highest-scored options,
    /// `Some(false)` for another scored option, `None` when missing.
    pub top_box: Vec<Option<bool>>,
}

/// Option scores of a k-point scale ordered from least to most satisfied:
/// option number x (1..k, code x−1) scores `100·(x−1)/(k−1)`.
pub fn likert_option_scores(k: usize) -> Vec<Option<f64>> {
    if k < 2 {
        return vec![None; k];
    }
    (0..k).map(|x| Some(100.0 * x as f64 / (k - 1) as f64)).collect()
}

/// Which options belong to the top-two box: the options whose score is at
/// least the second-highest option score (ties at the top all count).
/// Unscored options (`None`) never do. With fewer than two scored options
/// only the highest counts.
pub fn top_two_options(option_scores: &[Option<f64>]) -> Vec<bool> {
    let mut scored: Vec<f64> = option_scores.iter().flatten().copied().collect();
    scored.sort_by(|a, b| b.total_cmp(a));
    let threshold = match scored.len() {
        0 => return vec![false; option_scores.len()],
        1 => scored[0],
        _ => scored[1],
    };
    option_scores
        .iter()
        .map(|s| matches!(s, Some(v) if *v >= threshold))
        .collect()
}

/// Turn per-respondent option codes (index into `option_scores`; `None` = no
/// answer) into scores and top-two-box indicators. An option whose score is
/// `None` ("don't know", "not applicable") gives a missing score.
pub fn score_codes(item: &str, codes: &[Option<u32>], option_scores: &[Option<f64>]) -> Result<ItemScores, StatsError> {
    for s in option_scores.iter().flatten() {
        if !s.is_finite() {
            return Err(StatsError::InvalidArgument(format!(
                "item '{item}': option score {s} is not a finite number"
            )));
        }
    }
    let top = top_two_options(option_scores);
    let mut score = Vec::with_capacity(codes.len());
    let mut top_box = Vec::with_capacity(codes.len());
    for (i, c) in codes.iter().enumerate() {
        match c {
            None => {
                score.push(f64::NAN);
                top_box.push(None);
            }
            Some(c) => {
                let c = *c as usize;
                if c >= option_scores.len() {
                    return Err(StatsError::InvalidArgument(format!(
                        "item '{item}': respondent {i} has option code {c}, but the item has {} options",
                        option_scores.len()
                    )));
                }
                match option_scores[c] {
                    Some(v) => {
                        score.push(v);
                        top_box.push(Some(top[c]));
                    }
                    None => {
                        score.push(f64::NAN);
                        top_box.push(None);
                    }
                }
            }
        }
    }
    Ok(ItemScores { score, top_box })
}

/// `Option<f64>` column → `NaN`-coded column.
pub fn column_from_options(values: &[Option<f64>]) -> Vec<f64> {
    values.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

/// `NaN`-coded column → `Option<f64>` column.
pub fn column_to_options(values: &[f64]) -> Vec<Option<f64>> {
    values
        .iter()
        .map(|v| if v.is_nan() { None } else { Some(*v) })
        .collect()
}

/// Row-wise weighted mean over the non-missing columns:
/// `Σ_j a_j x_ij / Σ_j a_j` over the j with `x_ij` present; `NaN` if none.
pub fn weighted_row_mean(columns: &[&[f64]], weights: &[f64]) -> Result<Vec<f64>, StatsError> {
    if columns.len() != weights.len() {
        return Err(StatsError::LengthMismatch {
            what: "weights of the composite".into(),
            expected: columns.len(),
            got: weights.len(),
        });
    }
    for &a in weights {
        if !(a.is_finite() && a > 0.0) {
            return Err(StatsError::InvalidArgument(format!(
                "composite weight {a} must be finite and greater than 0"
            )));
        }
    }
    let n = columns.first().map_or(0, |c| c.len());
    for c in columns {
        if c.len() != n {
            return Err(StatsError::LengthMismatch {
                what: "a column of the composite".into(),
                expected: n,
                got: c.len(),
            });
        }
    }
    let mut out = vec![f64::NAN; n];
    for (i, o) in out.iter_mut().enumerate() {
        let mut num = 0.0;
        let mut den = 0.0;
        for (c, &a) in columns.iter().zip(weights) {
            let x = c[i];
            if !x.is_nan() {
                num += a * x;
                den += a;
            }
        }
        if den > 0.0 {
            *o = num / den;
        }
    }
    Ok(out)
}

/// One dimension of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionSpec {
    /// Dimension id (e.g. "safety").
    pub id: String,
    /// Dimension weight `b_d`.
    pub weight: f64,
    /// Whether the dimension enters the overall score.
    pub in_overall: bool,
    /// Items of the dimension: (index into the item columns, item weight `a_j`).
    pub items: Vec<(usize, f64)>,
}

/// Respondent-level composites.
#[derive(Debug, Clone, PartialEq)]
pub struct Composites {
    /// Dimension scores `D_id`, one column per dimension (`NaN` = missing).
    pub dimensions: Vec<Vec<f64>>,
    /// Overall score `O_i` over the dimensions with `in_overall`.
    pub overall: Vec<f64>,
}

/// Dimension scores (`D_id = Σ a_j s_ij / Σ a_j` over answered items of d)
/// and the overall score (`O_i = Σ b_d D_id / Σ b_d` over the available
/// dimensions that are in the overall).
pub fn composites(items: &[&[f64]], dims: &[DimensionSpec]) -> Result<Composites, StatsError> {
    let mut dimensions = Vec::with_capacity(dims.len());
    for d in dims {
        let mut cols = Vec::with_capacity(d.items.len());
        let mut w = Vec::with_capacity(d.items.len());
        for &(j, a) in &d.items {
            let col = items.get(j).ok_or_else(|| {
                StatsError::InvalidArgument(format!(
                    "dimension '{}' refers to item column {j}, but there are {} items",
                    d.id,
                    items.len()
                ))
            })?;
            cols.push(*col);
            w.push(a);
        }
        if cols.is_empty() {
            return Err(StatsError::InvalidArgument(format!(
                "dimension '{}' has no items",
                d.id
            )));
        }
        dimensions.push(weighted_row_mean(&cols, &w)?);
    }
    let mut cols = Vec::new();
    let mut w = Vec::new();
    for (d, col) in dims.iter().zip(&dimensions) {
        if d.in_overall {
            cols.push(col.as_slice());
            w.push(d.weight);
        }
    }
    let n = items.first().map_or(0, |c| c.len());
    let overall = if cols.is_empty() {
        vec![f64::NAN; n]
    } else {
        weighted_row_mean(&cols, &w)?
    };
    Ok(Composites { dimensions, overall })
}

/// [`composites`] for coded items: each item's score is read through its
/// code table, so no per-item score column is needed. The arithmetic is
/// that of [`weighted_row_mean`], term for term, so the results are equal.
pub fn composites_coded(items: &[super::CodedItem<'_>], dims: &[DimensionSpec]) -> Result<Composites, StatsError> {
    let n = items.first().map_or(0, |c| c.codes.len());
    let mut dimensions = Vec::with_capacity(dims.len());
    for d in dims {
        if d.items.is_empty() {
            return Err(StatsError::InvalidArgument(format!(
                "dimension '{}' has no items",
                d.id
            )));
        }
        let mut parts = Vec::with_capacity(d.items.len());
        for &(j, a) in &d.items {
            let item = items.get(j).ok_or_else(|| {
                StatsError::InvalidArgument(format!(
                    "dimension '{}' refers to item {j}, but there are {} items",
                    d.id,
                    items.len()
                ))
            })?;
            if !(a.is_finite() && a > 0.0) {
                return Err(StatsError::InvalidArgument(format!(
                    "composite weight {a} must be finite and greater than 0"
                )));
            }
            if item.codes.len() != n || item.codes.iter().any(|&c| c as usize >= item.score_by_code.len()) {
                return Err(StatsError::InvalidArgument(format!(
                    "item '{}': malformed codes",
                    item.id
                )));
            }
            parts.push((item, a));
        }
        let mut column = vec![f64::NAN; n];
        for (i, o) in column.iter_mut().enumerate() {
            let mut num = 0.0;
            let mut den = 0.0;
            for (item, a) in &parts {
                if let Some(x) = item.score_by_code[item.codes[i] as usize] {
                    num += a * x;
                    den += a;
                }
            }
            if den > 0.0 {
                *o = num / den;
            }
        }
        dimensions.push(column);
    }
    let (cols, w): (Vec<&[f64]>, Vec<f64>) = dims
        .iter()
        .zip(&dimensions)
        .filter(|(d, _)| d.in_overall)
        .map(|(d, c)| (c.as_slice(), d.weight))
        .unzip();
    let overall = if cols.is_empty() {
        vec![f64::NAN; n]
    } else {
        weighted_row_mean(&cols, &w)?
    };
    Ok(Composites { dimensions, overall })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likert_and_top_two() {
        let s = likert_option_scores(5);
        assert_eq!(s, vec![Some(0.0), Some(25.0), Some(50.0), Some(75.0), Some(100.0)]);
        let mut with_dk = s.clone();
        with_dk.push(None);
        assert_eq!(top_two_options(&with_dk), vec![false, false, false, true, true, false]);
        // reversed item: the two highest scores are the first options
        let rev: Vec<Option<f64>> = s.iter().rev().copied().collect();
        assert_eq!(top_two_options(&rev), vec![true, true, false, false, false]);
        let r = score_codes("q", &[Some(0), Some(4), Some(5), None, Some(3)], &with_dk).unwrap();
        assert_eq!(r.score[..2], [0.0, 100.0]);
        assert!(r.score[2].is_nan() && r.score[3].is_nan());
        assert_eq!(r.top_box, vec![Some(false), Some(true), None, None, Some(true)]);
        assert!(score_codes("q", &[Some(9)], &with_dk).is_err());
    }

    #[test]
    fn composites_renormalise() {
        let a = [100.0, f64::NAN, f64::NAN];
        let b = [50.0, 25.0, f64::NAN];
        let c = [0.0, f64::NAN, f64::NAN];
        let dims = vec![
            DimensionSpec {
                id: "x".into(),
                weight: 1.0,
                in_overall: true,
                items: vec![(0, 2.0), (1, 1.0)],
            },
            DimensionSpec {
                id: "y".into(),
                weight: 3.0,
                in_overall: true,
                items: vec![(2, 1.0)],
            },
            DimensionSpec {
                id: "z".into(),
                weight: 1.0,
                in_overall: false,
                items: vec![(1, 1.0)],
            },
        ];
        let r = composites(&[&a, &b, &c], &dims).unwrap();
        assert!((r.dimensions[0][0] - 250.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.dimensions[0][1], 25.0);
        assert!(r.dimensions[0][2].is_nan());
        assert!((r.overall[0] - (250.0 / 3.0) / 4.0).abs() < 1e-12);
        assert_eq!(r.overall[1], 25.0); // only x available, z excluded
        assert!(r.overall[2].is_nan());
    }
}
