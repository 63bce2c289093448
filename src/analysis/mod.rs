//! Satisfaction indices for statisticians: the glue between storage, the
//! published definitions, the fieldwork and the pure `stats` engine.
//!
//! - `options`: what is asked for, and the errors;
//! - `load`: which responses of a wave (sources, data-quality exclusions);
//! - `design`: weights from none, the stored columns, or the sampling frame,
//!   and raking;
//! - `prepare`: option codes to item scores and composites;
//! - `pushdown`: the same indices from sums PostgreSQL adds up (§4.6);
//! - `report`: the engine's rows as published figures, small cells
//!   withheld and protected by `stats::suppression`; `distribution`:
//!   answer shares; `tables`: the CSV;
//! - `compare`: two waves; `fieldwork`: the fieldwork figures of a wave;
//! - `cache`: computed reports kept while their data are unchanged.
//!
//! No arithmetic of the methodology happens here; that is `stats`'s.

mod bootstrap;
pub mod cache;
mod compare;
mod design;
mod distribution;
mod fieldwork;
mod figure;
mod groups;
mod load;
mod options;
mod prepare;
#[cfg(feature = "postgres")]
mod pushdown;
mod report;
mod tables;

pub use compare::{
    compare, compare_csv_header, compare_options, compare_reports, write_compare_csv, CompareReport, CompareRow,
    COMPARE_CSV_HEADER,
};
pub use design::{check_margins, DesignWeights};
pub use distribution::DistributionRow;
pub use fieldwork::fieldwork;
pub use figure::{Figure, Status};
pub use groups::GROUP_SEPARATOR;
pub use load::{default_sources, flags_of, BatchUsed, Exclusions, Selection};
pub use options::{
    parse_lonely_psu, parse_margins, parse_sources, parse_weight_bounds, AnalysisError, IndexOptions, SourceChoice,
    Variance, Weights, MAX_REPLICATES,
};
pub use report::{
    indices, indices_by, indices_until, Computation, IndexReport, IndexRow, MissingCounts, PopulationRow, TopBox, Total,
};
pub use tables::{index_csv_header, write_index_csv, INDEX_CSV_HEADER};
