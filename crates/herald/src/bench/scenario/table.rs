//! `herald bench table`: the scenario results (`--out` JSON files) as one Markdown table in the
//! issue's row order, printed or written into a document between two marker comments.

use super::ScenarioReport;
use super::verdict::Check;
use anyhow::Context as _;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Marks where the generated table starts and ends in BENCHMARKS.md.
pub const START_MARKER: &str = "<!-- bench-table:start -->";
pub const END_MARKER: &str = "<!-- bench-table:end -->";

/// The rows, in its order.
const ROW_ORDER: [&str; 10] = [
    "single", "bare", "batch", "deliver", "rate", "latency", "e2e", "get", "search", "rss",
];

#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Result files written by `herald bench <scenario> --out FILE`.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Replace the text between the bench-table markers of this file instead of printing.
    #[arg(long)]
    pub into: Option<PathBuf>,
    /// A line printed above the table (e.g. the commit and the durations).
    #[arg(long)]
    pub heading: Option<String>,
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The table: one line per check, ordered as in the issue, with the scenario's server counters.
pub fn render(reports: &[ScenarioReport]) -> String {
    let mut rows: Vec<(&ScenarioReport, &Check)> = reports
        .iter()
        .flat_map(|r| r.checks.iter().map(move |c| (r, c)))
        .collect();
    let rank = |row: &str| {
        ROW_ORDER
            .iter()
            .position(|r| *r == row)
            .unwrap_or(ROW_ORDER.len())
    };
    rows.sort_by_key(|(_, c)| rank(&c.row));
    let mut out = String::from(
        "| row | scenario (run) | target | measured | result | fsyncs/s | mean commit batch | notes |\n\
         |---|---|---|---|---|---:|---:|---|\n",
    );
    for (report, check) in rows {
        let _ = writeln!(
            out,
            "| {} | `{}` ({:.0} s) | {} | {} | **{}** | {} | {} | {} |",
            cell(&check.row),
            cell(&report.scenario),
            report.duration_secs,
            cell(&check.target),
            cell(&check.measured),
            check.verdict.label(),
            report
                .fsyncs_per_sec
                .map_or("-".into(), |v| format!("{v:.0}")),
            report
                .mean_commit_batch
                .map_or("-".into(), |v| format!("{v:.1}")),
            cell(&check.note),
        );
    }
    out
}

/// `doc` with everything between the markers replaced by `content`.
pub fn replace_between_markers(doc: &str, content: &str) -> anyhow::Result<String> {
    let start = doc
        .find(START_MARKER)
        .context("no bench-table start marker")?;
    let after_start = start + START_MARKER.len();
    let end = doc[after_start..]
        .find(END_MARKER)
        .map(|i| after_start + i)
        .context("no bench-table end marker after the start marker")?;
    Ok(format!(
        "{}\n{}\n{}",
        &doc[..after_start],
        content.trim_end(),
        &doc[end..]
    ))
}

pub fn run(args: &TableArgs) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for path in &args.files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        reports.push(
            serde_json::from_str::<ScenarioReport>(&text)
                .with_context(|| format!("{} is not a scenario result", path.display()))?,
        );
    }
    let mut table = String::new();
    if let Some(heading) = &args.heading {
        let _ = writeln!(table, "{heading}\n");
    }
    table.push_str(&render(&reports));
    match &args.into {
        None => print!("{table}"),
        Some(path) => {
            let doc = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let doc = replace_between_markers(&doc, &table)
                .with_context(|| path.display().to_string())?;
            std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
