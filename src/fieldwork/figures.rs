//! Fieldwork figures of a wave, per stratum: population, invitations,
//! completed responses, the response rate, the design weight that follows
//! from them, open-link responses, and completion times. Pure: counts in,
//! report out; `db` gathers the counts.
//!
//! The response rate is AAPOR's RR1: completed interviews over every
//! invitation issued (everyone invited counts as eligible, and partial
//! responses are not counted as complete).

use super::quality::{median_seconds, Flag};
use serde::Serialize;

/// Wording shown wherever a response rate is.
pub const RESPONSE_RATE_DEFINITION: &str = "AAPOR RR1 = completed / invited";

/// What storage knows about one stratum of a wave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StratumCounts {
    pub stratum: String,
    /// N_h from the frame; `None` for a stratum the frame lacks.
    pub population: Option<f64>,
    pub invited: u64,
    /// Invited responses stored.
    pub completed: u64,
    /// Open-link responses whose answer to the stratum question is this stratum.
    pub open_link: u64,
    /// Completion times of the invited responses, in seconds.
    pub completion_seconds: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldworkRow {
    pub stratum: String,
    pub population: Option<f64>,
    pub invited: u64,
    pub completed: u64,
    pub response_rate: Option<f64>,
    /// N_h / completed: what each invited response of the stratum weighs.
    pub design_weight: Option<f64>,
    pub open_link: u64,
    pub median_completion_seconds: Option<f64>,
}

/// Counts of responses carrying each flag.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FlagCounts {
    pub speeder: u64,
    pub straightliner: u64,
    pub burst: u64,
}

impl FlagCounts {
    pub fn add(&mut self, flag: Flag) {
        match flag {
            Flag::Speeder => self.speeder += 1,
            Flag::Straightliner => self.straightliner += 1,
            Flag::Burst => self.burst += 1,
        }
    }

    pub fn get(&self, flag: Flag) -> u64 {
        match flag {
            Flag::Speeder => self.speeder,
            Flag::Straightliner => self.straightliner,
            Flag::Burst => self.burst,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldworkReport {
    pub survey: String,
    pub wave: i32,
    pub access: String,
    pub stratum_question: String,
    pub response_rate_definition: &'static str,
    pub strata: Vec<FieldworkRow>,
    pub total: FieldworkRow,
    /// Responses of the wave by source.
    pub responses: SourceCounts,
    pub flags: FlagCounts,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SourceCounts {
    pub invited: u64,
    pub web: u64,
    pub import: u64,
}

fn ratio(numerator: f64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator / denominator as f64)
}

fn row(stratum: String, population: Option<f64>, counts: &[&StratumCounts], seconds: &[u32]) -> FieldworkRow {
    let invited = counts.iter().map(|c| c.invited).sum();
    let completed = counts.iter().map(|c| c.completed).sum();
    FieldworkRow {
        response_rate: ratio(completed as f64, invited),
        design_weight: population.and_then(|n| ratio(n, completed)),
        open_link: counts.iter().map(|c| c.open_link).sum(),
        median_completion_seconds: median_seconds(seconds),
        stratum,
        population,
        invited,
        completed,
    }
}

/// The report of a wave from its per-stratum counts (in the order given).
pub fn fieldwork_report(
    survey: &str,
    wave: i32,
    access: &str,
    stratum_question: &str,
    strata: &[StratumCounts],
    responses: SourceCounts,
    flags: FlagCounts,
) -> FieldworkReport {
    let rows = strata
        .iter()
        .map(|c| row(c.stratum.clone(), c.population, &[c], &c.completion_seconds))
        .collect();
    let all: Vec<&StratumCounts> = strata.iter().collect();
    let seconds: Vec<u32> = strata
        .iter()
        .flat_map(|c| c.completion_seconds.iter().copied())
        .collect();
    let population = strata.iter().map(|c| c.population).sum::<Option<f64>>();
    let mut total = row("all".into(), population, &all, &seconds);
    // A weight is a stratum's figure; the whole wave has one per stratum.
    total.design_weight = None;
    FieldworkReport {
        survey: survey.to_string(),
        wave,
        access: access.to_string(),
        stratum_question: stratum_question.to_string(),
        response_rate_definition: RESPONSE_RATE_DEFINITION,
        strata: rows,
        total,
        responses,
        flags,
    }
}

/// CSV columns of `civicpulse fieldwork --format csv`.
pub const FIELDWORK_CSV_HEADER: [&str; 8] = [
    "stratum",
    "population",
    "invited",
    "completed",
    "response_rate_rr1",
    "design_weight",
    "open_link",
    "median_completion_seconds",
];

pub fn write_fieldwork_csv(report: &FieldworkReport, out: &mut dyn std::io::Write) -> Result<(), csv::Error> {
    let cell = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let mut w = csv::Writer::from_writer(out);
    w.write_record(FIELDWORK_CSV_HEADER)?;
    for r in report.strata.iter().chain(std::iter::once(&report.total)) {
        w.write_record([
            crate::spreadsheet::neutralise_formula(&r.stratum).into_owned(),
            cell(r.population),
            r.invited.to_string(),
            r.completed.to_string(),
            cell(r.response_rate),
            cell(r.design_weight),
            r.open_link.to_string(),
            cell(r.median_completion_seconds),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_weights_per_stratum_and_in_all() {
        let strata = vec![
            StratumCounts {
                stratum: "huancui".into(),
                population: Some(620_000.0),
                invited: 500,
                completed: 200,
                open_link: 3,
                completion_seconds: vec![300, 500, 400],
            },
            StratumCounts {
                stratum: "lingang".into(),
                population: Some(110_000.0),
                invited: 100,
                completed: 0,
                open_link: 0,
                completion_seconds: vec![],
            },
        ];
        let report = fieldwork_report(
            "livability",
            2026,
            "invitation",
            "district",
            &strata,
            SourceCounts::default(),
            FlagCounts::default(),
        );
        let h = &report.strata[0];
        assert_eq!(h.response_rate, Some(0.4));
        assert_eq!(h.design_weight, Some(3100.0));
        assert_eq!(h.median_completion_seconds, Some(400.0));
        let l = &report.strata[1];
        assert_eq!(l.response_rate, Some(0.0));
        assert_eq!(l.design_weight, None, "no responses, no weight");
        assert_eq!(report.total.invited, 600);
        assert_eq!(report.total.completed, 200);
        assert_eq!(report.total.population, Some(730_000.0));
        assert!((report.total.response_rate.unwrap() - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(report.total.design_weight, None);
        let mut csv = Vec::new();
        write_fieldwork_csv(&report, &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with("stratum,population,invited,completed,response_rate_rr1"));
        assert!(csv.contains("huancui,620000,500,200,0.4,3100,3,400\n"));
        assert!(csv.contains("all,730000,600,200,"));
    }
}
