//! The design columns of an export (`_weight`, `_stratum`, `_cluster`,
//! `_source`) and its data-quality flags, per response, as the analysis
//! takes them (docs/statistics.md §3, §7), so that R or Stata can rebuild
//! the design from the CSV alone.
//!
//! A response's `_weight` is the design weight it has when its own source
//! is analysed (`--source web|invited|import`, which for the wave's
//! default sources is the default analysis, §3.1):
//!
//! - imported interviews: their stored `_weight`, `_stratum`, `_cluster`
//!   (§3.2);
//! - invited responses: `N_h / r_h` from the wave's sampling frame, `r_h`
//!   the invited responses of their invitation's stratum (§3.3);
//! - open-link answers in a wave with a frame: `N_h / r_h` with the stratum
//!   they name in the stratum question and `r_h` the open-link answers
//!   naming it (what `--source web` computes there); none when they name
//!   no stratum of the frame;
//! - open-link answers in a wave without a frame: their stored weight, 1
//!   (§3.2).
//!
//! The weights are those without exclusions: leaving flagged responses of
//! an invitation wave out changes `r_h` (§7), so an analyst who does so
//! recomputes them (the codebook says how).

use crate::db::{Database, DbError, StoredResponse};
use crate::fieldwork::quality::is_speeder;
use crate::fieldwork::wave::DEFAULT_STRATUM_QUESTION;
use crate::fieldwork::{Flag, Flags, Source};
use std::collections::HashMap;

/// What a wave's design columns are computed from: a few numbers per
/// stratum and batch, whatever the size of the wave.
#[derive(Debug, Clone, Default)]
pub(super) struct WaveDesign {
    /// Invited responses: the frame weight of each stratum.
    invited: HashMap<String, f64>,
    /// Open-link answers of a wave with a frame: the stratum question and
    /// the frame weight of each answer to it.
    web_by_answer: Option<(String, HashMap<String, f64>)>,
    /// The wave's median completion time (the speeder flag's yardstick).
    median_seconds: Option<f64>,
    batch_names: HashMap<i64, String>,
}

/// The design columns of one response.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DesignCells {
    pub(super) weight: Option<f64>,
    pub(super) stratum: Option<String>,
    pub(super) cluster: Option<String>,
    /// `web`, `invited` or `import:BATCH`, as `--source` names them.
    pub(super) source: String,
    /// Stored flags and the derived speeder flag.
    pub(super) flags: Flags,
}

/// `N_h / r_h` for every stratum of the frame with responses.
fn frame_weights(
    frame: &HashMap<String, f64>,
    respondents: impl IntoIterator<Item = (String, u64)>,
) -> HashMap<String, f64> {
    respondents
        .into_iter()
        .filter(|(_, r)| *r > 0)
        .filter_map(|(stratum, r)| Some((stratum.clone(), frame.get(&stratum)? / r as f64)))
        .collect()
}

impl WaveDesign {
    pub(super) fn load(db: &Database, slug: &str, wave: i32) -> Result<WaveDesign, DbError> {
        let frame: HashMap<String, f64> = db
            .frame(slug, wave)?
            .into_iter()
            .map(|s| (s.stratum, s.population))
            .collect();
        let (invited, web_by_answer) = if frame.is_empty() {
            (HashMap::new(), None)
        } else {
            let invited = db
                .responses_per_stratum(slug, wave, Source::Invited)?
                .into_iter()
                .filter_map(|(s, n)| Some((s?, n)));
            let question = db
                .wave(slug, wave)?
                .map_or(DEFAULT_STRATUM_QUESTION.to_string(), |w| w.stratum_question);
            let web = db.responses_per_answer(slug, wave, Source::Web, &question)?;
            (
                frame_weights(&frame, invited),
                Some((question, frame_weights(&frame, web))),
            )
        };
        let batch_names = db
            .import_batches(slug, Some(wave))?
            .into_iter()
            .map(|b| (b.id, b.name))
            .collect();
        Ok(WaveDesign {
            invited,
            web_by_answer,
            median_seconds: db.median_duration(slug, wave)?,
            batch_names,
        })
    }

