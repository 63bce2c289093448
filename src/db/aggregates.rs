//! A wave's sufficient statistics, added up by PostgreSQL (docs/statistics.md
//! §4.6): instead of a million rows, sums per unit of the design
//! (stratum, cluster, and the answers that make the domains and the
//! raking cells) and, per unit, per item and answer code.
//!
//! Two queries over the same respondents, run at once on two connections:
//!
//! * units: per unit the respondents, Σd, Σd², the smallest and largest d,
//!   the first id (strata are numbered in the order the row path meets
//!   them), and for every composite (dimension and overall scores,
//!   computed per respondent from `get_byte(choice_codes, k)` with each
//!   version's option scores) its count and Σd, Σd², Σy, Σdy, Σdy², Σd²y,
//!   Σd²y² over the respondents who have one;
//! * items: per unit, version, item and answer code the respondents, Σd
//!   and Σd². An item's score and top-two box are functions of its code,
//!   so every sum over them follows exactly.
//!
//! The SQL is written from numbers only (positions, codes, scores as
//! float8 literals that read back to the same double); the survey, wave,
//! sources, batches and excluded ids are bound parameters. It is asked for
//! (`indices --computation sums`), not the default: PostgreSQL's hash
//! aggregation of a million respondents × 30 items takes about 22 s where
//! reading the rows ([`super::analysis`]) takes 1.6 s. SQLite always reads
//! the rows: it runs in this process, so there is nothing to save on the
//! way.

use super::connection::AnyConnection;
use super::{Database, DbError};
use crate::fieldwork::Source;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Text};
use std::collections::HashMap;
use std::fmt::Write;

/// Which responses of a wave, as `Database::analysis_columns` takes them.
#[derive(Debug, Clone, Copy)]
pub struct WaveFilter<'a> {
    pub slug: &'a str,
    pub wave: i32,
    /// `None`: every source.
    pub sources: Option<&'a [Source]>,
    /// `None`: every import batch.
    pub import_batches: Option<&'a [i64]>,
    /// Responses left out (data-quality exclusions).
    pub excluded: &'a [i64],
}

/// A small integer per respondent from its answer to one question: per
/// stored version (row id) the question's position in the codes and the
/// key of each raw code (index 0: no answer). No entry, or `None`, is NULL.
#[derive(Debug, Clone, Default)]
pub struct AnswerKey {
    pub per_version: Vec<(i64, usize, Vec<Option<i32>>)>,
}

/// Where a key's question sits in one version, and the key of each code.
type KeyCoding<'k> = (usize, &'k Vec<Option<i32>>);

/// A composite score per respondent: per version, the terms of its
/// weighted mean (position, item weight, score by raw code).
pub type CompositeTerms = Vec<(i64, Vec<(usize, f64, Vec<Option<f64>>)>)>;

/// What to add up.
#[derive(Debug, Clone)]
pub struct AggregateQuery<'a> {
    pub filter: WaveFilter<'a>,
    /// The stored weights as d, or 1 for every respondent.
    pub stored_weights: bool,
    /// Read the stored strata and clusters; else one stratum, and every
    /// respondent its own PSU.
    pub stored_strata: bool,
    pub stored_clusters: bool,
    /// Answers that make units (domains, raking cells, frame strata).
    pub keys: Vec<AnswerKey>,
    /// Per item: per version its position.
    pub items: Vec<Vec<(i64, usize)>>,
    /// Dimension scores: the weighted mean of the item scores of each.
    pub dimensions: Vec<CompositeTerms>,
    /// The overall score: the weighted mean of these dimensions' scores.
    pub overall: Vec<(usize, f64)>,
}

/// Sums over the respondents of one unit.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSums {
    pub source: Source,
    pub stratum: Option<String>,
    pub cluster: Option<String>,
    pub keys: Vec<Option<i32>>,
    pub respondents: u64,
    pub sum_d: f64,
    pub sum_d2: f64,
    pub min_d: f64,
    pub max_d: f64,
    pub first_id: i64,
    /// Per composite (dimensions, then overall): the respondents with a
    /// value and [Σd, Σd², Σy, Σdy, Σdy², Σd²y, Σd²y²] over them.
    pub composites: Vec<(u64, [f64; 7])>,
}

/// Sums over the respondents of one unit who gave one answer code to one
/// item (in one version's coding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemSums {
    /// Index into [`Aggregates::units`].
    pub unit: usize,
    pub version_id: i64,
    pub item: usize,
    pub code: u8,
    pub respondents: u64,
    pub sum_d: f64,
    pub sum_d2: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    pub units: Vec<UnitSums>,
    pub items: Vec<ItemSums>,
}

/// What makes a unit: source, stratum, cluster and the answer keys.
type UnitKey = (i32, Option<String>, Option<String>, Vec<Option<i32>>);

