//! Reading a wave for the index engine: one row per respondent into
//! compact columns, read in two halves on two connections at once; and
//! the light per-response facts the data-quality flags are judged on.

use super::connection::load_streaming;
use super::responses::RANDOM_IDS_FROM;
use super::schema::{response_flags, responses};
use super::{Database, DbError};
use crate::fieldwork::{Flag, Flags, Source};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// What the quality flags of one response are judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseFacts {
    pub id: i64,
    pub source: Source,
    /// Invited: the invitation's stratum; import: `_stratum`.
    pub stratum: Option<String>,
    pub duration_seconds: Option<u32>,
    /// Flags stored with the response (not the derived speeder flag).
    pub stored_flags: Flags,
}

/// The source of each row as a small number (an index into [`SOURCES`]):
/// a million rows need no string each.
const SOURCES: [Source; 3] = [Source::Web, Source::Invited, Source::Import];

fn source_number() -> diesel::expression::SqlLiteral<diesel::sql_types::Integer> {
    diesel::dsl::sql::<diesel::sql_types::Integer>("CASE source WHEN 'web' THEN 0 WHEN 'invited' THEN 1 ELSE 2 END")
}

fn source_of(text: &str) -> Result<Source, DbError> {
    text.parse::<Source>()
        .map_err(|e| DbError::Query(diesel::result::Error::DeserializationError(e.to_string().into())))
}

/// Respondents of one survey wave in columns, as the index engine wants
/// them. Strata and clusters are interned to small integers.
#[derive(Debug, Default)]
pub struct AnalysisColumns {
    /// Stored version row id of each respondent.
    pub version_ids: Vec<i64>,
    /// How each respondent came in.
    pub sources: Vec<Source>,
    pub weights: Vec<f64>,
    /// Index into `strata`; respondents without a stratum share one.
    pub stratum: Vec<u32>,
    pub strata: Vec<String>,
    /// PSU of each respondent: its cluster, or the respondent itself when
    /// it has none (web responses). Numbered from 0, nested in strata.
    pub psu: Vec<u32>,
    pub psu_count: u32,
    /// `choice_codes` of every respondent, concatenated; `code_offsets[i]`
    /// is where respondent i's codes start (their length is the number of
    /// questions of its version).
    pub codes: Vec<u8>,
    pub code_offsets: Vec<usize>,
    own_psus: u32,
}

/// PSU numbering while reading: clusters first, then own PSUs after them.
#[derive(Debug, Clone, Copy)]
enum PsuRef {
    Cluster(u32),
    Own(u32),
}