    pub(super) fn cells(&self, r: &StoredResponse) -> DesignCells {
        let mut flags = r.flags;
        if let (Some(seconds), Some(median)) = (r.duration_seconds, self.median_seconds) {
            if is_speeder(seconds, median) {
                flags = flags.with(Flag::Speeder);
            }
        }
        let source = r.source.parse::<Source>().unwrap_or(Source::Web);
        let (weight, stratum, cluster, source) = match source {
            Source::Import => {
                let name = r.import_batch.and_then(|id| self.batch_names.get(&id));
                let source = match name {
                    Some(name) => format!("import:{name}"),
                    None => "import".to_string(),
                };
                (Some(r.weight), r.stratum.clone(), r.cluster.clone(), source)
            }
            Source::Invited => {
                let weight = r.stratum.as_ref().and_then(|s| self.invited.get(s)).copied();
                (weight, r.stratum.clone(), None, "invited".to_string())
            }
            Source::Web => match &self.web_by_answer {
                None => (Some(r.weight), r.stratum.clone(), None, "web".to_string()),
                Some((question, weights)) => {
                    let answer = r.answers.iter().find(|(q, _)| q == question).map(|(_, v)| v.clone());
                    let weight = answer.as_ref().and_then(|a| weights.get(a)).copied();
                    (weight, answer, None, "web".to_string())
                }
            },
        };
        DesignCells {
            weight,
            stratum,
            cluster,
            source,
            flags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(source: &str) -> StoredResponse {
        StoredResponse {
            id: "1".into(),
            version: 1,
            wave: 2026,
            lang: "zh".into(),
            submitted_at: "2026-05-01T00:00:00Z".into(),
            source: source.into(),
            weight: 1.0,
            stratum: None,
            cluster: None,
            duration_seconds: None,
            import_batch: None,
            flags: Flags::default(),
            answers: vec![("district".into(), "huancui".into())],
        }
    }

    #[test]
    fn each_source_gets_the_weight_its_own_analysis_gives_it() {
        let frame: HashMap<String, f64> = [("huancui".to_string(), 1000.0), ("wendeng".to_string(), 600.0)].into();
        let design = WaveDesign {
            invited: frame_weights(&frame, [("huancui".to_string(), 4), ("gone".to_string(), 2)]),
            web_by_answer: Some((
                "district".into(),
                frame_weights(&frame, [("huancui".to_string(), 10), ("wendeng".to_string(), 0)]),
            )),
            median_seconds: Some(300.0),
            batch_names: [(7, "interviews".to_string())].into(),
        };
        let mut invited = response("invited");
        invited.stratum = Some("huancui".into());
        invited.duration_seconds = Some(99);
        let cells = design.cells(&invited);
        assert_eq!(cells.weight, Some(250.0));
        assert_eq!(cells.stratum.as_deref(), Some("huancui"));
        assert_eq!(cells.source, "invited");
        assert!(cells.flags.has(Flag::Speeder), "99 s is under a third of 300 s");
        invited.duration_seconds = Some(100);
        assert!(!design.cells(&invited).flags.has(Flag::Speeder));
        // A stratum the frame lacks has no weight (the analysis refuses it).
        invited.stratum = Some("gone".into());
        assert_eq!(design.cells(&invited).weight, None);

        // Open-link answers take the stratum they name.
        let web = design.cells(&response("web"));
        assert_eq!((web.weight, web.stratum.as_deref()), (Some(100.0), Some("huancui")));
        let mut nameless = response("web");
        nameless.answers.clear();
        assert_eq!(design.cells(&nameless).weight, None);
        // Without a frame they weigh what is stored, 1.
        let open = WaveDesign::default().cells(&response("web"));
        assert_eq!((open.weight, open.stratum), (Some(1.0), None));

        let mut imported = response("import");
        imported.weight = 12.5;
        imported.stratum = Some("A".into());
        imported.cluster = Some("c1".into());
        imported.import_batch = Some(7);
        imported.flags = Flags::default().with(Flag::Straightliner);
        let cells = design.cells(&imported);
        assert_eq!(
            cells,
            DesignCells {
                weight: Some(12.5),
                stratum: Some("A".into()),
                cluster: Some("c1".into()),
                source: "import:interviews".into(),
                flags: Flags::default().with(Flag::Straightliner),
            }
        );
    }
}