const SOURCES: [Source; 3] = [Source::Web, Source::Invited, Source::Import];

#[derive(QueryableByName)]
struct UnitRow {
    #[diesel(sql_type = Integer)]
    source: i32,
    #[diesel(sql_type = Nullable<Text>)]
    stratum: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cluster: Option<String>,
    #[diesel(sql_type = Array<Nullable<Integer>>)]
    keys: Vec<Option<i32>>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Double)]
    sum_d: f64,
    #[diesel(sql_type = Double)]
    sum_d2: f64,
    #[diesel(sql_type = Double)]
    min_d: f64,
    #[diesel(sql_type = Double)]
    max_d: f64,
    #[diesel(sql_type = BigInt)]
    first_id: i64,
    #[diesel(sql_type = Array<BigInt>)]
    counts: Vec<i64>,
    #[diesel(sql_type = Array<Nullable<Double>>)]
    sums: Vec<Option<f64>>,
}

#[derive(QueryableByName)]
struct ItemRow {
    #[diesel(sql_type = Integer)]
    source: i32,
    #[diesel(sql_type = Nullable<Text>)]
    stratum: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cluster: Option<String>,
    #[diesel(sql_type = Array<Nullable<Integer>>)]
    keys: Vec<Option<i32>>,
    #[diesel(sql_type = BigInt)]
    version_id: i64,
    #[diesel(sql_type = Integer)]
    item: i32,
    #[diesel(sql_type = Integer)]
    code: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Double)]
    sum_d: f64,
    #[diesel(sql_type = Double)]
    sum_d2: f64,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = BigInt)]
    version_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A double as SQL that reads back to the same value.
fn float(x: f64) -> String {
    format!("'{x:?}'::float8")
}

/// `CASE survey_version_id WHEN v THEN <expr> … END` (NULL for other
/// versions); one version needs no CASE.
fn per_version<T>(versions: &[(i64, T)], expr: impl Fn(&T) -> String) -> String {
    match versions {
        [] => "NULL".into(),
        [(_, only)] => expr(only),
        _ => {
            let mut s = String::from("CASE survey_version_id");
            for (v, t) in versions {
                let _ = write!(s, " WHEN {v} THEN {}", expr(t));
            }
            s.push_str(" END");
            s
        }
    }
}

/// `CASE get_byte(choice_codes, pos) WHEN code THEN value … END`.
fn by_code<T>(pos: usize, values: &[Option<T>], value: impl Fn(&T) -> String) -> String {
    let mut s = format!("CASE get_byte(choice_codes, {pos})");
    let mut any = false;
    for (code, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(s, " WHEN {code} THEN {}", value(v));
            any = true;
        }
    }
    if !any {
        return "NULL".into();
    }
    s.push_str(" END");
    s
}

/// The weighted mean of some terms, as `stats::composites_coded` and
/// `weighted_row_mean` compute it: missing terms skipped, term by term
/// from the left, NULL when none is present.
fn weighted_mean(terms: &[(String, f64)]) -> String {
    if terms.is_empty() {
        return "NULL::float8".into();
    }
    let mut num = String::from("'0'::float8");
    let mut den = String::from("'0'::float8");
    for (value, a) in terms {
        num = format!("({num} + COALESCE({} * ({value}), 0))", float(*a));
        den = format!("({den} + CASE WHEN ({value}) IS NULL THEN 0 ELSE {} END)", float(*a));
    }
    format!("({num} / NULLIF({den}, 0))")
}

