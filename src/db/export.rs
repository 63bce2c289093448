//! The per-wave figures an export's design columns are made of: responses
//! per stratum and source (for the frame's design weights N_h / r_h) and the
//! wave's median completion time (for the speeder flag). Each is one small
//! aggregate query, so an export of a million responses never holds them.

use super::schema::{answers, responses};
use super::{Database, DbError};
use crate::fieldwork::Source;
use diesel::prelude::*;

impl Database {
    /// Responses of a wave that came in by `source`, per stored stratum
    /// (the invitation's, for invited responses).
    pub fn responses_per_stratum(
        &self,
        slug: &str,
        wave: i32,
        source: Source,
    ) -> Result<Vec<(Option<String>, u64)>, DbError> {
        let rows: Vec<(Option<String>, i64)> = responses::table
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .filter(responses::source.eq(source.as_str()))
            .group_by(responses::stratum)
            .select((responses::stratum, diesel::dsl::count_star()))
            .load(&mut self.conn()?)?;
        Ok(rows.into_iter().map(|(s, n)| (s, n as u64)).collect())
    }

    /// Responses of a wave that came in by `source`, per answer to
    /// `question` (those without an answer are not counted).
    pub fn responses_per_answer(
        &self,
        slug: &str,
        wave: i32,
        source: Source,
        question: &str,
    ) -> Result<Vec<(String, u64)>, DbError> {
        let rows: Vec<(String, i64)> = responses::table
            .inner_join(answers::table)
            .filter(responses::survey_slug.eq(slug))
            .filter(responses::wave.eq(wave))
            .filter(responses::source.eq(source.as_str()))
            .filter(answers::question_id.eq(question))
            .group_by(answers::value)
            .select((answers::value, diesel::dsl::count_star()))
            .load(&mut self.conn()?)?;
        Ok(rows.into_iter().map(|(v, n)| (v, n as u64)).collect())
    }

    /// The median completion time of a wave over every response with one
    /// (the mean of the middle two for an even count), as
    /// `fieldwork::quality::median_seconds` takes it; read with two
    /// single-row queries, so a wave of any size costs no memory here.
    pub fn median_duration(&self, slug: &str, wave: i32) -> Result<Option<f64>, DbError> {
        let mut conn = self.conn()?;
        let timed = || {
            responses::table
                .filter(responses::survey_slug.eq(slug))
                .filter(responses::wave.eq(wave))
                .filter(responses::duration_seconds.ge(0))
        };
        let n: i64 = timed().count().get_result(&mut conn)?;
        if n == 0 {
            return Ok(None);
        }
        let mut at = |offset: i64| -> Result<f64, DbError> {
            let seconds: Option<i32> = timed()
                .select(responses::duration_seconds)
                .order(responses::duration_seconds)
                .offset(offset)
                .first(&mut conn)?;
            Ok(f64::from(seconds.unwrap_or(0)))
        };
        let mid = n / 2;
        Ok(Some(if n % 2 == 1 {
            at(mid)?
        } else {
            (at(mid - 1)? + at(mid)?) / 2.0
        }))
    }
}

impl Database {
    /// How many responses an export of `slug` (one wave, or all) holds.
    pub fn count_responses(&self, slug: &str, wave: Option<i32>) -> Result<u64, DbError> {
        let mut query = responses::table.filter(responses::survey_slug.eq(slug)).into_boxed();
        if let Some(wave) = wave {
            query = query.filter(responses::wave.eq(wave));
        }
        let n: i64 = query.count().get_result(&mut self.conn()?)?;
        Ok(n as u64)
    }
}
