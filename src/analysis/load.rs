//! Loading a wave for analysis: which responses (sources, exclusions by
//! data-quality flag), in columns, with each respondent's version.

use super::options::{AnalysisError, IndexOptions};
use crate::db::{AnalysisColumns, Database, ImportBatch, ResponseFacts};
use crate::fieldwork::quality::{is_speeder, median_seconds};
use crate::fieldwork::{Flag, Flags, Source};
use crate::registry::SurveyRegistry;
use crate::survey::{QuestionKind, Survey};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Which responses an analysis used, and which it left out.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Selection {
    /// The sources whose responses were used.
    pub sources: Vec<Source>,
    /// Responses of the wave from other sources, left out.
    pub left_out: BTreeMap<Source, u64>,
    /// Responses left out for their data-quality flags (`--exclude-flagged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Exclusions>,
    /// The import batches whose responses were used (imported interviews).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<BatchUsed>,
}

/// An import batch an analysis used.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchUsed {
    pub id: i64,
    pub name: String,
    /// Responses in the batch.
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exclusions {
    pub flags: Vec<Flag>,
    /// Respondents left out (one with two flags counts once).
    pub respondents: u64,
    /// Respondents of the used sources carrying each flag asked for.
    pub by_flag: BTreeMap<Flag, u64>,
}

/// The sources used when none are asked for: the wave's probability
/// sample. Imported interviews if the wave holds any (an interview wave is
/// analysed on its own design), else invited responses, else the open link
/// (a wave with nothing else).
pub fn default_sources(present: &[Source]) -> Vec<Source> {
    for preferred in [Source::Import, Source::Invited] {
        if present.contains(&preferred) {
            return vec![preferred];
        }
    }
    vec![Source::Web]
}

/// Every flag of every response of a wave: the stored ones, and speeders
/// derived from the wave's median completion time (over all responses
/// with one, whatever their source).
pub fn flags_of(facts: &[ResponseFacts]) -> Vec<Flags> {
    let durations: Vec<u32> = facts.iter().filter_map(|f| f.duration_seconds).collect();
    let median = median_seconds(&durations);
    facts
        .iter()
        .map(|f| match (f.duration_seconds, median) {
            (Some(d), Some(m)) if is_speeder(d, m) => f.stored_flags.with(Flag::Speeder),
            _ => f.stored_flags,
        })
        .collect()
}

/// Everything needed to estimate one wave.
pub(super) struct WaveData<'r> {
    /// The wave's definition: the newest version its respondents answered.
    /// Its items, scores, dimensions and weights make the indices, so a
    /// version published later never changes an earlier wave.
    pub(super) definition: &'r Survey,
    /// Every stored version, and each respondent's index into it: vector
    /// lookups in loops that run a million times.
    pub(super) slot_versions: Vec<&'r Survey>,
    /// The versions the wave's respondents answered, oldest first.
    pub(super) versions_answered: Vec<u32>,
    pub(super) slots: Vec<u32>,
    pub(super) wave: i32,
    pub(super) data: AnalysisColumns,
    pub(super) selection: Selection,
}

/// Which responses of a wave an analysis uses, before any is read.
pub(super) struct Chosen<'r> {
    pub(super) stored: &'r [std::sync::Arc<crate::db::StoredSurvey>],
    pub(super) wave: i32,
    /// `None`: every source present in the wave.
    pub(super) sources_filter: Option<Vec<Source>>,
    /// `None`: every import batch.
    pub(super) batch_filter: Option<Vec<i64>>,
    pub(super) excluded_ids: HashSet<i64>,
    pub(super) selection: Selection,
}

/// The wave, its sources and batches, and the responses left out for
/// their flags (§3.1, §7).
pub(super) fn choose<'r>(
    db: &Database,
    registry: &'r SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
) -> Result<Chosen<'r>, AnalysisError> {
    let stored = registry.versions(slug);
    if stored.is_empty() {
        return Err(AnalysisError::UnknownSurvey(slug.to_string()));
    }
    let wave = match options.wave {
        Some(w) => w,
        None => *db.waves(slug)?.last().ok_or(AnalysisError::NoResponses {
            slug: slug.to_string(),
            wave: None,
        })?,
    };
    let present = db.sources_present(slug, wave)?;
    let sources = match &options.sources {
        Some(asked) => asked.sources.clone(),
        None => default_sources(&present),
    };
    let asked_batches: &[String] = options.sources.as_ref().map_or(&[], |c| &c.batches);
    let batches = if sources.contains(&Source::Import) {
        batches_used(db, slug, wave, asked_batches)?
    } else {
        Vec::new()
    };
    if sources.contains(&Source::Import) && sources.len() > 1 {
        return Err(AnalysisError::Option(
            "imported interviews carry their own design weights, and web and invited responses get theirs \
             from the sampling frame; analyse import on its own"
                .into(),
        ));
    }
    let left_out = present
        .iter()
        .filter(|s| !sources.contains(s))
        .map(|&s| Ok((s, db.count_source(slug, wave, s)?)))
        .collect::<Result<_, AnalysisError>>()?;

    let mut excluded_ids = HashSet::new();
    let excluded = if options.exclude_flagged.is_empty() {
        None
    } else {
        let facts = db.response_facts(slug, wave)?;
        let flags = flags_of(&facts);
        let asked = options.exclude_flagged;
        let mut by_flag: BTreeMap<Flag, u64> = asked.iter().map(|f| (f, 0)).collect();
        for (fact, flags) in facts.iter().zip(&flags) {
            if !sources.contains(&fact.source) || !flags.intersects(asked) {
                continue;
            }
            excluded_ids.insert(fact.id);
            for f in flags.iter().filter(|f| asked.has(*f)) {
                *by_flag.entry(f).or_default() += 1;
            }
        }
        Some(Exclusions {
            flags: asked.iter().collect(),
            respondents: excluded_ids.len() as u64,
            by_flag,
        })
    };

    let every_source = present.iter().all(|s| sources.contains(s));
    let batch_ids: Vec<i64> = batches.iter().map(|b| b.id).collect();
    Ok(Chosen {
        stored,
        wave,
        sources_filter: (!every_source).then(|| sources.clone()),
        batch_filter: (!asked_batches.is_empty()).then_some(batch_ids),
        excluded_ids,
        selection: Selection {
            sources,
            left_out,
            excluded,
            batches,
        },
    })
}

