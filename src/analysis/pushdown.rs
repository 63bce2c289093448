//! Indices on PostgreSQL from sufficient statistics (docs/statistics.md
//! §4.6): the database adds the wave up per unit of the design (stratum,
//! cluster, domain, raking cell) and per item answer code
//! (`db::aggregates`), and `stats::sufficient` computes every figure from
//! those sums. A million respondents become a few thousand rows, and the
//! process never holds the wave.
//!
//! It is not the default (`Computation::Auto` reads the rows): with
//! PostgreSQL on the same machine, reading a million rows of 36 answer
//! codes takes 1.6 s and adding them up in PostgreSQL 22.5 s (its hash
//! aggregation costs about 0.7 µs per respondent and item; the engine
//! nanoseconds). It pays where the rows are expensive to move (a database
//! across a slow link) or memory is short (58 MiB against 267 MiB).
//!
//! It covers what `report::indices` computes with the linearised
//! variance: weights none, stored and from the sampling frame, raked with
//! or without bounds, `--by` groups, items (score, top-two box share and
//! total), dimensions and overall, n, n_eff, df, deff, populations,
//! missing answers, answer distributions (every choice question's codes
//! are summed like the items'), suppression, lonely-PSU rules and
//! data-quality exclusions (the excluded ids are a bound array). The figures equal the
//! row path's up to the order of summation (`tests/statistics.rs`,
//! `pushdown_equals_rows`).
//!
//! It does not cover (an error here; `Computation::Auto` reads the rows):
//!
//! * `--variance bootstrap`: replicates resample PSUs, and respondents who
//!   are their own PSU are summed per stratum here;
//! * anything the row path reports as an error (a stratum of a frame
//!   without its answer, margins a respondent has no answer to, a lonely
//!   PSU under `fail`…) is an error here too, not always in the same words.

use super::design::{margin_totals, resolve_margins, DesignWeights};
use super::distribution::{distribution_questions, distribution_rows};
use super::groups::Groups;
use super::load::{choice_question, choose, Chosen};
use super::options::{AnalysisError, IndexOptions, Variance, Weights};
use super::prepare::{analysis_items, version_map, VersionMap};
use super::report::{design_notes, publish, DefinitionUsed, IndexReport, MissingCounts};
use crate::db::{AggregateQuery, AnswerKey, CompositeTerms, Database, WaveFilter};
use crate::fieldwork::wave::DEFAULT_STRATUM_QUESTION;
use crate::fieldwork::Source;
use crate::registry::SurveyRegistry;
use crate::stats::{
    self, EstimateOptions, Kind, Level, LonelyPsu, MomentSums, Moments, RakeOptions, SufficientDesign, SufficientSpec,
    Unit, WeightMode,
};
use crate::survey::{Missing, Survey};
use std::collections::HashMap;

/// Whether the pushdown can compute this analysis on this database.
fn applies(db: &Database, options: &IndexOptions) -> bool {
    db.aggregates_in_database() && options.variance == Variance::Linearized
}

/// Where each respondent's stratum comes from.
enum Strata {
    /// Weights `none`: one stratum, every respondent its own PSU.
    One,
    /// The stored strata and clusters (imports; web answers without a frame).
    Stored,
    /// The sampling frame's: the invitation's stratum, or for an open-link
    /// answer its answer to `question` (key `key`).
    Frame {
        frame: Vec<crate::fieldwork::FrameStratum>,
        key: Option<usize>,
    },
}

/// Per stored version: the key of each raw code of `question` (its
/// option's index in the definition, matched by value).
fn answer_key(definition: &Survey, question: &str, versions: &[(i64, &Survey)]) -> AnswerKey {
    let target = definition.question(question).expect("checked by the caller");
    AnswerKey {
        per_version: versions
            .iter()
            .filter_map(|(id, s)| {
                let pos = s.question_index(question)?;
                let map = std::iter::once(None)
                    .chain(s.questions[pos].kind.options().iter().map(|o| {
                        target
                            .kind
                            .options()
                            .iter()
                            .position(|t| t.value == o.value)
                            .map(|p| p as i32)
                    }))
                    .collect();
                Some((*id, pos, map))
            })
            .collect(),
    }
}

