//! `--by`: the groups of respondents every index is also computed for, by
//! the answers to one question (`district`) or to two (`district,age_group`:
//! every combination, a two-way table), each a domain of the full design.

use super::load::{choice_column, choice_question, WaveData};
use super::options::AnalysisError;
use crate::stats::Grouping;
pub use crate::stats::GROUP_SEPARATOR;
use crate::survey::{Question, Survey};

/// Respondents' groups and the groups' names.
pub(super) struct Groups {
    /// Group code of each respondent; `None` when an answer is missing.
    pub codes: Vec<Option<u32>>,
    /// Codes in output order: every combination, in option order.
    pub order: Vec<u32>,
    /// Name of each code: the option values joined by [`GROUP_SEPARATOR`].
    pub names: Vec<String>,
}

/// Most questions a table may be split by.
const MAX_BY: usize = 2;

impl Groups {
    /// The groups of `by` (`q` or `q1,q2`) among the wave's respondents.
    pub(super) fn new(wave: &WaveData<'_>, slug: &str, by: &str) -> Result<Groups, AnalysisError> {
        let (questions, names) = Groups::questions(wave.definition, slug, by)?;
        let mut codes: Vec<Option<u32>> = vec![Some(0); wave.data.len()];
        for q in questions {
            let width = q.kind.options().len() as u32;
            let column = choice_column(wave.definition, q.id.as_str(), wave);
            for (code, answer) in codes.iter_mut().zip(column) {
                *code = match (*code, answer) {
                    (Some(c), Some(a)) => Some(c * width + a),
                    _ => None,
                };
            }
        }
        Ok(Groups {
            order: (0..names.len() as u32).collect(),
            codes,
            names,
        })
    }

    /// The questions of `by` and the names of its groups: every
    /// combination of their options, the first question's slowest. The
    /// group of a respondent who answered option `a_k` of question k is
    /// `(a_1 · width_2 + a_2) …` ([`Groups::code`]).
    pub(super) fn questions<'s>(
        definition: &'s Survey,
        slug: &str,
        by: &str,
    ) -> Result<(Vec<&'s Question>, Vec<String>), AnalysisError> {
        let ids: Vec<&str> = by.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if ids.is_empty() || ids.len() > MAX_BY {
            return Err(AnalysisError::Option(format!(
                "--by takes one question or two separated by a comma (district,age_group), not {by:?}"
            )));
        }
        if ids.len() == 2 && ids[0] == ids[1] {
            return Err(AnalysisError::Option(format!("--by names {} twice", ids[0])));
        }
        let mut names = vec![String::new()];
        let mut questions = Vec::new();
        for (k, id) in ids.iter().enumerate() {
            let q = choice_question(definition, slug, id)?;
            let values: Vec<&str> = q.kind.options().iter().map(|o| o.value.as_str()).collect();
            names = names
                .iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        if k == 0 {
                            v.to_string()
                        } else {
                            format!("{prefix}{GROUP_SEPARATOR}{v}")
                        }
                    })
                })
                .collect();
            questions.push(q);
        }
        if names.len() >= u16::MAX as usize {
            return Err(AnalysisError::Option(format!(
                "--by {by} makes too many groups ({})",
                names.len()
            )));
        }
        Ok((questions, names))
    }

    /// The group of a respondent from its option index in each question
    /// of [`Groups::questions`]; `None` when one is missing.
    pub(super) fn code(questions: &[&Question], answers: &[Option<u32>]) -> Option<u32> {
        let mut code = 0;
        for (q, a) in questions.iter().zip(answers) {
            code = code * q.kind.options().len() as u32 + (*a)?;
        }
        Some(code)
    }

    pub(super) fn grouping(&self) -> Grouping<'_> {
        Grouping {
            codes: &self.codes,
            order: &self.order,
        }
    }

    pub(super) fn name(&self, code: u32) -> String {
        self.names[code as usize].clone()
    }
}