impl AggregateQuery<'_> {
    const FILTER: &'static str = "survey_slug = $1 AND wave = $2 \
         AND (cardinality($3::text[]) = 0 OR source = ANY($3)) \
         AND (cardinality($4::bigint[]) = 0 OR import_batch_id = ANY($4)) \
         AND id <> ALL($5)";

    /// The respondents with their unit's columns, d, and (with
    /// `composites`) every composite score: `r`.
    fn respondents(&self, composites: bool) -> String {
        let weight = if self.stored_weights { "weight" } else { "'1'::float8" };
        let stratum = if self.stored_strata { "stratum" } else { "NULL::text" };
        let cluster = if self.stored_clusters { "cluster" } else { "NULL::text" };
        let mut cols = format!(
            "id, survey_version_id, choice_codes, \
             CASE source WHEN 'web' THEN 0 WHEN 'invited' THEN 1 ELSE 2 END AS src, \
             {weight} AS d, {stratum} AS stratum, {cluster} AS cluster"
        );
        for (j, key) in self.keys.iter().enumerate() {
            let versions: Vec<(i64, KeyCoding<'_>)> = key.per_version.iter().map(|(v, p, m)| (*v, (*p, m))).collect();
            let expr = per_version(&versions, |(pos, map)| by_code(*pos, map, |k| k.to_string()));
            let _ = write!(cols, ", ({expr})::int4 AS k{j}");
        }
        if composites {
            for (j, dimension) in self.dimensions.iter().enumerate() {
                let expr = per_version(dimension, |terms| {
                    let terms: Vec<(String, f64)> = terms
                        .iter()
                        .map(|(pos, a, scores)| (by_code(*pos, scores, |s| float(*s)), *a))
                        .collect();
                    weighted_mean(&terms)
                });
                let _ = write!(cols, ", ({expr})::float8 AS c{j}");
            }
        }
        // OFFSET 0 keeps PostgreSQL from pulling the subqueries up into
        // the aggregates, which would compute every score again in each
        // sum and each reference of the overall score (428 s instead of
        // seconds on a million respondents).
        let inner = format!("SELECT {cols} FROM responses WHERE {} OFFSET 0", Self::FILTER);
        if !composites {
            return inner;
        }
        let overall: Vec<(String, f64)> = self.overall.iter().map(|(d, b)| (format!("c{d}"), *b)).collect();
        format!(
            "SELECT q.*, {} AS c{} FROM ({inner}) q OFFSET 0",
            weighted_mean(&overall),
            self.dimensions.len()
        )
    }

    fn key_columns(&self) -> (String, String) {
        let keys: Vec<String> = (0..self.keys.len()).map(|j| format!("k{j}")).collect();
        let array = format!("ARRAY[{}]::int4[]", keys.join(", "));
        let mut group = String::from("src, stratum, cluster");
        for k in &keys {
            group.push_str(", ");
            group.push_str(k);
        }
        (array, group)
    }

    fn units_sql(&self) -> String {
        let (array, group) = self.key_columns();
        let mut counts = Vec::new();
        let mut sums = Vec::new();
        for j in 0..=self.dimensions.len() {
            let c = format!("c{j}");
            let when = format!("FILTER (WHERE {c} IS NOT NULL)");
            counts.push(format!("count({c})"));
            for part in [
                "d".to_string(),
                "d * d".to_string(),
                c.clone(),
                format!("d * {c}"),
                format!("d * {c} * {c}"),
                format!("d * d * {c}"),
                format!("d * d * {c} * {c}"),
            ] {
                sums.push(format!("sum({part}) {when}"));
            }
        }
        format!(
            "SELECT src AS source, stratum, cluster, {array} AS keys, count(*) AS n, \
             sum(d) AS sum_d, sum(d * d) AS sum_d2, min(d) AS min_d, max(d) AS max_d, min(id) AS first_id, \
             ARRAY[{}]::int8[] AS counts, ARRAY[{}]::float8[] AS sums \
             FROM ({}) r GROUP BY {group}",
            counts.join(", "),
            sums.join(", "),
            self.respondents(true)
        )
    }

    fn items_sql(&self) -> String {
        let (array, group) = self.key_columns();
        let mut values = Vec::new();
        for (j, placements) in self.items.iter().enumerate() {
            let expr = per_version(placements, |pos| format!("get_byte(choice_codes, {pos})"));
            values.push(format!("({j}, {expr})"));
        }
        if values.is_empty() {
            values.push("(0, NULL::int4)".into());
        }
        format!(
            "SELECT src AS source, stratum, cluster, {array} AS keys, survey_version_id AS version_id, \
             x.item, x.code, count(*) AS n, sum(d) AS sum_d, sum(d * d) AS sum_d2 \
             FROM ({}) r CROSS JOIN LATERAL (VALUES {}) AS x(item, code) \
             WHERE x.code > 0 \
             GROUP BY {group}, survey_version_id, x.item, x.code",
            self.respondents(false),
            values.join(", ")
        )
    }
}

