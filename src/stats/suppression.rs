//! Complementary suppression: a withheld small cell must not be
//! recoverable by subtraction from the figures published beside it
//! (docs/statistics.md §6.2). Methodology, so it lives in the engine; any
//! table of published cells uses it through [`Cell`].
//!
//! A suppressed group could be recovered wherever it is the only one
//! withheld among groups that add up to a published figure: all the groups
//! of a figure (they make the whole sample), and, in a two-way table, each
//! row and each column (they make that row's or column's one-way figure).
//! In each such line with exactly one cell withheld, the smallest other
//! non-empty cell of the line is withheld too, repeated until no line has
//! a lone withheld cell. The smallest complement hides the least.

use std::collections::HashMap;
use std::hash::Hash;

/// Separates the answers of a two-way group's name: `huancui|60+`. The
/// rule reads a two-way table's rows and columns from it. Option values
/// never contain it.
pub const GROUP_SEPARATOR: char = '|';

/// What every published cell says about itself for suppression.
pub trait Cell {
    /// The group's name (`None`: the whole sample, never a cell of a line).
    fn group(&self) -> Option<&str>;
    /// Respondents behind the cell.
    fn n(&self) -> u64;
    fn suppressed(&self) -> bool;
    /// Withhold every figure of the cell, saying why.
    fn withhold(&mut self, note: &str);
}

const NOTE: &str = "suppressed to protect a smaller cell from recovery by subtraction";

/// Protect every suppressed cell; `figure` names what the cells of one
/// table share (for indices: level and id), so each figure's groups form
/// their own lines.
pub fn protect_suppressed_cells<C: Cell, K: Hash + Eq>(rows: &mut [C], figure: impl Fn(&C) -> K) {
    let mut tables: HashMap<K, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.group().is_some() {
            tables.entry(figure(r)).or_default().push(i);
        }
    }
    for cells in tables.values() {
        let lines = lines(rows, cells);
        let lone = |rows: &[C], line: &Vec<usize>| line.iter().filter(|&&i| rows[i].suppressed()).count() == 1;
        loop {
            let mut changed = false;
            for (l, line) in lines.iter().enumerate() {
                if !lone(rows, line) {
                    continue;
                }
                // Among the smallest, prefer a cell whose other line also
                // has a lone withheld cell: one complement then mends both.
                let mends_another = |i: usize| {
                    lines
                        .iter()
                        .enumerate()
                        .any(|(k, other)| k != l && other.contains(&i) && lone(rows, other))
                };
                let complement = line
                    .iter()
                    .copied()
                    .filter(|&i| !rows[i].suppressed() && rows[i].n() > 0)
                    .min_by_key(|&i| (!mends_another(i), rows[i].n()));
                if let Some(p) = complement {
                    rows[p].withhold(NOTE);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
}

/// The lines of one figure's cells: in a two-way table each row and each
/// column first, then every cell together.
fn lines<C: Cell>(rows: &[C], cells: &[usize]) -> Vec<Vec<usize>> {
    let parts = |i: usize| -> Vec<&str> { rows[i].group().unwrap_or("").split(GROUP_SEPARATOR).collect() };
    let mut lines: Vec<Vec<usize>> = Vec::new();
    let factors = cells.first().map_or(0, |&i| parts(i).len());
    if factors > 1 {
        for f in 0..factors {
            let mut by_value: Vec<(&str, Vec<usize>)> = Vec::new();
            for &i in cells {
                let value = parts(i)[f];
                match by_value.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, line)) => line.push(i),
                    None => by_value.push((value, vec![i])),
                }
            }
            lines.extend(by_value.into_iter().map(|(_, line)| line));
        }
    }
    lines.push(cells.to_vec());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain {
        group: String,
        n: u64,
        suppressed: bool,
        note: Option<String>,
    }

    impl Cell for Plain {
        fn group(&self) -> Option<&str> {
            Some(&self.group)
        }
        fn n(&self) -> u64 {
            self.n
        }
        fn suppressed(&self) -> bool {
            self.suppressed
        }
        fn withhold(&mut self, note: &str) {
            self.suppressed = true;
            self.note = Some(note.into());
        }
    }

    fn table(cells: &[(&str, u64)], min_cell: u64) -> Vec<Plain> {
        cells
            .iter()
            .map(|&(g, n)| Plain {
                group: g.into(),
                n,
                suppressed: n > 0 && n < min_cell,
                note: None,
            })
            .collect()
    }

    fn withheld(rows: &[Plain]) -> Vec<&str> {
        rows.iter().filter(|r| r.suppressed).map(|r| r.group.as_str()).collect()
    }

    #[test]
    fn the_smallest_complement_protects_a_lone_suppressed_cell() {
        let mut rows = table(
            &[
                ("huancui", 321),
                ("wendeng", 4),
                ("gaoqu", 12),
                ("lingang", 0),
                ("rushan", 90),
            ],
            10,
        );
        protect_suppressed_cells(&mut rows, |_| ());
        assert_eq!(
            withheld(&rows),
            ["wendeng", "gaoqu"],
            "not the 321, and not the empty cell"
        );
        assert!(rows[2].note.as_deref().unwrap().contains("protect"));
        assert!(!rows[3].suppressed, "an empty cell is empty, not withheld");
        // Two small cells protect each other: nothing more to withhold.
        let mut two = table(&[("a", 4), ("b", 5), ("c", 400)], 10);
        protect_suppressed_cells(&mut two, |_| ());
        assert_eq!(withheld(&two), ["a", "b"]);
    }

    #[test]
    fn two_way_tables_protect_every_row_and_column() {
        // 2 districts × 3 age groups; one small cell.
        let mut rows = table(
            &[
                ("h|young", 5),
                ("h|mid", 40),
                ("h|old", 30),
                ("w|young", 25),
                ("w|mid", 60),
                ("w|old", 80),
            ],
            10,
        );
        protect_suppressed_cells(&mut rows, |_| ());
        let hidden = withheld(&rows);
        // Its row (h) and its column (young) each lose their smallest other
        // cell, and the cell that closes the rectangle keeps every line at
        // two or more.
        assert_eq!(hidden, ["h|young", "h|old", "w|young", "w|old"]);
        for line in [["h|young", "h|mid", "h|old"], ["w|young", "w|mid", "w|old"]] {
            let n = line.iter().filter(|g| hidden.contains(g)).count();
            assert!(n != 1, "{line:?}");
        }
        for line in [["h|young", "w|young"], ["h|mid", "w|mid"], ["h|old", "w|old"]] {
            let n = line.iter().filter(|g| hidden.contains(g)).count();
            assert!(n != 1, "{line:?}");
        }
    }

    #[test]
    fn each_figure_is_its_own_table() {
        let mut rows = table(&[("a", 4), ("b", 50), ("c", 400), ("a", 40), ("b", 50), ("c", 400)], 10);
        // The first three cells are one figure, the last three another.
        rows.iter_mut()
            .enumerate()
            .for_each(|(i, r)| r.group = format!("{}#{}", r.group, i / 3));
        protect_suppressed_cells(&mut rows, |r| r.group.ends_with("#1"));
        assert_eq!(
            withheld(&rows),
            ["a#0", "b#0"],
            "the second figure has nothing to protect"
        );
    }
}
