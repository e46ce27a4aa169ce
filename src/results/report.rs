//! `infmax report`: one SVG chart per (model, ISL/OSL) — throughput per GPU
//! against interactivity, one line per (hardware, framework, precision,
//! spec-decoding), the Pareto frontier marked — and a self-contained
//! `report.html` with the tables and the charts.

use super::collect;
use super::record::ProcessedResult;
use crate::error::{Error, Result};
use crate::fsutil;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const W: f64 = 960.0;
const H: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 330.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 20] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22", "#393b79", "#e7ba52", "#637939", "#ad494a", "#3182bd", "#31a354",
    "#756bb1", "#fd8d3c", "#843c39", "#17a768",
];

/// Escapes text for XML/HTML.
pub(crate) fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: f64,
    pub(crate) y: f64,
}

/// Points not dominated by another (higher or equal on both axes, higher on one), by x.
pub(crate) fn pareto(points: &[Point]) -> Vec<Point> {
    let mut front: Vec<Point> = points
        .iter()
        .filter(|p| {
            !points
                .iter()
                .any(|q| q.x >= p.x && q.y >= p.y && (q.x > p.x || q.y > p.y))
        })
        .copied()
        .collect();
    front.sort_by(|a, b| a.x.total_cmp(&b.x));
    front.dedup();
    front
}

/// A "nice" upper bound and tick step for an axis from 0 to `max`.
fn nice(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

fn fmt_tick(v: f64) -> String {
    if v >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One line of a chart: its envelope drawn, every point a dot.
pub(crate) struct Line {
    pub(crate) label: String,
    pub(crate) points: Vec<Point>,
    /// Index into the palette.
    pub(crate) color: usize,
    pub(crate) dashed: bool,
}

/// One chart. `series`: (label, points), with the frontier of all of them.
pub(crate) fn svg(title: &str, series: &[(String, Vec<Point>)]) -> String {
    let lines: Vec<Line> = series
        .iter()
        .enumerate()
        .map(|(i, (label, points))| Line {
            label: label.clone(),
            points: points.clone(),
            color: i,
            // Past the palette, the same colours come back dashed.
            dashed: i >= COLORS.len(),
        })
        .collect();
    svg_lines(title, &lines, true)
}

/// One chart of `lines`; `frontier`: also the Pareto frontier of all points.
pub(crate) fn svg_lines(title: &str, series: &[Line], frontier: bool) -> String {
    let all: Vec<Point> = series
        .iter()
        .flat_map(|l| l.points.iter().copied())
        .collect();
    let (xmax, xstep) = nice(all.iter().map(|p| p.x).fold(0.0, f64::max));
    let (ymax, ystep) = nice(all.iter().map(|p| p.y).fold(0.0, f64::max));
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + x / xmax * pw;
    let sy = |y: f64| TOP + ph - y / ymax * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        o,
        r#"<text x="{}" y="22" font-size="16" font-weight="bold">{}</text>"#,
        LEFT,
        xml(title)
    );
    // Grid and ticks.
    let mut t = 0.0;
    while t <= xmax + 1e-9 {
        let x = sx(t);
        let _ = write!(
            o,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            fmt_tick(t)
        );
        t += xstep;
    }
    let mut t = 0.0;
    while t <= ymax + 1e-9 {
        let y = sy(t);
        let _ = write!(
            o,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(t)
        );
        t += ystep;
    }
    let _ = write!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = write!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Interactivity (tok/s/user)</text>"#,
        LEFT + pw / 2.0,
        H - 10.0
    );
    let _ = write!(
        o,
        r#"<text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle">Throughput per GPU (tok/s)</text>"#,
        TOP + ph / 2.0
    );
    for (i, line) in series.iter().enumerate() {
        let (label, pts) = (&line.label, &line.points);
        let color = COLORS[line.color % COLORS.len()];
        let dash = if line.dashed {
            r#" stroke-dasharray="8,3""#
        } else {
            ""
        };
        // The line is the series' own envelope (its best configurations);
        // every measured point is a dot.
        let path: Vec<String> = pareto(pts)
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.y)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        );
        for p in pts {
            let _ = write!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}" fill-opacity="0.6"/>"#,
                sx(p.x),
                sy(p.y)
            );
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let _ = write!(
            o,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            W - RIGHT + 15.0,
            W - RIGHT + 35.0,
            W - RIGHT + 40.0,
            ly + 4.0,
            xml(label)
        );
    }
    let front = if frontier { pareto(&all) } else { Vec::new() };
    if !front.is_empty() {
        let path: Vec<String> = front
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.y)))
            .collect();
        let _ = write!(
            o,
            r##"<polyline points="{}" fill="none" stroke="#000" stroke-width="1.5" stroke-dasharray="5,4"/>"##,
            path.join(" ")
        );
        for p in &front {
            let _ = write!(
                o,
                r##"<circle cx="{:.1}" cy="{:.1}" r="6" fill="none" stroke="#000" stroke-width="1.5"/>"##,
                sx(p.x),
                sy(p.y)
            );
        }
        let ly = TOP + 10.0 + series.len() as f64 * 18.0 + 6.0;
        let _ = write!(
            o,
            r##"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="#000" stroke-dasharray="5,4"/><text x="{:.1}" y="{:.1}">Pareto frontier</text>"##,
            W - RIGHT + 15.0,
            W - RIGHT + 35.0,
            W - RIGHT + 40.0,
            ly + 4.0
        );
    }
    o.push_str("</svg>\n");
    o
}

