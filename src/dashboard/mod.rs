//! What officials read: one survey and wave as a headline, charts with
//! their data tables, the districts, the items to act on first, the trend
//! and the fieldwork. The dashboard pages, their downloads and the yearly
//! report are all drawn from one [`Dashboard`], and every figure in it
//! comes from the engine's [`IndexReport`]s, the same the API serves.
//!
//! - `options`: what the official chose (from and into a query string);
//! - `gather`: which reports a page needs, through a caller's source of
//!   reports (the server's cache, or a direct computation for the CLI);
//! - `figures`: the reports as charts ([`crate::charts`]) and tables;
//! - `methods`: the report's methods section, written from the data.
//!
//! No HTTP here, and no wording of its own: texts come through
//! [`Wording`], so the same model serves zh, en and ko.

mod figures;
mod gather;
mod methods;
mod options;

pub use figures::{ChartBlock, Headline, TableView};
pub use gather::{build, plan, Plan, Reports};
pub use methods::Methods;
pub use options::{weights_name, DashboardOptions, OptionError, LEVELS};

use serde::Serialize;

/// The UI texts of one language: `key` with `{name}` placeholders filled.
pub trait Wording {
    fn lang(&self) -> crate::lang::Lang;
    fn text(&self, key: &str, args: &[(&str, &str)]) -> String;
}

/// A choice offered by a selector of the dashboard's form.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One survey and wave, ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub slug: String,
    pub title: String,
    pub wave: i32,
    /// The options as a query string, for links that must show the same
    /// figures (downloads, the report).
    pub query: String,
    /// The options in words: weights, sources, groups, level, exclusions.
    pub settings: String,
    /// The definition version the figures use, and every version answered.
    pub definition_version: u32,
    pub versions_answered: String,
    pub headline: Headline,
    /// Dimensions, districts, districts by dimension, items, trend.
    pub charts: Vec<ChartBlock>,
    /// Responses and response rates per district (invitation waves).
    pub fieldwork: Option<ChartBlock>,
    pub methods: Methods,
    /// The selectors' choices.
    pub waves: Vec<Choice>,
    pub weights: Vec<Choice>,
    pub sources: Vec<Choice>,
    pub groupings: Vec<Choice>,
    pub levels: Vec<Choice>,
    pub exclusions: Vec<Choice>,
}

impl Dashboard {
    /// The chart (or fieldwork) block called `name`.
    pub fn block(&self, name: &str) -> Option<&ChartBlock> {
        self.charts.iter().chain(&self.fieldwork).find(|b| b.name == name)
    }
}

/// A number as the pages print it: `decimals` places, with the language's
/// usual point (all three use `.`).
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use crate::fieldwork::{Flag, Source};
    use crate::web::i18n::Messages;

    /// Every message key the dashboard asks for, literal or built from a
    /// family (sources, weights, flags), is in the catalog: a typo would
    /// show the key to an official.
    #[test]
    fn every_key_the_dashboard_asks_for_is_in_the_catalog() {
        let messages = Messages::load().unwrap();
        let sources = [
            include_str!("mod.rs"),
            include_str!("gather.rs"),
            include_str!("figures.rs"),
            include_str!("methods.rs"),
        ];
        let mut keys: Vec<String> = sources
            .iter()
            .flat_map(|text| text.match_indices("\"dash_").map(move |(at, _)| &text[at + 1..]))
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .filter(|key: &String| !key.ends_with('_'))
            .collect();
        keys.extend(Source::ALL.iter().map(|s| format!("dash_source_{}", s.as_str())));
        keys.extend(Flag::ALL.iter().map(|f| format!("dash_flag_{}", f.as_str())));
        keys.extend(["none", "design", "raked"].map(|w| format!("dash_weights_{w}")));
        assert!(keys.len() > 80, "{}", keys.len());
        for key in keys {
            assert!(
                messages.has(&key),
                "the dashboard asks for {key}, which messages.toml lacks"
            );
        }
    }
}