fn filter_binds(filter: &WaveFilter<'_>) -> (Vec<String>, Vec<i64>, Vec<i64>) {
    (
        filter
            .sources
            .map(|s| s.iter().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default(),
        filter.import_batches.map(<[i64]>::to_vec).unwrap_or_default(),
        filter.excluded.to_vec(),
    )
}

/// The queries are PostgreSQL's (arrays, `get_byte`, `FILTER`): on SQLite
/// the analysis reads the rows instead, and never asks.
fn not_here() -> DbError {
    DbError::Query(diesel::result::Error::QueryBuilderError(
        "sufficient statistics are added up by PostgreSQL only".into(),
    ))
}

/// Hash aggregation of the item sums keeps tens of thousands of groups;
/// PostgreSQL's default 4 MB would spill them to disk.
const WORK_MEM: &str = "SET LOCAL work_mem = '64MB'";

impl Database {
    /// Whether this database adds up sufficient statistics itself.
    pub fn aggregates_in_database(&self) -> bool {
        self.backend() == super::Backend::Postgres
    }

    /// The stored versions the wave's respondents (as `filter` chooses
    /// them) answered, with how many answered each. PostgreSQL only.
    pub fn versions_answered(&self, filter: &WaveFilter<'_>) -> Result<Vec<(i64, u64)>, DbError> {
        let (sources, batches, excluded) = filter_binds(filter);
        let sql = format!(
            "SELECT survey_version_id AS version_id, count(*) AS n FROM responses WHERE {} GROUP BY 1",
            AggregateQuery::FILTER
        );
        let mut conn = self.conn()?;
        let rows: Vec<VersionRow> = match &mut *conn {
            AnyConnection::Postgres(c) => diesel::sql_query(&sql)
                .bind::<Text, _>(filter.slug)
                .bind::<Integer, _>(filter.wave)
                .bind::<Array<Text>, _>(&sources)
                .bind::<Array<BigInt>, _>(&batches)
                .bind::<Array<BigInt>, _>(&excluded)
                .load(c)?,
            #[allow(unreachable_patterns)]
            _ => return Err(not_here()),
        };
        Ok(rows.into_iter().map(|r| (r.version_id, r.n as u64)).collect())
    }

    /// The rows of one aggregate query, with more memory for its hash
    /// aggregation than the default.
    fn aggregate_rows<T>(&self, filter: &WaveFilter<'_>, sql: &str) -> Result<Vec<T>, DbError>
    where
        T: QueryableByName<diesel::pg::Pg> + 'static,
    {
        let (sources, batches, excluded) = filter_binds(filter);
        log::trace!("{sql}");
        let mut conn = self.conn()?;
        match &mut *conn {
            AnyConnection::Postgres(c) => Ok(c.transaction(|c| {
                diesel::sql_query(WORK_MEM).execute(c)?;
                diesel::sql_query(sql)
                    .bind::<Text, _>(filter.slug)
                    .bind::<Integer, _>(filter.wave)
                    .bind::<Array<Text>, _>(&sources)
                    .bind::<Array<BigInt>, _>(&batches)
                    .bind::<Array<BigInt>, _>(&excluded)
                    .load(c)
            })?),
            #[allow(unreachable_patterns)]
            _ => Err(not_here()),
        }
    }

    /// The wave's sums per unit and per (unit, item, code), added up by
    /// PostgreSQL: two queries at once on two connections.
    pub fn aggregates(&self, query: &AggregateQuery<'_>) -> Result<Aggregates, DbError> {
        let started = std::time::Instant::now();
        let (units, items): (Result<Vec<UnitRow>, DbError>, Result<Vec<ItemRow>, DbError>) =
            std::thread::scope(|scope| {
                let items = scope.spawn(|| self.aggregate_rows(&query.filter, &query.items_sql()));
                (
                    self.aggregate_rows(&query.filter, &query.units_sql()),
                    items.join().expect("aggregate thread"),
                )
            });
        let (units, items) = (units?, items?);
        log::debug!(
            "PostgreSQL added up {} units and {} item sums in {:?}",
            units.len(),
            items.len(),
            started.elapsed()
        );
        let composites = query.dimensions.len() + 1;
        let mut index: HashMap<UnitKey, usize> = HashMap::new();
        let units: Vec<UnitSums> = units
            .into_iter()
            .enumerate()
            .map(|(k, r)| {
                index.insert((r.source, r.stratum.clone(), r.cluster.clone(), r.keys.clone()), k);
                UnitSums {
                    source: SOURCES[r.source as usize],
                    stratum: r.stratum,
                    cluster: r.cluster,
                    keys: r.keys,
                    respondents: r.n as u64,
                    sum_d: r.sum_d,
                    sum_d2: r.sum_d2,
                    min_d: r.min_d,
                    max_d: r.max_d,
                    first_id: r.first_id,
                    composites: (0..composites)
                        .map(|j| {
                            let mut s = [0.0; 7];
                            for (t, x) in s.iter_mut().enumerate() {
                                *x = r.sums[j * 7 + t].unwrap_or(0.0);
                            }
                            (r.counts[j] as u64, s)
                        })
                        .collect(),
                }
            })
            .collect();
        let items = items
            .into_iter()
            .map(|r| {
                let unit = *index
                    .get(&(r.source, r.stratum, r.cluster, r.keys))
                    .ok_or_else(|| DbError::Query(diesel::result::Error::NotFound))?;
                Ok(ItemSums {
                    unit,
                    version_id: r.version_id,
                    item: r.item as usize,
                    code: r.code as u8,
                    respondents: r.n as u64,
                    sum_d: r.sum_d,
                    sum_d2: r.sum_d2,
                })
            })
            .collect::<Result<_, DbError>>()?;
        Ok(Aggregates { units, items })
    }
}
