//! `--variance bootstrap`: one bootstrap run for every figure of a report
//! (indices, satisfied rates and totals, populations, answer shares), whose
//! SEs then replace the linearised ones (docs/statistics.md §4.5).

use crate::stats::{
    self, BootstrapOptions, BootstrapSummary, BootstrapTask, CodedAnswers, Column, Estimate, EstimateOptions, Grouping,
    Kind, OptionShare, Row, Statistic, Variable,
};

/// The figures of a report, estimated with linearised SEs.
pub(super) struct Figures<'a> {
    /// Domain by domain, each variable in order (as `estimate_all`).
    pub(super) rows: &'a mut [Row],
    /// One per domain.
    pub(super) population: &'a mut [Estimate],
    /// Question by question, then domain, then option (as `distributions`).
    pub(super) shares: &'a mut [OptionShare],
}

/// Replace every SE of `figures` by a bootstrap one; what the run was.
#[allow(clippy::too_many_arguments)]
pub(super) fn bootstrap_figures(
    design: &stats::Design,
    variables: &[Variable<'_>],
    questions: &[CodedAnswers<'_>],
    grouping: Option<&Grouping<'_>>,
    figures: Figures<'_>,
    options: &BootstrapOptions,
    estimate_options: &EstimateOptions,
) -> Result<BootstrapSummary, stats::StatsError> {
    let ones = vec![1.0; design.len()];
    let tables: Vec<Vec<Vec<Option<f64>>>> = questions.iter().map(CodedAnswers::indicator_tables).collect();
    let mut tasks: Vec<BootstrapTask<'_>> = Vec::new();
    fn task<'a>(column: Column<'a>, statistic: Statistic, tasks: &mut Vec<BootstrapTask<'a>>) -> usize {
        tasks.push(BootstrapTask { column, statistic });
        tasks.len() - 1
    }
    // Per variable: its score's task and, for items, the top box's share and total.
    let mut of_variable: Vec<(usize, Option<(usize, usize)>)> = Vec::new();
    for v in variables {
        let score = task(Column::Numeric(v.score), Statistic::Mean, &mut tasks);
        let top = v.top_box.map(|t| {
            (
                task(Column::Indicator(t), Statistic::Mean, &mut tasks),
                task(Column::Indicator(t), Statistic::Total, &mut tasks),
            )
        });
        of_variable.push((score, top));
    }
    let population = task(Column::Numeric(&ones), Statistic::Total, &mut tasks);
    let mut first_option = Vec::new();
    for (q, per_option) in questions.iter().zip(&tables) {
        first_option.push(tasks.len());
        for values in per_option {
            task(Column::Coded { codes: q.codes, values }, Statistic::Mean, &mut tasks);
        }
    }
    let run = stats::bootstrap(design, &tasks, grouping, options)?;
    let se = |task: usize, domain: usize| run.se[task][domain];
    let replace = |e: &mut Estimate, task: usize, domain: usize, kind: Kind| {
        *e = stats::with_standard_error(e, se(task, domain), kind, estimate_options);
    };

    let per_domain = variables.len();
    for (j, row) in figures.rows.iter_mut().enumerate() {
        let (domain, v) = (j / per_domain, j % per_domain);
        let (score, top) = of_variable[v];
        replace(&mut row.score, score, domain, Kind::Mean);
        if let (Some((share, total)), Some(t)) = (top, row.top_box.as_mut()) {
            replace(t, share, domain, Kind::Proportion);
            if let Some(t) = row.top_box_total.as_mut() {
                replace(t, total, domain, Kind::Total);
            }
        }
    }
    for (domain, e) in figures.population.iter_mut().enumerate() {
        replace(e, population, domain, Kind::Total);
    }
    let domains = figures.population.len();
    let mut shares = figures.shares.iter_mut();
    for (q, question) in questions.iter().enumerate() {
        for domain in 0..domains {
            for k in 0..question.options {
                let s = shares.next().expect("a share per question, domain and option");
                replace(&mut s.share, first_option[q] + k, domain, Kind::Share);
            }
        }
    }
    Ok(run.summary)
}
