//! A small SVG writer for the report: the latency distribution of each engine and queue
//! depth (log-scaled time axis), and a bar per engine and queue depth of median IOPS.
//! Formats the [`Report`]; computes nothing but pixel positions.

use super::report::{Report, RunResult};
use std::fmt::Write;

const W: f64 = 900.0;
const H: f64 = 760.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn time_label(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.0} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.0} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The run of each (engine, qd) series whose IOPS is the median of its rounds.
fn representative(rep: &Report) -> Vec<&RunResult> {
    rep.summary
        .iter()
        .filter_map(|s| {
            rep.runs
                .iter()
                .filter(|r| r.engine == s.engine && r.qd == s.qd)
                .min_by(|a, b| {
                    (a.iops - s.iops_median)
                        .abs()
                        .total_cmp(&(b.iops - s.iops_median).abs())
                })
        })
        .collect()
}

fn latency_panel(svg: &mut String, series: &[&RunResult], top: f64, height: f64) {
    let (x0, x1) = (LEFT, W - RIGHT);
    let mut lo = f64::MAX;
    let mut hi: f64 = 1.0;
    let mut ymax: f64 = 0.0;
    for r in series {
        let total = r.ios.max(1) as f64;
        for b in &r.lat_distribution {
            if b.count > 0 {
                lo = lo.min(b.le_ns as f64);
                hi = hi.max(b.le_ns as f64);
                ymax = ymax.max(b.count as f64 / total * 100.0);
            }
        }
    }
    if lo == f64::MAX {
        lo = 1.0;
    }
    let (llo, lhi) = (
        10f64.powf(lo.max(1.0).log10().floor()),
        10f64.powf(hi.log10().ceil().max(lo.log10().floor() + 1.0)),
    );
    let ymax = if ymax > 0.0 { ymax * 1.1 } else { 1.0 };
    let x = |ns: f64| {
        x0 + (ns.max(llo).log10() - llo.log10()) / (lhi.log10() - llo.log10()) * (x1 - x0)
    };
    let y = |pct: f64| top + height - pct / ymax * height;
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-size="15" font-weight="bold">Completion latency distribution</text>"#,
        x0,
        top - 12.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{top}" width="{}" height="{height}" fill="none" stroke="#444"/>"##,
        x1 - x0
    );
    let mut d = llo;
    while d <= lhi * 1.001 {
        let xx = x(d);
        let _ = writeln!(
            svg,
            r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xx:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            top + height,
            top + height + 15.0,
            time_label(d)
        );
        d *= 10.0;
    }
    for i in 0..=4 {
        let pct = ymax * f64::from(i) / 4.0;
        let yy = y(pct);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{pct:.1}%</text>"#,
            x0 - 6.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">latency (log scale); y: share of I/Os per bucket (bucket width ×1.19)</text>"#,
        (x0 + x1) / 2.0,
        top + height + 34.0
    );
    for (i, r) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let total = r.ios.max(1) as f64;
        let pts: Vec<String> = r
            .lat_distribution
            .iter()
            .map(|b| {
                format!(
                    "{:.1},{:.1}",
                    x(b.le_ns as f64),
                    y(b.count as f64 / total * 100.0)
                )
            })
            .collect();
        if !pts.is_empty() {
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                pts.join(" ")
            );
        }
        let ly = top + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="4" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="12">{} qd {} (p99 {})</text>"#,
            x1 + 12.0,
            ly,
            x1 + 32.0,
            ly + 6.0,
            esc(&r.engine),
            r.qd,
            time_label(r.lat_ns_p99 as f64)
        );
    }
}

fn iops_panel(svg: &mut String, rep: &Report, top: f64, height: f64) {
    let (x0, x1) = (LEFT, W - RIGHT);
    let n = rep.summary.len().max(1);
    let max = rep
        .summary
        .iter()
        .map(|s| s.iops_median)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let _ = writeln!(
        svg,
        r#"<text x="{x0}" y="{}" font-size="15" font-weight="bold">IOPS (median over {} round{}) per engine and queue depth</text>"#,
        top - 12.0,
        rep.config.rounds,
        if rep.config.rounds == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{top}" width="{}" height="{height}" fill="none" stroke="#444"/>"##,
        x1 - x0
    );
    let slot = (x1 - x0) / n as f64;
    let bar = (slot * 0.6).min(120.0);
    let engines: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for s in &rep.summary {
            if !v.contains(&s.engine.as_str()) {
                v.push(&s.engine);
            }
        }
        v
    };
    for (i, s) in rep.summary.iter().enumerate() {
        let h = s.iops_median / max * height;
        let bx = x0 + slot * i as f64 + (slot - bar) / 2.0;
        let by = top + height - h;
        let ci = engines.iter().position(|e| *e == s.engine).unwrap_or(0);
        let ratio = if engines.len() > 1 {
            format!(" ({:.2}×)", s.iops_ratio_to_first)
        } else {
            String::new()
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{bx:.1}" y="{by:.1}" width="{bar:.1}" height="{h:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{:.0}{ratio}</text><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{} qd {}</text>"#,
            COLORS[ci % COLORS.len()],
            bx + bar / 2.0,
            by - 5.0,
            s.iops_median,
            bx + bar / 2.0,
            top + height + 16.0,
            esc(&s.engine),
            s.qd
        );
    }
}

/// Renders the report as an SVG document.
pub fn render(rep: &Report) -> String {
    let c = &rep.config;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="28" font-size="17">aiolos bench: {} bs {}{} {} qd {} jobs {}</text>"#,
        c.rw.name(),
        c.bs_min_bytes,
        if c.bs_max_bytes != c.bs_min_bytes {
            format!("-{}", c.bs_max_bytes)
        } else {
            String::new()
        },
        if c.direct { "O_DIRECT" } else { "buffered" },
        c.qd.iter()
            .map(|q| q.to_string())
            .collect::<Vec<_>>()
            .join(","),
        c.jobs
    );
    let series = representative(rep);
    latency_panel(&mut svg, &series, 80.0, 300.0);
    iops_panel(&mut svg, rep, 480.0, 230.0);
    svg.push_str("</svg>\n");
    svg
}
