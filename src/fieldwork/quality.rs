//! Data-quality flags. A flag marks a response for the statistician; it
//! never deletes or changes one, and indices leave flagged responses out
//! only when asked (`--exclude-flagged`).
//!
//! - **straightliner**: the same answer to every question of a block of at
//!   least [`STRAIGHTLINE_MIN_ITEMS`] rating-scale questions (a run of
//!   consecutive Likert questions on one scale), with at least that many
//!   answered. Decided from the answers alone, and stored when the
//!   response is stored.
//! - **burst**: one of at least [`BURST_SIZE`] open-link responses to the
//!   same version with identical choices within [`BURST_WINDOW`]: what a
//!   script filling the form looks like. Stored when the burst is seen.
//! - **speeder**: finished in under a third of the wave's median
//!   completion time. The median moves while fieldwork goes on, so this
//!   flag is derived from the stored completion time whenever figures are
//!   computed, never stored stale.

use crate::survey::{QuestionKind, Survey};

/// Fewest rating questions in a block for straight-lining to mean anything.
pub const STRAIGHTLINE_MIN_ITEMS: usize = 8;
/// Identical open-link responses within [`BURST_WINDOW`] that make a burst.
pub const BURST_SIZE: usize = 5;
/// How close together a burst's responses are.
pub const BURST_WINDOW: time::Duration = time::Duration::minutes(10);
/// A speeder takes less than the wave's median completion time over this.
pub const SPEEDER_FRACTION_OF_MEDIAN: u32 = 3;

named_choices! {
    /// A data-quality flag.
    pub enum Flag / UnknownFlag ("data-quality flag") {
        Speeder = "speeder",
        Straightliner = "straightliner",
        Burst = "burst",
    }
}

impl Flag {
    fn bit(self) -> u8 {
        match self {
            Flag::Speeder => 1,
            Flag::Straightliner => 2,
            Flag::Burst => 4,
        }
    }
}

/// A set of flags, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    pub fn with(self, flag: Flag) -> Flags {
        Flags(self.0 | flag.bit())
    }
    pub fn has(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.iter().copied().filter(move |f| self.has(*f))
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Flags {
        iter.into_iter().fold(Flags::default(), Flags::with)
    }
}

/// Parse `speeder,straightliner` (any order, spaces allowed).
pub fn parse_flags(list: &str) -> Result<Flags, UnknownFlag> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse::<Flag>)
        .collect()
}

/// The blocks of a version that straight-lining is judged on: runs of
/// consecutive Likert questions on the same scale, of at least
/// [`STRAIGHTLINE_MIN_ITEMS`] questions, as question indices.
pub fn straightline_blocks(survey: &Survey) -> Vec<Vec<usize>> {
    let mut blocks = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    let mut run_scale: Option<&str> = None;
    for (i, q) in survey.questions.iter().enumerate() {
        let scale = match &q.kind {
            QuestionKind::Likert { scale, .. } => Some(scale.as_str()),
            _ => None,
        };
        if scale.is_none() || scale != run_scale {
            if run.len() >= STRAIGHTLINE_MIN_ITEMS {
                blocks.push(std::mem::take(&mut run));
            }
            run.clear();
            run_scale = scale;
        }
        if scale.is_some() {
            run.push(i);
        }
    }
    if run.len() >= STRAIGHTLINE_MIN_ITEMS {
        blocks.push(run);
    }
    blocks
}

/// Whether `codes` (a response's option numbers, one per question of the
/// version, 0 = no answer) give one answer throughout some block, with at
/// least [`STRAIGHTLINE_MIN_ITEMS`] answers there.
pub fn is_straightliner(blocks: &[Vec<usize>], codes: &[u8]) -> bool {
    blocks.iter().any(|block| {
        let mut answered = block
            .iter()
            .map(|&q| codes.get(q).copied().unwrap_or(0))
            .filter(|&c| c != 0);
        match answered.next() {
            Some(first) => {
                let mut count = 1;
                for c in answered {
                    if c != first {
                        return false;
                    }
                    count += 1;
                }
                count >= STRAIGHTLINE_MIN_ITEMS
            }
            None => false,
        }
    })
}

/// The median of `seconds` (the mean of the middle two for an even count).
pub fn median_seconds(seconds: &[u32]) -> Option<f64> {
    if seconds.is_empty() {
        return None;
    }
    let mut sorted = seconds.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        f64::from(sorted[mid])
    } else {
        (f64::from(sorted[mid - 1]) + f64::from(sorted[mid])) / 2.0
    })
}

/// Whether a completion time of `seconds` is a speeder's, given the wave's
/// median.
pub fn is_speeder(seconds: u32, median: f64) -> bool {
    f64::from(seconds) * f64::from(SPEEDER_FRACTION_OF_MEDIAN) < median
}

#[cfg(test)]
mod tests {
    use super::*;

    fn livability() -> Survey {
        crate::survey::builtin_definitions()
            .into_iter()
            .find(|s| s.slug.as_str() == "livability")
            .unwrap()
    }

    #[test]
    fn blocks_are_runs_of_one_scale() {
        let survey = livability();
        let blocks = straightline_blocks(&survey);
        assert!(!blocks.is_empty());
        for block in &blocks {
            assert!(block.len() >= STRAIGHTLINE_MIN_ITEMS);
            let scales: std::collections::HashSet<_> = block
                .iter()
                .map(|&i| match &survey.questions[i].kind {
                    QuestionKind::Likert { scale, .. } => scale.clone(),
                    _ => panic!("only Likert questions"),
                })
                .collect();
            assert_eq!(scales.len(), 1);
            assert!(block.windows(2).all(|w| w[1] == w[0] + 1), "consecutive");
        }
    }

    #[test]
    fn straight_lining_needs_one_answer_throughout_a_block() {
        let survey = livability();
        let blocks = straightline_blocks(&survey);
        let block = &blocks[0];
        let mut codes = vec![0u8; survey.questions.len()];
        for &q in block {
            codes[q] = 3;
        }
        assert!(is_straightliner(&blocks, &codes));
        // An unanswered (e.g. hidden) question does not break the line.
        codes[block[2]] = 0;
        assert!(is_straightliner(&blocks, &codes));
        // One different answer does.
        codes[block[4]] = 4;
        assert!(!is_straightliner(&blocks, &codes));
        // Fewer than eight answers is not enough to judge.
        let mut few = vec![0u8; survey.questions.len()];
        for &q in &block[..STRAIGHTLINE_MIN_ITEMS - 1] {
            few[q] = 5;
        }
        assert!(!is_straightliner(&blocks, &few));
        assert!(!is_straightliner(&blocks, &vec![0u8; survey.questions.len()]));
    }

    #[test]
    fn speeders_are_under_a_third_of_the_median() {
        assert_eq!(median_seconds(&[]), None);
        assert_eq!(median_seconds(&[300, 100, 200]), Some(200.0));
        assert_eq!(median_seconds(&[100, 200, 300, 400]), Some(250.0));
        assert!(is_speeder(66, 200.0));
        assert!(!is_speeder(67, 200.0));
    }

    #[test]
    fn flag_lists_parse() {
        let flags = parse_flags("speeder, straightliner").unwrap();
        assert!(flags.has(Flag::Speeder) && flags.has(Flag::Straightliner) && !flags.has(Flag::Burst));
        assert_eq!(flags.iter().collect::<Vec<_>>(), [Flag::Speeder, Flag::Straightliner]);
        assert!(parse_flags("").unwrap().is_empty());
        assert_eq!(parse_flags("speeder,slow"), Err(UnknownFlag("slow".into())));
    }
}