impl AnalysisColumns {
    pub fn len(&self) -> usize {
        self.weights.len()
    }
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// What one reader thread collected, with its own interning.
#[derive(Default)]
struct PartialColumns {
    version_ids: Vec<i64>,
    sources: Vec<Source>,
    weights: Vec<f64>,
    strata: Vec<Option<String>>,
    stratum: Vec<u32>,
    clusters: Vec<(u32, String)>,
    cluster: Vec<Option<u32>>,
    own_index: Vec<u32>,
    own_psus: u32,
    codes: Vec<u8>,
    code_offsets: Vec<usize>,
    stratum_lookup: HashMap<Option<String>, u32>,
    cluster_lookup: HashMap<u32, HashMap<String, u32>>,
}

impl PartialColumns {
    fn push(
        &mut self,
        version_id: i64,
        source: Source,
        weight: f64,
        stratum: Option<String>,
        cluster: Option<String>,
        codes: &[u8],
    ) {
        let s = match self.stratum_lookup.get(&stratum) {
            Some(&s) => s,
            None => {
                let next = self.strata.len() as u32;
                self.strata.push(stratum.clone());
                self.stratum_lookup.insert(stratum, next);
                next
            }
        };
        match cluster {
            Some(c) => {
                // Look up by reference: a million rows, a handful of clusters.
                let per_stratum = self.cluster_lookup.entry(s).or_default();
                let id = match per_stratum.get(c.as_str()) {
                    Some(&id) => id,
                    None => {
                        let next = self.clusters.len() as u32;
                        self.clusters.push((s, c.clone()));
                        per_stratum.insert(c, next);
                        next
                    }
                };
                self.cluster.push(Some(id));
                self.own_index.push(0);
            }
            None => {
                self.cluster.push(None);
                self.own_index.push(self.own_psus);
                self.own_psus += 1;
            }
        }
        self.version_ids.push(version_id);
        self.sources.push(source);
        self.weights.push(weight);
        self.stratum.push(s);
        self.code_offsets.push(self.codes.len());
        self.codes.extend_from_slice(codes);
    }
}

impl Database {
    /// The responses of a wave that data-quality flags and fieldwork
    /// figures are about: every timed, invited or flagged one. Imported
    /// interviews without a flag are not read, so a wave of a million of
    /// them costs nothing here.
    pub fn response_facts(&self, slug: &str, wave: i32) -> Result<Vec<ResponseFacts>, DbError> {
        let mut conn = self.conn()?;
        let rows: Vec<(i64, String, Option<String>, Option<i32>)> = responses::table
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .filter(
                responses::duration_seconds
                    .is_not_null()
                    .or(responses::source.eq(Source::Invited.as_str()))
                    .or(responses::id.eq_any(response_flags::table.select(response_flags::response_id))),
            )
            .select((
                responses::id,
                responses::source,
                responses::stratum,
                responses::duration_seconds,
            ))
            .load(&mut conn)?;
        let flagged: Vec<(i64, String)> = response_flags::table
            .inner_join(responses::table)
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .select((response_flags::response_id, response_flags::flag))
            .load(&mut conn)?;
        let mut flags: HashMap<i64, Flags> = HashMap::new();
        for (id, flag) in flagged {
            if let Ok(flag) = flag.parse::<Flag>() {
                let entry = flags.entry(id).or_default();
                *entry = entry.with(flag);
            }
        }
        rows.into_iter()
            .map(|(id, source, stratum, duration)| {
                Ok(ResponseFacts {
                    id,
                    source: source_of(&source)?,
                    stratum,
                    duration_seconds: duration.and_then(|d| u32::try_from(d).ok()),
                    stored_flags: flags.get(&id).copied().unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The responses of `slug` in `wave` that came in by one of `sources`,
    /// leaving out the ids in `excluded`, in columns. Reads the compact
    /// choice codes, never the long-format rows, and reads two halves of
    /// the id range on two connections at once (WAL lets readers share).
    pub fn analysis_columns(
        &self,
        slug: &str,
        wave: i32,
        sources: Option<&[Source]>,
        import_batches: Option<&[i64]>,
        excluded: &HashSet<i64>,
    ) -> Result<AnalysisColumns, DbError> {
        let source_names: Option<Vec<&str>> = sources.map(|s| s.iter().map(|s| s.as_str()).collect());
        // Without a choice of sources the query stays on the (survey, wave,
        // id) index: its min and max come straight from the index, and the
        // rows in id order.
        // A macro, not a closure: each backend's streaming read boxes the
        // query for its own backend.
        macro_rules! in_wave {
            () => {{
                let query = responses::table
                    .filter(responses::survey_slug.eq(slug))
                    .filter(responses::wave.eq(wave))
                    .into_boxed();
                let query = match &source_names {
                    Some(names) => query.filter(responses::source.eq_any(names.clone())),
                    None => query,
                };
                match import_batches {
                    Some(ids) => query.filter(responses::import_batch_id.eq_any(ids.to_vec())),
                    None => query,
                }
            }};
        }
        // Two queries, not one with both: each alone is a single index lookup.
        let mut conn = self.conn()?;
        let low: Option<i64> = in_wave!().select(diesel::dsl::min(responses::id)).first(&mut conn)?;
        let high: Option<i64> = in_wave!().select(diesel::dsl::max(responses::id)).first(&mut conn)?;
        drop(conn);
        let (Some(low), Some(high)) = (low, high) else {
            return Ok(AnalysisColumns::default());
        };
        // Invited responses have random ids far above the others: when a
        // wave has both kinds, each reader takes one kind.
        let middle = if low < RANDOM_IDS_FROM && high >= RANDOM_IDS_FROM {
            RANDOM_IDS_FROM - 1
        } else {
            low + (high - low) / 2
        };
        let read = |from: i64, to: i64| -> Result<PartialColumns, DbError> {
            type Row = (i64, i64, i32, f64, Option<String>, Option<String>, Vec<u8>);
            let mut conn = self.conn()?;
            let rows = load_streaming!(
                in_wave!()
                    .filter(responses::id.between(from, to))
                    .order(responses::id)
                    .select((
                        responses::id,
                        responses::survey_version_id,
                        source_number(),
                        responses::weight,
                        responses::stratum,
                        responses::cluster,
                        responses::choice_codes,
                    )),
                &mut *conn,
                Row
            );
            let mut part = PartialColumns::default();
            for row in rows {
                let (id, version_id, source, weight, stratum, cluster, codes) = row?;
                if excluded.contains(&id) {
                    continue;
                }
                part.push(version_id, SOURCES[source as usize], weight, stratum, cluster, &codes);
            }
            Ok(part)
        };
        let started = std::time::Instant::now();
        let (first, second) = std::thread::scope(|scope| {
            let second = scope.spawn(|| read(middle + 1, high));
            (read(low, middle), second.join().expect("reader thread"))
        });
        log::debug!("read the rows of {slug} wave {wave} in {:?}", started.elapsed());
        let mut out = AnalysisColumns::default();
        let mut strata: HashMap<Option<String>, u32> = HashMap::new();
        let mut clusters: HashMap<(u32, String), u32> = HashMap::new();
        let mut psu_refs: Vec<PsuRef> = Vec::new();
        for part in [first?, second?] {
            let stratum_ids: Vec<u32> = part
                .strata
                .iter()
                .map(|name| {
                    let next = strata.len() as u32;
                    *strata.entry(name.clone()).or_insert_with(|| {
                        out.strata.push(name.clone().unwrap_or_default());
                        next
                    })
                })
                .collect();
            let cluster_ids: Vec<u32> = part
                .clusters
                .iter()
                .map(|(s, name)| {
                    let next = clusters.len() as u32;
                    *clusters.entry((stratum_ids[*s as usize], name.clone())).or_insert(next)
                })
                .collect();
            let own_psu_base = out.own_psus;
            for i in 0..part.weights.len() {
                out.stratum.push(stratum_ids[part.stratum[i] as usize]);
                psu_refs.push(match part.cluster[i] {
                    Some(c) => PsuRef::Cluster(cluster_ids[c as usize]),
                    None => PsuRef::Own(own_psu_base + part.own_index[i]),
                });
            }
            out.own_psus += part.own_psus;
            out.version_ids.extend_from_slice(&part.version_ids);
            out.sources.extend_from_slice(&part.sources);
            out.weights.extend_from_slice(&part.weights);
            let base = out.codes.len();
            out.code_offsets.extend(part.code_offsets.iter().map(|o| o + base));
            out.codes.extend_from_slice(&part.codes);
        }
        // Clusters are numbered first, respondents without one after them.
        let cluster_count = clusters.len() as u32;
        out.psu = psu_refs
            .into_iter()
            .map(|r| match r {
                PsuRef::Cluster(c) => c,
                PsuRef::Own(k) => cluster_count + k,
            })
            .collect();
        out.psu_count = cluster_count + out.own_psus;
        log::debug!("columns of {slug} wave {wave} ready after {:?}", started.elapsed());
        Ok(out)
    }
}