/// Charts keyed by (model prefix, seq-len name), each with its series.
/// A chart's lines: (label, points).
pub(crate) type Series = Vec<(String, Vec<Point>)>;

pub(crate) fn charts(results: &[Value]) -> BTreeMap<(String, String), Series> {
    let mut out: BTreeMap<(String, String), BTreeMap<String, Vec<Point>>> = BTreeMap::new();
    for r in results.iter().map(ProcessedResult::read) {
        let (x, y) = (r.median_intvty(), r.tput_per_gpu);
        if x.is_nan() || y.is_nan() {
            continue;
        }
        let mut label = format!("{} {} {}", r.hw.to_uppercase(), r.framework, r.precision);
        if !r.spec_decoding.is_empty() && r.spec_decoding != "none" {
            label.push_str(&format!(" {}", r.spec_decoding));
        }
        if r.is_multinode {
            label.push_str(" (multi-node)");
        }
        out.entry((r.infmax_model_prefix.clone(), r.seq_name()))
            .or_default()
            .entry(label)
            .or_default()
            .push(Point { x, y });
    }
    out.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

fn html_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut o = String::from("<table><thead><tr>");
    for h in header {
        let _ = write!(o, "<th>{}</th>", xml(h));
    }
    o.push_str("</tr></thead><tbody>");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{}</td>", xml(c));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

/// Percent-encodes text for a `data:` URI (everything but unreserved bytes).
fn data_uri_text(s: &str) -> String {
    let mut o = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// Writes the charts and report.html into `out`; returns the files written.
/// `comparison`: overlay charts of `infmax compare` (file name, SVG), shown
/// first under their own heading.
pub(crate) fn write(
    results: &[Value],
    out: &Path,
    notice: Option<&str>,
    comparison: &[(String, String)],
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::env(format!("cannot create {}: {e}", out.display())))?;
    let mut written = Vec::new();
    let mut names = fsutil::FileNames::default();
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>infmax report</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px;margin-bottom:2em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}.notice{background:#fff3cd;padding:1em;border:1px solid #e0c060}</style></head><body><h1>infmax report</h1>",
    );
    if let Some(n) = notice {
        let _ = write!(html, "<p class=\"notice\">{}</p>", xml(n));
    }
    if !comparison.is_empty() {
        html.push_str("<h2>Comparison with the baseline</h2><p>Each series in one colour: the baseline dashed, this run solid (verdicts in compare.md).</p>");
        for (name, svg) in comparison {
            let path = out.join(names.next(name.trim_end_matches(".svg"), ".svg"));
            fsutil::atomic_write(&path, svg.as_bytes())
                .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
            written.push(path);
            // As an image: a chart read back from a folder runs no script
            // in the report, whatever it holds.
            let _ = write!(
                html,
                "<p><img alt=\"{}\" src=\"data:image/svg+xml;charset=utf-8,{}\"></p>",
                xml(name),
                data_uri_text(svg)
            );
        }
    }
    for ((model, seq), series) in charts(results) {
        let svg = svg(
            &format!("{model} {seq}: throughput per GPU vs interactivity"),
            &series,
        );
        let path = out.join(names.next(&format!("{model}_{seq}"), ".svg"));
        fsutil::atomic_write(&path, svg.as_bytes())
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
        written.push(path);
        let _ = write!(html, "<h2>{} {}</h2>{}", xml(&model), xml(&seq), svg);
    }
    if let Some((h, rows)) = collect::single_node_table(results) {
        let _ = write!(
            html,
            "<h2>Single-node results</h2>{}",
            html_table(&h, &rows)
        );
    }
    if let Some((h, rows)) = collect::multi_node_table(results) {
        let _ = write!(html, "<h2>Multi-node results</h2>{}", html_table(&h, &rows));
    }
    if results.is_empty() {
        html.push_str("<p>No benchmark results found.</p>");
    }
    html.push_str("</body></html>\n");
    let path = out.join("report.html");
    fsutil::atomic_write(&path, html.as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    written.push(path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_frontier() {
        let pts = [
            Point { x: 10.0, y: 100.0 },
            Point { x: 20.0, y: 80.0 },
            Point { x: 15.0, y: 70.0 },
            Point { x: 30.0, y: 20.0 },
            Point { x: 5.0, y: 100.0 },
        ];
        assert_eq!(
            pareto(&pts),
            vec![
                Point { x: 10.0, y: 100.0 },
                Point { x: 20.0, y: 80.0 },
                Point { x: 30.0, y: 20.0 }
            ]
        );
    }

    #[test]
    fn nice_axes() {
        assert_eq!(nice(93.0), (100.0, 20.0));
        assert_eq!(nice(4200.0), (5000.0, 1000.0));
        assert_eq!(nice(0.0), (1.0, 0.2));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = svg(
            "<b>x</b>",
            &[("a<script>".into(), vec![Point { x: 1.0, y: 2.0 }])],
        );
        assert!(
            svg.contains("&lt;b&gt;x&lt;/b&gt;")
                && svg.contains("a&lt;script&gt;")
                && !svg.contains("<script>")
        );
    }
}
