//! The SVG plot of a report, drawn with `plotters`: the latency distribution of each engine
//! and queue depth (log-scaled time axis), and a bar per engine and queue depth of median
//! IOPS. Each engine has one colour, in both panels (deeper queue depths a lighter shade of
//! it). Formats the [`Report`]; computes nothing but positions.

use super::report::{Report, RunResult};
use super::text::{bytes, time};
use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

const SIZE: (u32, u32) = (900, 780);
const FONT: &str = "sans-serif";
/// One colour per engine, in the order the engines appear in the report.
const ENGINE_COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// The engines of the report, in order of first appearance.
fn engines(rep: &Report) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for s in &rep.summary {
        if !v.contains(&s.engine.as_str()) {
            v.push(&s.engine);
        }
    }
    v
}

/// The colour of one (engine, queue depth) series: the engine's colour, lighter for each
/// further queue depth of the same engine.
fn colour(rep: &Report, engine: &str, qd: u32) -> RGBColor {
    let e = engines(rep).iter().position(|x| *x == engine).unwrap_or(0);
    let base = ENGINE_COLOURS[e % ENGINE_COLOURS.len()];
    let k = rep
        .summary
        .iter()
        .filter(|s| s.engine == engine)
        .position(|s| s.qd == qd)
        .unwrap_or(0);
    let light = |c: u8| c + ((255 - c) as f64 * (0.25 * k as f64).min(0.6)) as u8;
    RGBColor(light(base.0), light(base.1), light(base.2))
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

/// The title: the same words as the text report's first line.
fn title(rep: &Report) -> String {
    let c = &rep.config;
    let bs = if c.bs_min_bytes == c.bs_max_bytes {
        bytes(c.bs_min_bytes)
    } else {
        format!("{}-{}", bytes(c.bs_min_bytes), bytes(c.bs_max_bytes))
    };
    let qd: Vec<String> = c.qd.iter().map(|q| q.to_string()).collect();
    format!(
        "aiolos bench: {}, bs {bs}, {}, qd {}, {} job{}",
        c.rw.name(),
        if c.direct { "O_DIRECT" } else { "buffered" },
        qd.join(","),
        c.jobs,
        if c.jobs == 1 { "" } else { "s" }
    )
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn latency_panel(area: &Area<'_>, rep: &Report) -> Result<()> {
    let series = representative(rep);
    let share = |r: &RunResult, count: u64| count as f64 / r.ios.max(1) as f64 * 100.0;
    let mut lo = f64::MAX;
    let (mut hi, mut ymax) = (1.0f64, 0.0f64);
    for r in &series {
        for b in r.lat_distribution.iter().filter(|b| b.count > 0) {
            lo = lo.min(b.le_ns as f64);
            hi = hi.max(b.le_ns as f64);
            ymax = ymax.max(share(r, b.count));
        }
    }
    if lo == f64::MAX {
        lo = 1.0;
    }
    let lo = 10f64.powf(lo.max(1.0).log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    let ymax = if ymax > 0.0 { ymax * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption("Completion latency distribution", (FONT, 18))
        .margin(12)
        .margin_right(36)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("completion latency (log scale)")
        .y_desc("share of I/Os per bucket (%)")
        .x_label_formatter(&|v| time(*v))
        .y_label_formatter(&|v| format!("{v}%"))
        .axis_desc_style((FONT, 14))
        .draw()?;
    for r in &series {
        let c = colour(rep, &r.engine, r.qd);
        let points = r
            .lat_distribution
            .iter()
            .map(|b| (b.le_ns.max(1) as f64, share(r, b.count)));
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))?
            .label(format!(
                "{} qd {} (p99 {})",
                r.engine,
                r.qd,
                time(r.lat_ns_p99 as f64)
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

fn iops_panel(area: &Area<'_>, rep: &Report) -> Result<()> {
    let n = rep.summary.len().max(1);
    let max = rep
        .summary
        .iter()
        .map(|s| s.iops_median)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let labels: Vec<String> = rep
        .summary
        .iter()
        .map(|s| format!("{} qd {}", s.engine, s.qd))
        .collect();
    let caption = format!(
        "IOPS (median over {} round{}) per engine and queue depth",
        rep.config.rounds,
        if rep.config.rounds == 1 { "" } else { "s" }
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..max)?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| si(*v))
        .x_desc("engine and queue depth")
        .y_desc("IOPS")
        .axis_desc_style((FONT, 14))
        .draw()?;
    let ratios = engines(rep).len() > 1;
    for (i, s) in rep.summary.iter().enumerate() {
        let c = colour(rep, &s.engine, s.qd);
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), s.iops_median),
            ],
            c.filled(),
        );
        bar.set_margin(0, 0, 12, 12);
        chart.draw_series(std::iter::once(bar))?;
        let text = if ratios {
            format!("{} ({:.2}×)", si(s.iops_median), s.iops_ratio_to_first)
        } else {
            si(s.iops_median)
        };
        chart.draw_series(std::iter::once(bar_label(text, i, s.iops_median)))?;
    }
    Ok(())
}

/// The figure written above bar `i`, whose top is at `iops`.
fn bar_label(
    text: String,
    i: usize,
    iops: f64,
) -> Text<'static, (SegmentValue<usize>, f64), String> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let style = TextStyle::from((FONT, 13)).pos(Pos::new(HPos::Center, VPos::Bottom));
    Text::new(text, (SegmentValue::CenterOf(i), iops), style)
}

/// A count with a k/M suffix, for the IOPS axis and bars.
fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Renders the report as an SVG document.
///
/// # Errors
/// When drawing fails (it draws into memory, so only on a bug).
pub fn render(rep: &Report) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&title(rep), (FONT, 20))?;
        let (upper, lower) = root.split_vertically(430);
        latency_panel(&upper, rep)?;
        iops_panel(&lower, rep)?;
        root.present()
            .map_err(|e| anyhow!("cannot finish the plot: {e}"))?;
    }
    Ok(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{svg}"))
}
