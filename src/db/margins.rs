//! Population margins for raking, stored per survey wave.

use super::connection::on_backend;
use super::schema::population_margins;
use super::{Database, DbError};
use diesel::prelude::*;

/// One population total: `question,value,total` of a margins file.
#[derive(Debug, Clone, PartialEq)]
pub struct MarginTotal {
    pub question: String,
    pub value: String,
    pub total: f64,
}

impl Database {
    /// Replace the population margins of a survey wave.
    pub fn set_margins(&self, slug: &str, wave: i32, margins: &[MarginTotal]) -> Result<(), DbError> {
        self.write_tx(|conn| {
            diesel::delete(
                population_margins::table
                    .filter(population_margins::survey_slug.eq(slug))
                    .filter(population_margins::wave.eq(wave)),
            )
            .execute(conn)?;
            let rows: Vec<_> = margins
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    (
                        population_margins::survey_slug.eq(slug),
                        population_margins::wave.eq(wave),
                        population_margins::position.eq(i as i32),
                        population_margins::question_id.eq(&m.question),
                        population_margins::value.eq(&m.value),
                        population_margins::total.eq(m.total),
                    )
                })
                .collect();
            let insert = diesel::insert_into(population_margins::table).values(&rows);
            on_backend!(conn, c => insert.execute(c))?;
            Ok(())
        })
    }

    /// The stored population margins of a survey wave, in file order.
    pub fn margins(&self, slug: &str, wave: i32) -> Result<Vec<MarginTotal>, DbError> {
        let rows: Vec<(String, String, f64)> = population_margins::table
            .filter(population_margins::survey_slug.eq(slug))
            .filter(population_margins::wave.eq(wave))
            .order(population_margins::position)
            .select((
                population_margins::question_id,
                population_margins::value,
                population_margins::total,
            ))
            .load(&mut self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(question, value, total)| MarginTotal { question, value, total })
            .collect())
    }
}
