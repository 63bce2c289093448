//! How current a survey's data are: a number per wave that grows with
//! every change to what its indices rest on, kept by triggers in the
//! database itself (see the migration `data_generations`), so that every
//! writer moves it, in this process or another. A computed result kept
//! with the generation it was computed at is current exactly while the
//! generation is unchanged.

use super::schema::data_generations;
use super::{Database, DbError};
use diesel::prelude::*;

/// The generation of every wave of one survey that ever held data, as of
/// one moment. Two readings are equal only when nothing an index depends
/// on changed in between (for one wave: compare [`Self::for_wave`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DataGeneration {
    /// (wave, generation), by wave.
    waves: Vec<(i32, i64)>,
}

impl DataGeneration {
    /// A reading from known numbers, (wave, generation) in any order.
    pub fn from_waves(waves: impl IntoIterator<Item = (i32, i64)>) -> DataGeneration {
        let mut waves: Vec<(i32, i64)> = waves.into_iter().collect();
        waves.sort_unstable();
        waves.dedup_by_key(|&mut (w, _)| w);
        DataGeneration { waves }
    }

    /// The generation of one wave; 0 for a wave that never held data.
    pub fn wave(&self, wave: i32) -> i64 {
        self.waves
            .binary_search_by_key(&wave, |&(w, _)| w)
            .map_or(0, |i| self.waves[i].1)
    }

    /// What a result about `wave` depends on: that wave's generation; with
    /// no wave (the latest wave), every wave's, since a response in a new
    /// wave changes which wave is the latest.
    pub fn for_wave(&self, wave: Option<i32>) -> DataGeneration {
        match wave {
            None => self.clone(),
            Some(w) => DataGeneration {
                waves: vec![(w, self.wave(w))],
            },
        }
    }
}

impl std::fmt::Display for DataGeneration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.waves.iter().map(|(w, g)| format!("{w}:{g}")).collect();
        write!(f, "{}", parts.join(","))
    }
}

impl Database {
    /// The data generation of survey `slug`: one primary-key range read of
    /// a row per wave, whatever the number of responses.
    pub fn data_generation(&self, slug: &str) -> Result<DataGeneration, DbError> {
        let waves: Vec<(i32, i64)> = data_generations::table
            .filter(data_generations::survey_slug.eq(slug))
            .order(data_generations::wave)
            .select((data_generations::wave, data_generations::generation))
            .load(&mut self.conn()?)?;
        Ok(DataGeneration { waves })
    }
}