pub(super) fn load_wave<'r>(
    db: &Database,
    registry: &'r SurveyRegistry,
    slug: &str,
    options: &IndexOptions,
) -> Result<WaveData<'r>, AnalysisError> {
    let Chosen {
        stored,
        wave,
        sources_filter,
        batch_filter,
        excluded_ids,
        selection,
    } = choose(db, registry, slug, options)?;
    let data = db.analysis_columns(
        slug,
        wave,
        sources_filter.as_deref(),
        batch_filter.as_deref(),
        &excluded_ids,
    )?;
    if data.is_empty() {
        return Err(AnalysisError::NoResponses {
            slug: slug.to_string(),
            wave: Some(wave),
        });
    }
    let slot_versions: Vec<&Survey> = stored.iter().map(|s| &s.survey).collect();
    let slot_of: HashMap<i64, u32> = stored
        .iter()
        .enumerate()
        .map(|(k, s)| (s.version_id, k as u32))
        .collect();
    let slots: Vec<u32> = data
        .version_ids
        .iter()
        .map(|id| {
            slot_of.get(id).copied().ok_or_else(|| {
                AnalysisError::Option(format!(
                    "a response of {slug:?} answers a version this process has not loaded (row {id}); \
                     run the command again"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let newest_slot = slots.iter().copied().max().unwrap_or(0);
    let definition = slot_versions[newest_slot as usize];
    let answered: Vec<u32> = {
        let mut seen = vec![false; slot_versions.len()];
        slots.iter().for_each(|&s| seen[s as usize] = true);
        (0..slot_versions.len())
            .filter(|&k| seen[k])
            .map(|k| slot_versions[k].version)
            .collect()
    };
    Ok(WaveData {
        definition,
        versions_answered: answered,
        slot_versions,
        slots,
        wave,
        data,
        selection,
    })
}
/// The wave's import batches an analysis uses: those asked for by name or
/// id, else all of them. An unknown batch is an error listing the wave's.
fn batches_used(db: &Database, slug: &str, wave: i32, asked: &[String]) -> Result<Vec<BatchUsed>, AnalysisError> {
    let stored = db.import_batches(slug, Some(wave))?;
    let used = |b: &ImportBatch| BatchUsed {
        id: b.id,
        name: b.name.clone(),
        rows: b.rows,
    };
    if asked.is_empty() {
        return Ok(stored.iter().map(used).collect());
    }
    asked
        .iter()
        .map(|name| {
            stored
                .iter()
                .find(|b| b.name == *name || b.id.to_string() == *name)
                .map(used)
                .ok_or_else(|| {
                    let names: Vec<String> = stored.iter().map(|b| format!("{} (id {})", b.name, b.id)).collect();
                    AnalysisError::Option(format!(
                        "wave {wave} of {slug:?} has no import batch {name:?}; its batches: {}",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ))
                })
        })
        .collect()
}

/// Per-respondent option index (in `definition`'s option list) of a
/// choice question, matched by option value across versions.
pub(super) fn choice_column(definition: &Survey, question: &str, wave: &WaveData<'_>) -> Vec<Option<u32>> {
    let target = definition.question(question).expect("checked by the caller");
    // Per version: the question's position and its options' positions in
    // the definition (matched by value).
    let per_slot: Vec<Option<(usize, Vec<Option<u32>>)>> = wave
        .slot_versions
        .iter()
        .map(|s| {
            let pos = s.question_index(question)?;
            let mapping = s.questions[pos]
                .kind
                .options()
                .iter()
                .map(|o| {
                    target
                        .kind
                        .options()
                        .iter()
                        .position(|t| t.value == o.value)
                        .map(|p| p as u32)
                })
                .collect();
            Some((pos, mapping))
        })
        .collect();
    let data = &wave.data;
    (0..data.len())
        .map(|i| {
            let (pos, mapping) = per_slot[wave.slots[i] as usize].as_ref()?;
            let code = data.codes[data.code_offsets[i] + pos] as usize;
            code.checked_sub(1).and_then(|c| mapping.get(c).copied().flatten())
        })
        .collect()
}

pub(super) fn choice_question<'a>(
    latest: &'a Survey,
    slug: &str,
    question: &str,
) -> Result<&'a crate::survey::Question, AnalysisError> {
    let is_choice = |q: &crate::survey::Question| {
        matches!(
            q.kind,
            QuestionKind::SingleChoice { .. } | QuestionKind::Likert { .. } | QuestionKind::Rating { .. }
        )
    };
    match latest.question(question) {
        Some(q) if is_choice(q) => Ok(q),
        Some(_) => Err(AnalysisError::ByNotChoice(question.to_string())),
        None => Err(AnalysisError::UnknownBy {
            slug: slug.to_string(),
            question: question.to_string(),
            choices: latest
                .questions
                .iter()
                .filter(|q| matches!(q.kind, QuestionKind::SingleChoice { .. }))
                .map(|q| q.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
