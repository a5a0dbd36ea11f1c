//! The benchmark's results: one row per measurement with its unit, the
//! conditions of the run, and the phases that failed; printed as a table
//! and written as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;

/// One measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Row {
    /// The phase it belongs to (`setup`, `memory`, `forwarding 64 B`, …).
    pub(crate) section: String,
    /// What was measured.
    pub(crate) measurement: String,
    /// The figure; `None` when it could not be measured.
    pub(crate) value: Option<f64>,
    /// Its unit.
    pub(crate) unit: String,
    /// How to read it.
    pub(crate) note: String,
}

/// Figures side by side (e.g. one column per setting compared).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Table {
    /// What it compares.
    pub(crate) title: String,
    /// Column headers.
    pub(crate) header: Vec<String>,
    /// Cells, one row per compared run.
    pub(crate) rows: Vec<Vec<String>>,
}

/// Everything the run measured.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Report {
    /// Settings and machine conditions.
    pub(crate) conditions: BTreeMap<String, String>,
    /// Measurements, in the order taken.
    pub(crate) rows: Vec<Row>,
    /// Phases that failed, with why.
    pub(crate) failures: Vec<String>,
    /// Side-by-side tables, printed after the rows.
    pub(crate) tables: Vec<Table>,
}

impl Report {
    /// Records a condition of the run.
    pub(crate) fn condition(&mut self, key: &str, value: impl ToString) {
        self.conditions.insert(key.to_owned(), value.to_string());
    }

    /// Records a measurement.
    pub(crate) fn row(
        &mut self,
        section: &str,
        measurement: &str,
        value: f64,
        unit: &str,
        note: impl Into<String>,
    ) {
        self.rows.push(Row {
            section: section.to_owned(),
            measurement: measurement.to_owned(),
            value: value.is_finite().then_some(value),
            unit: unit.to_owned(),
            note: note.into(),
        });
    }

    /// Records a measurement that has a value only sometimes.
    pub(crate) fn maybe_row(
        &mut self,
        section: &str,
        measurement: &str,
        value: Option<f64>,
        unit: &str,
        note: impl Into<String>,
    ) {
        self.rows.push(Row {
            section: section.to_owned(),
            measurement: measurement.to_owned(),
            value: value.filter(|v| v.is_finite()),
            unit: unit.to_owned(),
            note: note.into(),
        });
    }

    /// Records a side-by-side table.
    pub(crate) fn table(&mut self, title: &str, header: &[&str], rows: Vec<Vec<String>>) {
        self.tables.push(Table {
            title: title.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
        });
    }

    /// Records that `phase` failed.
    pub(crate) fn fail(&mut self, phase: &str, error: &anyhow::Error) {
        eprintln!("lac bench: {phase} failed: {error:#}");
        self.failures.push(format!("{phase}: {error:#}"));
    }

    /// Whether any phase failed.
    pub(crate) fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Prints the conditions, the table and the failures.
    pub(crate) fn print(&self) {
        println!();
        println!("tunnelnas LAC benchmark");
        for (key, value) in &self.conditions {
            println!("  {key}: {value}");
        }
        let width = |f: &dyn Fn(&Row) -> usize, header: &str| {
            self.rows.iter().map(f).max().unwrap_or(0).max(header.len())
        };
        let cells: Vec<String> = self.rows.iter().map(|r| format_value(r.value)).collect();
        let w_section = width(&|r| r.section.len(), "phase");
        let w_measure = width(&|r| r.measurement.len(), "measurement");
        let w_value = cells.iter().map(String::len).max().unwrap_or(0).max(5);
        let w_unit = width(&|r| r.unit.len(), "unit");
        println!();
        println!(
            "{:<w_section$}  {:<w_measure$}  {:>w_value$}  {:<w_unit$}  note",
            "phase", "measurement", "value", "unit"
        );
        println!(
            "{}",
            "-".repeat(w_section + w_measure + w_value + w_unit + 14)
        );
        for (row, cell) in self.rows.iter().zip(&cells) {
            println!(
                "{:<w_section$}  {:<w_measure$}  {:>w_value$}  {:<w_unit$}  {}",
                row.section, row.measurement, cell, row.unit, row.note
            );
        }
        for table in &self.tables {
            print_table(table);
        }
        if self.failures.is_empty() {
            println!("\nevery phase completed");
        } else {
            println!("\nFAILED phases:");
            for failure in &self.failures {
                println!("  {failure}");
            }
        }
    }

    /// Writes the report as JSON to `path`.
    pub(crate) fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).context("report to JSON")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Prints `table` with columns as wide as their widest cell.
fn print_table(table: &Table) {
    let columns = table.header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            table
                .rows
                .iter()
                .filter_map(|row| row.get(i).map(String::len))
                .chain(std::iter::once(table.header[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("\n{}", table.title);
    println!("{}", line(&table.header));
    println!("{}", "-".repeat(widths.iter().sum::<usize>() + 2 * columns));
    for row in &table.rows {
        println!("{}", line(row));
    }
}

/// A figure with as many decimals as it deserves.
fn format_value(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_owned(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}
