//! The benchmark's output: one table row per metric (baseline, proxy, their ratio,
//! the target and whether it was met), notes that back the figures up, and the
//! failures that make the run a bug report.

use std::fmt::Write;

/// How a figure is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    MessagesPerSecond,
    Microseconds,
    Milliseconds,
    Bytes,
}

/// What a row must reach to pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// proxy / baseline at least this.
    RatioAtLeast(f64),
    /// proxy / baseline at most this.
    RatioAtMost(f64),
    /// The proxy's figure itself at most this (in the row's unit).
    ProxyAtMost(f64),
    /// Reported, not judged.
    None,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    pub unit: Unit,
    pub baseline: Option<f64>,
    pub proxy: f64,
    pub target: Target,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.baseline.map(|b| self.proxy / b)
    }

    /// Some(true/false) when judged; None for a reported-only row.
    fn passed(&self) -> Option<bool> {
        match (self.target, self.ratio()) {
            (Target::RatioAtLeast(goal), Some(ratio)) => Some(ratio >= goal),
            (Target::RatioAtMost(goal), Some(ratio)) => Some(ratio <= goal),
            (Target::ProxyAtMost(goal), _) => Some(self.proxy <= goal),
            _ => None,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::RatioAtLeast(goal) => format!(">= {goal}x"),
            Target::RatioAtMost(goal) => format!("<= {goal}x"),
            Target::ProxyAtMost(goal) => format!("<= {}", format_value(goal, self.unit)),
            Target::None => "-".to_string(),
        }
    }
}

/// Everything a run found, printed at the end.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    /// Lost or reordered messages, and scenarios that could not finish.
    failures: Vec<String>,
}

impl Report {
    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub fn failure(&mut self, failure: String) {
        eprintln!("bench: FAILURE: {failure}");
        self.failures.push(failure);
    }

    /// True when nothing was lost and every scenario finished (timings aside).
    pub fn is_sound(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn render(&self, command_line: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "ourocodus bench: {command_line}");
        out.push_str(&self.table());
        for note in &self.notes {
            let _ = writeln!(out, "  * {note}");
        }
        for failure in &self.failures {
            let _ = writeln!(out, "  ! FAILURE: {failure}");
        }
        out
    }

    fn table(&self) -> String {
        let header = ["metric", "baseline", "proxy", "ratio", "target", "result"];
        let cells: Vec<[String; 6]> = self.rows.iter().map(row_cells).collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header = header.map(String::from);
        for row in std::iter::once(&header).chain(&cells) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join(" | ").trim_end());
        }
        out
    }
}

fn row_cells(row: &Row) -> [String; 6] {
    let baseline = row
        .baseline
        .map_or("-".into(), |b| format_value(b, row.unit));
    let ratio = row.ratio().map_or("-".into(), |r| format!("{r:.2}x"));
    let result = match row.passed() {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "info",
    };
    [
        row.metric.clone(),
        baseline,
        format_value(row.proxy, row.unit),
        ratio,
        row.target_text(),
        result.to_string(),
    ]
}

pub fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::MessagesPerSecond => format!("{:.3} M msg/s", value / 1e6),
        Unit::Microseconds => format!("{value:.1} us"),
        Unit::Milliseconds => format!("{value:.1} ms"),
        Unit::Bytes => format!("{:.1} MiB", value / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(baseline: Option<f64>, proxy: f64, target: Target) -> Row {
        Row {
            metric: "m".into(),
            unit: Unit::Microseconds,
            baseline,
            proxy,
            target,
        }
    }

    #[test]
    fn ratio_targets_judge_proxy_over_baseline() {
        assert_eq!(
            row(Some(2.0), 1.0, Target::RatioAtLeast(0.5)).passed(),
            Some(true)
        );
        assert_eq!(
            row(Some(2.0), 0.9, Target::RatioAtLeast(0.5)).passed(),
            Some(false)
        );
        assert_eq!(
            row(Some(10.0), 15.0, Target::RatioAtMost(1.5)).passed(),
            Some(true)
        );
        assert_eq!(
            row(Some(10.0), 16.0, Target::RatioAtMost(1.5)).passed(),
            Some(false)
        );
    }

    #[test]
    fn an_absolute_target_judges_the_proxy_alone_and_none_is_info() {
        assert_eq!(
            row(None, 3.0, Target::ProxyAtMost(4.0)).passed(),
            Some(true)
        );
        assert_eq!(row(Some(1.0), 3.0, Target::None).passed(), None);
    }

    #[test]
    fn the_table_lines_up_and_shows_each_row() {
        let mut report = Report::default();
        report.row(row(Some(10.0), 12.0, Target::RatioAtMost(1.5)));
        report.note("a note".into());
        let text = report.render("ourocodus bench --quick");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("--quick"));
        assert!(lines[1].starts_with("metric | baseline"));
        assert!(
            lines[2].contains("10.0 us")
                && lines[2].contains("1.20x")
                && lines[2].ends_with("pass")
        );
        assert!(text.contains("* a note"));
        assert!(report.is_sound());
    }
}
