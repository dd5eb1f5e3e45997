//! The benchmark's report: its rows, report.md and report.json.

use std::fs;
use std::path::Path;

use anyhow::Result;

use super::reference::Facts;

pub struct Row {
    pub what: String,
    pub reference_tool: String,
    pub ours: Vec<f64>,
    pub reference: Vec<f64>,
    pub ours_facts: Facts,
    pub reference_facts: Facts,
}

impl Row {
    pub fn new(what: String, reference_tool: String) -> Row {
        Row { what, reference_tool, ours: vec![], reference: vec![], ours_facts: Facts::default(), reference_facts: Facts::default() }
    }
}

/// Writes the report of the rows so far, so that a later failure keeps them.
pub fn save(bench: &Path, rows: &[Row], notes: &[String]) -> Result<()> {
    fs::write(bench.join("report.md"), render(rows, notes))?;
    fs::write(bench.join("report.json"), json(rows, notes)?)?;
    Ok(())
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn spread(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
}

/// Each run's ratio ours/reference (the two measured back to back): its median,
/// least and greatest. A drift of the machine's speed between runs moves the
/// medians of both sides but hardly a run's own ratio.
pub fn paired(r: &Row) -> Option<(f64, f64, f64)> {
    let ratios: Vec<f64> = r.ours.iter().zip(&r.reference).map(|(o, rf)| o / rf).collect();
    if ratios.is_empty() || r.ours.len() != r.reference.len() {
        return None;
    }
    Some((median(&ratios), ratios.iter().copied().fold(f64::MAX, f64::min), ratios.iter().copied().fold(f64::MIN, f64::max)))
}

fn mib(b: u64) -> f64 {
    b as f64 / 1048576.0
}

pub fn render(rows: &[Row], notes: &[String]) -> String {
    let mut s = String::from("# Benchmark: our writers against the reference tools on the same staged tree\n\n");
    for n in notes {
        s.push_str(&format!("- {n}\n"));
    }
    s.push_str(
        "\n| artifact | reference | ours s, median (spread) | reference s | time ours/ref | per run ours/ref, median (range) | ours MiB | ref MiB \
         | size ours/ref | installed MiB ours / ref | files ours / ref |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (o, rf) = (median(&r.ours), median(&r.reference));
        // Rows without sizes (the repository) show none.
        let sizes = if r.reference_facts.bytes > 0 {
            format!("{:.1} | {:.1} | {:.2}", mib(r.ours_facts.bytes), mib(r.reference_facts.bytes), r.ours_facts.bytes as f64 / r.reference_facts.bytes as f64)
        } else {
            "- | - | -".to_owned()
        };
        let installed = if r.ours_facts.installed_kib == 0 && r.reference_facts.installed_kib == 0 {
            "-".to_owned()
        } else if r.ours_facts.installed_kib > 0 {
            format!("{:.1} / {:.1}", r.ours_facts.installed_kib as f64 / 1024.0, r.reference_facts.installed_kib as f64 / 1024.0)
        } else {
            format!("- / {:.1}", r.reference_facts.installed_kib as f64 / 1024.0)
        };
        let per_run = paired(r).map_or("-".to_owned(), |(m, lo, hi)| format!("{m:.2} ({lo:.2}–{hi:.2})"));
        s.push_str(&format!(
            "| {} | {} | {o:.1} ({:.1}) | {rf:.1} ({:.1}) | {:.2} | {per_run} | {sizes} | {installed} | {} / {} |\n",
            r.what,
            r.reference_tool,
            spread(&r.ours),
            spread(&r.reference),
            o / rf,
            r.ours_facts.files,
            r.reference_facts.files,
        ));
    }
    s.push_str(&format!(
        "\n{} runs each, in turns: ours first in odd runs, the reference first in even ones. The headline's \"ours\" size is the sum of every artifact and its file count the number of artifacts.\n",
        rows.first().map_or(0, |r| r.ours.len())
    ));
    s
}

/// report.json: every row with its times, medians and facts, and the notes.
fn json(rows: &[Row], notes: &[String]) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Report<'a> {
        notes: &'a [String],
        rows: Vec<JsonRow<'a>>,
    }
    #[derive(serde::Serialize)]
    struct JsonRow<'a> {
        artifact: &'a str,
        reference_tool: &'a str,
        ours_s: &'a [f64],
        reference_s: &'a [f64],
        ours_median_s: f64,
        reference_median_s: f64,
        /// Each run's ratio ours/reference: median, least, greatest.
        per_run_ratio: Option<(f64, f64, f64)>,
        ours: &'a Facts,
        reference: &'a Facts,
    }
    let rows = rows
        .iter()
        .map(|r| JsonRow {
            artifact: &r.what,
            reference_tool: &r.reference_tool,
            ours_s: &r.ours,
            reference_s: &r.reference,
            ours_median_s: median(&r.ours),
            reference_median_s: median(&r.reference),
            per_run_ratio: paired(r),
            ours: &r.ours_facts,
            reference: &r.reference_facts,
        })
        .collect();
    Ok(serde_json::to_string_pretty(&Report { notes, rows })? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_json_whatever_the_names_say() {
        let mut row = Row::new("a \"quoted\" name\\ with\ttab, é and \u{1}".into(), "dpkg-deb -Zxz".into());
        row.ours = vec![1.0, 3.0, 2.0];
        row.reference = vec![4.0];
        row.ours_facts.files = 7;
        let text = json(&[row], &["a note with \"quotes\"".into()]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["rows"][0]["artifact"], "a \"quoted\" name\\ with\ttab, é and \u{1}");
        assert_eq!(v["rows"][0]["ours_median_s"], 2.0);
        assert_eq!(v["rows"][0]["reference_s"][0], 4.0);
        assert_eq!(v["rows"][0]["ours"]["files"], 7);
        // One reference time for three of ours: no pairs to take ratios of.
        assert_eq!(v["rows"][0]["per_run_ratio"], serde_json::Value::Null);
        assert_eq!(v["notes"][0], "a note with \"quotes\"");
    }

    #[test]
    fn each_run_is_a_pair() {
        let mut row = Row::new("x".into(), "y".into());
        // The machine slows down by half in the second run: both sides do.
        row.ours = vec![9.0, 13.5, 9.5];
        row.reference = vec![10.0, 15.0, 10.0];
        let (median, least, greatest) = paired(&row).unwrap();
        assert!((median - 0.9).abs() < 1e-9 && (least - 0.9).abs() < 1e-9 && (greatest - 0.95).abs() < 1e-9, "{median} {least} {greatest}");
        assert!(render(&[row], &[]).contains("| 0.90 (0.90–0.95) |"));
    }
}
