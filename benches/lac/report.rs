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

/// Everything the run measured.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Report {
    /// Settings and machine conditions.
    pub(crate) conditions: BTreeMap<String, String>,
    /// Measurements, in the order taken.
    pub(crate) rows: Vec<Row>,
    /// Phases that failed, with why.
    pub(crate) failures: Vec<String>,
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

/// A figure with as many decimals as it deserves.
fn format_value(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_owned(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}