fn stop(why: &str) -> AnalysisError {
    AnalysisError::Option(format!("the PostgreSQL pushdown does not cover this: {why}"))
}

/// Every index of one wave from sums PostgreSQL adds up.
pub(super) fn indices(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
) -> Result<IndexReport, AnalysisError> {
    if !applies(db, options) {
        return Err(stop("the bootstrap and SQLite read the rows"));
    }
    let started = std::time::Instant::now();
    let Chosen {
        stored,
        wave,
        sources_filter,
        batch_filter,
        excluded_ids,
        selection,
    } = choose(db, registry, slug, options)?;
    let mut excluded: Vec<i64> = excluded_ids.into_iter().collect();
    excluded.sort_unstable();
    let filter = WaveFilter {
        slug,
        wave,
        sources: sources_filter.as_deref(),
        import_batches: batch_filter.as_deref(),
        excluded: &excluded,
    };
    let answered = db.versions_answered(&filter)?;
    if answered.is_empty() {
        return Err(AnalysisError::NoResponses {
            slug: slug.to_string(),
            wave: Some(wave),
        });
    }
    let slot_of: HashMap<i64, usize> = stored.iter().enumerate().map(|(k, s)| (s.version_id, k)).collect();
    let mut slots = answered
        .iter()
        .map(|(id, _)| {
            slot_of.get(id).copied().ok_or_else(|| {
                AnalysisError::Option(format!(
                    "a response of {slug:?} answers a version this process has not loaded (row {id}); \
                     run the command again"
                ))
            })
        })
        .collect::<Result<Vec<usize>, _>>()?;
    slots.sort_unstable();
    let definition = &stored[*slots.last().expect("some version answered")].survey;
    let versions: Vec<(i64, &Survey)> = slots
        .iter()
        .map(|&k| (stored[k].version_id, &stored[k].survey))
        .collect();

    // The design: where weights, strata and PSUs come from (as
    // `design::design` decides).
    let sources = &selection.sources;
    let strata = if options.weights == Weights::None {
        Strata::One
    } else {
        let frame = if sources.contains(&Source::Import) {
            Vec::new()
        } else {
            db.frame(slug, wave)?
        };
        if sources.contains(&Source::Invited) || !frame.is_empty() {
            if frame.is_empty() {
                return Err(AnalysisError::NoFrame {
                    slug: slug.to_string(),
                    wave,
                });
            }
            Strata::Frame { frame, key: None }
        } else {
            Strata::Stored
        }
    };

    // Answers that make units: the groups, the margins, a frame's strata.
    let (by_questions, group_names) = match &options.by {
        Some(by) => Groups::questions(definition, slug, by)?,
        None => (Vec::new(), Vec::new()),
    };
    let totals = resolve_margins(db, slug, wave, options)?;
    let margins = match &totals {
        Some(t) => margin_totals(slug, t, definition)?,
        None => Vec::new(),
    };
    let mut keys: Vec<AnswerKey> = by_questions
        .iter()
        .map(|q| answer_key(definition, q.id.as_str(), &versions))
        .collect();
    keys.extend(margins.iter().map(|m| answer_key(definition, &m.question, &versions)));
    let mut strata = strata;
    let mut stratum_values: Vec<String> = Vec::new();
    if let Strata::Frame { key, .. } = &mut strata {
        if sources.iter().any(|s| *s != Source::Invited) {
            let settings = db.wave(slug, wave)?;
            let question = settings
                .as_ref()
                .map_or(DEFAULT_STRATUM_QUESTION, |s| s.stratum_question.as_str());
            let q = choice_question(definition, slug, question)?;
            stratum_values = q.kind.options().iter().map(|o| o.value.to_string()).collect();
            *key = Some(keys.len());
            keys.push(answer_key(definition, question, &versions));
        }
    }

    // Items, and the composites as weighted means of their scores.
    let item_ids = analysis_items(definition);
    let maps: Vec<VersionMap> = versions.iter().map(|(_, s)| version_map(s, &item_ids)).collect();
    let items: Vec<Vec<(i64, usize)>> = (0..item_ids.len())
        .map(|j| {
            versions
                .iter()
                .zip(&maps)
                .filter_map(|((id, _), m)| Some((*id, m.items[j].as_ref()?.position)))
                .collect()
        })
        .collect();
    // Distributions (§4.4): every choice question's codes, after the items.
    let shown: Vec<&crate::survey::Question> = if options.distributions {
        distribution_questions(definition).collect()
    } else {
        Vec::new()
    };
    if let Some(q) = shown.iter().find(|q| q.kind.options().len() >= u8::MAX as usize) {
        return Err(AnalysisError::Option(format!(
            "question {} has {} options; distributions take at most 254",
            q.id,
            q.kind.options().len()
        )));
    }
    let shown_keys: Vec<HashMap<i64, Vec<Option<i32>>>> = shown
        .iter()
        .map(|q| {
            answer_key(definition, q.id.as_str(), &versions)
                .per_version
                .into_iter()
                .map(|(v, _, keys)| (v, keys))
                .collect()
        })
        .collect();
    let mut items = items;
    items.extend(shown.iter().map(|q| {
        versions
            .iter()
            .filter_map(|(id, s)| Some((*id, s.question_index(q.id.as_str())?)))
            .collect::<Vec<_>>()
    }));
    let mut dimensions: Vec<CompositeTerms> = Vec::new();
    for (d, dim) in definition.dimensions.iter().enumerate() {
        let members: Vec<(usize, f64)> = item_ids
            .iter()
            .enumerate()
            .filter_map(|(j, id)| {
                let q = definition.question(id)?;
                (q.dimension == Some(d)).then_some((j, q.weight))
            })
            .collect();
        if members.is_empty() || !(dim.weight.is_finite() && dim.weight > 0.0) {
            return Err(stop("a dimension without items or weight"));
        }
        if members.iter().any(|(_, a)| !(a.is_finite() && *a > 0.0)) {
            return Err(stop("an item weight that is not above 0"));
        }
        dimensions.push(
            versions
                .iter()
                .zip(&maps)
                .map(|((id, _), m)| {
                    let terms = members
                        .iter()
                        .filter_map(|&(j, a)| {
                            let c = m.items[j].as_ref()?;
                            Some((c.position, a, c.score_by_code.clone()))
                        })
                        .collect();
                    (*id, terms)
                })
                .collect(),
        );
    }
    let overall: Vec<(usize, f64)> = definition
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| d.in_overall)
        .map(|(k, d)| (k, d.weight))
        .collect();

    let aggregates = db.aggregates(&AggregateQuery {
        filter,
        stored_weights: matches!(strata, Strata::Stored),
        stored_strata: !matches!(strata, Strata::One),
        stored_clusters: matches!(strata, Strata::Stored),
        keys,
        items,
        dimensions,
        overall,
    })?;
    log::debug!(
        "sums of {} respondents ready after {:?}",
        aggregates.units.iter().map(|u| u.respondents).sum::<u64>(),
        started.elapsed()
    );
    let units = &aggregates.units;

    // Strata, clusters and weights of the units.
    let mut notes = Vec::new();
    let (stratum_names, unit_stratum, factor_of_stratum, lonely_psu, mode) = match &strata {
        Strata::One => (
            vec!["all".to_string()],
            vec![0u32; units.len()],
            vec![1.0],
            LonelyPsu::Fail,
            WeightMode::None,
        ),
        Strata::Stored => {
            let mut first: HashMap<&Option<String>, i64> = HashMap::new();
            for u in units {
                let e = first.entry(&u.stratum).or_insert(u.first_id);
                *e = (*e).min(u.first_id);
            }
            let mut order: Vec<(&Option<String>, i64)> = first.into_iter().collect();
            order.sort_by_key(|(_, id)| *id);
            let index: HashMap<&Option<String>, u32> =
                order.iter().enumerate().map(|(k, (s, _))| (*s, k as u32)).collect();
            (
                order
                    .iter()
                    .map(|(s, _)| s.as_deref().unwrap_or_default().to_string())
                    .collect(),
                units.iter().map(|u| index[&u.stratum]).collect(),
                vec![1.0; order.len()],
                options.lonely_psu,
                WeightMode::Design,
            )
        }
        Strata::Frame { frame, key } => {
            let index: HashMap<&str, u32> = frame
                .iter()
                .enumerate()
                .map(|(k, s)| (s.stratum.as_str(), k as u32))
                .collect();
            let unit_stratum = units
                .iter()
                .map(|u| {
                    let name = match (u.source, key) {
                        (Source::Invited, _) => u.stratum.as_deref(),
                        (_, Some(k)) => u.keys[*k].map(|c| stratum_values[c as usize].as_str()),
                        (_, None) => None,
                    };
                    name.and_then(|n| index.get(n).copied())
                        .ok_or_else(|| stop("a response without a stratum of the frame"))
                })
                .collect::<Result<Vec<u32>, _>>()?;
            let mut respondents = vec![0u64; frame.len()];
            for (u, &h) in units.iter().zip(&unit_stratum) {
                respondents[h as usize] += u.respondents;
            }
            notes.extend(frame.iter().zip(&respondents).filter(|(_, &r)| r == 0).map(|(s, _)| {
                format!(
                    "stratum {} of the frame has no responses: its population ({}) is not represented",
                    s.stratum, s.population
                )
            }));
            (
                frame.iter().map(|s| s.stratum.clone()).collect(),
                unit_stratum,
                frame
                    .iter()
                    .zip(&respondents)
                    .map(|(s, &r)| s.population / r as f64)
                    .collect(),
                options.lonely_psu,
                WeightMode::Design,
            )
        }
    };
    let factor: Vec<f64> = unit_stratum.iter().map(|&h| factor_of_stratum[h as usize]).collect();
    let mut cluster_index: HashMap<(u32, &str), u32> = HashMap::new();
    let mut cluster_stratum = Vec::new();
    let n_by = by_questions.len();
    let spec_units: Vec<Unit> = units
        .iter()
        .enumerate()
        .map(|(k, u)| {
            let h = unit_stratum[k];
            let cluster = u.cluster.as_deref().map(|c| {
                let next = cluster_index.len() as u32;
                *cluster_index.entry((h, c)).or_insert_with(|| {
                    cluster_stratum.push(h);
                    next
                })
            });
            let answers: Vec<Option<u32>> = u.keys[..n_by].iter().map(|k| k.map(|k| k as u32)).collect();
            let f = factor[k];
            Unit {
                stratum: h,
                cluster,
                group: if n_by == 0 {
                    None
                } else {
                    Groups::code(&by_questions, &answers).map(|g| g as u16)
                },
                respondents: u.respondents,
                sum_d: u.sum_d * f,
                sum_d2: u.sum_d2 * f * f,
                min_d: u.min_d * f,
                max_d: u.max_d * f,
            }
        })
        .collect();
    let design = SufficientDesign::new(
        SufficientSpec {
            stratum_names,
            cluster_stratum,
            units: spec_units,
            lonely_psu,
        },
        mode,
    )?;
    let design = match &totals {
        Some(_) => {
            let raking_margins = margins
                .iter()
                .enumerate()
                .map(|(m, spec)| {
                    let column: Vec<Option<u32>> = units.iter().map(|u| u.keys[n_by + m].map(|c| c as u32)).collect();
                    spec.margin(&column, |k| units[k].respondents)
                })
                .collect::<Result<Vec<_>, _>>()?;
            design.rake(&raking_margins, options.weight_bounds, &RakeOptions::default())?
        }
        None => design,
    };
    notes.extend(design_notes(&design.lonely_strata(), options, &selection));

    // Moments of every variable per unit, and the missing answers.
    let composites: Vec<Vec<Moments>> = (0..=definition.dimensions.len())
        .map(|j| {
            units
                .iter()
                .zip(&factor)
                .map(|(u, &f)| {
                    let (n, s) = u.composites[j];
                    Moments {
                        n,
                        sd: s[0],
                        sd2: s[1],
                        sy: s[2],
                        sdy: s[3],
                        sdy2: s[4],
                        sd2y: s[5],
                        sd2y2: s[6],
                    }
                    .scaled(f)
                })
                .collect()
        })
        .collect();
    let version_slot: HashMap<i64, usize> = versions.iter().enumerate().map(|(k, (id, _))| (*id, k)).collect();
    let kinds = missing_kinds(definition, &item_ids, &versions);
    let mut score = vec![vec![MomentSums::default(); units.len()]; item_ids.len()];
    let mut top = score.clone();
    let mut missing: HashMap<(String, Option<u32>), MissingCounts> = HashMap::new();
    let n_items = item_ids.len();
    let mut shares: Vec<Vec<Vec<MomentSums>>> = shown
        .iter()
        .map(|q| vec![vec![MomentSums::default(); units.len()]; q.kind.options().len()])
        .collect();
    let n_groups = group_names.len();
    let mut chosen: Vec<Vec<u64>> = shown
        .iter()
        .map(|q| vec![0; (1 + n_groups) * q.kind.options().len()])
        .collect();
    for row in aggregates.items.iter().filter(|r| r.item >= n_items) {
        let q = row.item - n_items;
        let Some(k) = shown_keys[q]
            .get(&row.version_id)
            .and_then(|keys| keys.get(row.code as usize).copied().flatten())
        else {
            continue;
        };
        let (k, f) = (k as usize, factor[row.unit]);
        let (sd, sd2) = (row.sum_d * f, row.sum_d2 * f * f);
        for (option, acc) in shares[q].iter_mut().enumerate() {
            acc[row.unit].add_constant(row.respondents, sd, sd2, if option == k { 1.0 } else { 0.0 });
        }
        let width = shown[q].kind.options().len();
        chosen[q][k] += row.respondents;
        if let Some(g) = design.units()[row.unit].group {
            chosen[q][(1 + g as usize) * width + k] += row.respondents;
        }
    }
    for row in aggregates.items.iter().filter(|r| r.item < n_items) {
        let v = version_slot[&row.version_id];
        let Some(coding) = maps[v].items[row.item].as_ref() else {
            continue;
        };
        let f = factor[row.unit];
        let (sd, sd2) = (row.sum_d * f, row.sum_d2 * f * f);
        let code = row.code as usize;
        if let Some(y) = coding.score_by_code.get(code).copied().flatten() {
            score[row.item][row.unit].add_constant(row.respondents, sd, sd2, y);
        }
        if let Some(t) = coding.top_by_code.get(code).copied().flatten() {
            top[row.item][row.unit].add_constant(row.respondents, sd, sd2, f64::from(u8::from(t)));
        }
        if let Some(kind) = kinds[v][row.item].get(code).copied().flatten() {
            let group = design.units()[row.unit].group;
            for domain in std::iter::once(None).chain(group.map(|g| Some(u32::from(g)))) {
                let counts = missing.entry((item_ids[row.item].to_string(), domain)).or_default();
                match kind {
                    Missing::DontKnow => counts.n_dont_know += row.respondents,
                    Missing::NotApplicable => counts.n_not_applicable += row.respondents,
                }
            }
        }
    }
    let score: Vec<Vec<Moments>> = score
        .iter()
        .map(|s| s.iter().map(MomentSums::value).collect())
        .collect();
    let top: Vec<Vec<Moments>> = top.iter().map(|s| s.iter().map(MomentSums::value).collect()).collect();

    // The figures, in the row path's order: per domain the overall, the
    // dimensions, then the items.
    let estimate_options = EstimateOptions {
        level: options.level,
        min_cell: options.min_cell,
        threads: 2,
    };
    let dims = definition.dimensions.len();
    let mut variables: Vec<(&[Moments], Kind)> = vec![(&composites[dims], Kind::Mean)];
    variables.extend(composites[..dims].iter().map(|c| (c.as_slice(), Kind::Mean)));
    for (s, t) in score.iter().zip(&top) {
        variables.push((s, Kind::Mean));
        variables.push((t, Kind::Proportion));
        variables.push((t, Kind::Total));
    }
    let figures = design.estimate(&variables, n_groups, &estimate_options)?;
    let mut rows = Vec::with_capacity((1 + n_groups) * (1 + dims + item_ids.len()));
    let domains = std::iter::once(None).chain((0..n_groups as u32).map(Some));
    for (d, group) in domains.enumerate() {
        let row = |level: Level, id: &str, j: usize, items: bool| stats::Row {
            level,
            id: id.to_string(),
            group,
            score: figures[j][d].clone(),
            top_box: items.then(|| figures[j + 1][d].clone()),
            top_box_total: items.then(|| figures[j + 2][d].clone()),
        };
        rows.push(row(Level::Overall, "overall", 0, false));
        for (k, dim) in definition.dimensions.iter().enumerate() {
            rows.push(row(Level::Dimension, &dim.id.to_string(), 1 + k, false));
        }
        for (k, id) in item_ids.iter().enumerate() {
            rows.push(row(Level::Item, id, 1 + dims + 3 * k, true));
        }
    }
    let population = design.population_totals(n_groups, &estimate_options)?;
    let mut option_shares = Vec::new();
    for (q_index, (q, per_option)) in shown.iter().zip(&shares).enumerate() {
        let moments: Vec<Vec<Moments>> = per_option
            .iter()
            .map(|acc| acc.iter().map(MomentSums::value).collect())
            .collect();
        let variables: Vec<(&[Moments], Kind)> = moments.iter().map(|m| (m.as_slice(), Kind::Share)).collect();
        let figures = design.estimate(&variables, n_groups, &estimate_options)?;
        let width = per_option.len();
        for d in 0..=n_groups {
            for (option, by_domain) in figures.iter().enumerate() {
                option_shares.push(stats::OptionShare {
                    id: q.id.to_string(),
                    group: (d > 0).then(|| (d - 1) as u32),
                    option,
                    count: chosen[q_index][d * width + option],
                    share: by_domain[d].clone(),
                });
            }
        }
    }
    log::debug!("{} estimates after {:?}", rows.len(), started.elapsed());
    let group_name = |g: Option<u32>| -> Option<String> {
        options.by.as_ref()?;
        Some(group_names[g? as usize].clone())
    };
    let distributions = options.distributions.then(|| {
        distribution_rows(
            &option_shares,
            |id, k| {
                let q = definition.question(id).expect("a question of the definition");
                let o = &q.kind.options()[k];
                (o.value.to_string(), o.missing)
            },
            group_name,
        )
    });
    let (rows, population) = publish(
        &rows,
        &population,
        &missing,
        options.by.is_some().then_some(group_names.as_slice()),
    );
    Ok(IndexReport {
        survey: slug.to_string(),
        wave,
        definition: DefinitionUsed {
            version: definition.version,
            versions_answered: versions.iter().map(|(_, s)| s.version).collect(),
        },
        by: options.by.clone(),
        selection,
        weights: options.weights,
        design_weights: match strata {
            Strata::One => DesignWeights::None,
            Strata::Stored => DesignWeights::Stored,
            Strata::Frame { .. } => DesignWeights::Frame,
        },
        level: options.level,
        variance: "linearized",
        bootstrap: None,
        lonely_psu: options.lonely_psu,
        raking: design.raking_diagnostics().cloned(),
        notes,
        rows,
        population,
        distributions,
    })
}

/// The kind of missing answer of each raw code of an item.
type CodeKinds = Vec<Option<Missing>>;

/// Per version and item: the kind of missing answer of each raw code
/// (through the definition's option of the same value), as
/// `report::missing_counts` counts them.
fn missing_kinds(definition: &Survey, item_ids: &[&str], versions: &[(i64, &Survey)]) -> Vec<Vec<CodeKinds>> {
    versions
        .iter()
        .map(|(_, version)| {
            item_ids
                .iter()
                .map(|id| {
                    let (Some(question), Some(pos)) = (definition.question(id), version.question_index(id)) else {
                        return Vec::new();
                    };
                    let target = question.kind.options();
                    std::iter::once(None)
                        .chain(
                            version.questions[pos]
                                .kind
                                .options()
                                .iter()
                                .map(|o| target.iter().find(|t| t.value == o.value).and_then(|t| t.missing)),
                        )
                        .collect()
                })
                .collect()
        })
        .collect()
}
