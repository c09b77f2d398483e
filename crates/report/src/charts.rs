//! Charts as SVG text and PNG files, drawn with plotters. Text in PNGs is rendered with the bundled
//! DejaVu Sans (assets/fonts/DejaVuSans.ttf) through plotters' ab_glyph backend — never a system
//! font — and the same font sizes the text of SVGs.

use crate::SizingResult;
use crate::format;
use backstop_sim::metrics::PathTrace;
use backstop_sim::runner::RunResult;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

/// Pixel size of every chart.
pub(crate) const CHART_SIZE: (u32, u32) = (900, 480);
/// Most series drawn on one chart (the rest are left out and the title says so).
pub(crate) const SERIES_COUNT_MAX: usize = 24;
/// Most bins of the loss histogram.
const HISTOGRAM_BIN_COUNT_MAX: usize = 40;
/// Font family name the bundled font is registered under.
pub(crate) const FONT_FAMILY: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font once; false if it could not be parsed.
pub(crate) fn font_ready() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    })
}

/// Colours of series, in order (Tableau 10).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(crate) fn color(index: usize) -> RGBColor {
    COLORS[index % COLORS.len()]
}

/// One named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// Legend text.
    pub(crate) name: String,
    /// Points in x order.
    pub(crate) points: Vec<(f64, f64)>,
}

/// What a chart draws.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// Lines, with optional point markers and a horizontal and a vertical reference line.
    Lines {
        /// The lines.
        series: Vec<Series>,
        /// Mark every point with a dot.
        markers: bool,
        /// A horizontal reference line (legend, y).
        hline: Option<(String, f64)>,
        /// A vertical reference line (legend, x).
        vline: Option<(String, f64)>,
    },
    /// Areas stacked in series order (all series share their x values).
    Stacked {
        /// The layers, bottom first.
        series: Vec<Series>,
    },
    /// A histogram of (low, high, count) bins.
    Histogram {
        /// The bins, in x order.
        bins: Vec<(f64, f64, u32)>,
    },
    /// A figure of a parameter study (band, heatmap, tornado: crate::sweep_charts).
    Figure(crate::sweep_charts::Figure),
}

/// A chart: file name (without extension), title, axis labels and data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    /// File stem under `charts/`.
    pub(crate) name: &'static str,
    /// Title drawn on the chart and used in the reports.
    pub(crate) title: String,
    /// What the chart shows, one sentence for the reports.
    pub(crate) caption: String,
    /// X axis label.
    pub(crate) x_label: String,
    /// Y axis label.
    pub(crate) y_label: String,
    /// The data.
    pub(crate) kind: Kind,
}

/// Every chart the run supports, in report order: price paths, layer balances, cumulative payment
/// by layer (from the first trace), the loss distribution, and the size curve when sizing.
pub(crate) fn charts(run: &RunResult, sizing: Option<&SizingResult>) -> Vec<Chart> {
    let mut charts = Vec::new();
    if let Some(chart) = price_chart(run) {
        charts.push(chart);
    }
    if let Some(trace) = run.traces.first() {
        let (unit, x_label) = time_unit(trace);
        let balances = trace_series(trace, &trace.layer_balances, unit);
        if !balances.is_empty() {
            charts.push(Chart {
                name: "balances",
                title: format!("Fund and pool balances (path {})", trace.path),
                caption: "Balance of every funded layer (insurance funds, offsets, staker and \
                          stability pools) at each step of the traced path."
                    .to_owned(),
                x_label: x_label.clone(),
                y_label: "balance (numeraire)".to_owned(),
                kind: Kind::Lines { series: balances, markers: false, hline: None, vline: None },
            });
        }
        let paid = trace_series(trace, &trace.paid_cumulative, unit);
        if !paid.is_empty() {
            charts.push(Chart {
                name: "paid",
                title: format!("Cumulative payment by layer (path {})", trace.path),
                caption: "What each layer of the waterfall had paid towards the deficit by each \
                          step, stacked."
                    .to_owned(),
                x_label,
                y_label: "paid, cumulative (numeraire)".to_owned(),
                kind: Kind::Stacked { series: paid },
            });
        }
    }
    if !run.paths.is_empty() {
        let losses: Vec<f64> = run.paths.iter().map(|path| path.deficit_created).collect();
        charts.push(Chart {
            name: "loss",
            title: "Loss distribution: deficit created per path".to_owned(),
            caption: format!(
                "Histogram of the bad debt recognised on each of the {} paths.",
                run.paths.len()
            ),
            x_label: "deficit created (numeraire)".to_owned(),
            y_label: "paths".to_owned(),
            kind: Kind::Histogram { bins: histogram(&losses) },
        });
    }
    if let Some(sizing) = sizing {
        charts.push(sizing_chart(sizing));
    }
    charts
}

/// The size curve: each candidate's probability of a loss beyond the layer with its interval.
fn sizing_chart(sizing: &SizingResult) -> Chart {
    let mut curve = sizing.curve.clone();
    curve.sort_by(|a, b| a.size.total_cmp(&b.size));
    let band_name = match sizing.confidence {
        Some(confidence) => format!("{}% Wilson interval", format::amount(confidence * 100.0)),
        None => "point estimates (no interval)".to_owned(),
    };
    Chart {
        name: "sizing",
        title: format!("Fund-size curve: {}", sizing.layer),
        caption: format!(
            "Probability of a loss beyond {} at each size the search tried ({} paths each, the same \
             random numbers at every size), with its interval; the target is {} and the chosen \
             size {}.",
            sizing.layer,
            sizing.paths,
            format::probability(sizing.target),
            format::amount(sizing.size)
        ),
        x_label: format!("{} size", sizing.layer),
        y_label: "probability of loss beyond the layer".to_owned(),
        kind: Kind::Figure(crate::sweep_charts::Figure::Band {
            name: "estimate".to_owned(),
            points: curve.iter().map(|point| (point.size, point.probability)).collect(),
            band_name,
            band: curve.iter().map(|point| (point.size, point.lower, point.upper)).collect(),
            hline: Some((format!("target {}", format::probability(sizing.target)), sizing.target)),
            vline: Some((format!("chosen {}", format::amount(sizing.size)), sizing.size)),
        }),
    }
}

/// Seconds per x unit and the x label for a trace's time axis.
fn time_unit(trace: &PathTrace) -> (f64, String) {
    let span = match (trace.times.first(), trace.times.last()) {
        (Some(first), Some(last)) => last.saturating_sub(*first),
        _ => 0,
    };
    if span > 4 * 86_400 {
        (86_400.0, "days since start".to_owned())
    } else {
        (3_600.0, "hours since start".to_owned())
    }
}

fn x_values(trace: &PathTrace, unit: f64) -> Vec<f64> {
    let first = trace.times.first().copied().unwrap_or(0);
    trace.times.iter().map(|time| time.saturating_sub(first) as f64 / unit).collect()
}

fn trace_series(
    trace: &PathTrace,
    values: &std::collections::BTreeMap<String, Vec<f64>>,
    unit: f64,
) -> Vec<Series> {
    let xs = x_values(trace, unit);
    values
        .iter()
        .take(SERIES_COUNT_MAX)
        .map(|(name, ys)| Series {
            name: name.clone(),
            points: xs.iter().copied().zip(ys.iter().copied()).collect(),
        })
        .filter(|series| !series.points.is_empty())
        .collect()
}

/// Price paths of every traced path; relative to step 0 when several assets are shown. Assets
/// whose price never moves (a numeraire stablecoin) are left out when another asset moves.
fn price_chart(run: &RunResult) -> Option<Chart> {
    let first = run.traces.first()?;
    let (unit, x_label) = time_unit(first);
    let moves = |prices: &Vec<f64>| prices.iter().any(|price| Some(price) != prices.first());
    let moving: std::collections::BTreeSet<&String> = run
        .traces
        .iter()
        .flat_map(|trace| trace.prices.iter())
        .filter(|(_, prices)| moves(prices))
        .map(|(asset, _)| asset)
        .collect();
    let all: std::collections::BTreeSet<&String> =
        run.traces.iter().flat_map(|trace| trace.prices.keys()).collect();
    let shown: std::collections::BTreeSet<&String> =
        if moving.is_empty() { all.clone() } else { moving };
    let left_out: Vec<&str> =
        all.iter().filter(|asset| !shown.contains(*asset)).map(|asset| asset.as_str()).collect();
    let relative = shown.len() > 1;
    let mut series = Vec::new();
    for trace in &run.traces {
        let xs = x_values(trace, unit);
        for (asset, prices) in trace.prices.iter().filter(|(asset, _)| shown.contains(asset)) {
            let base = prices.first().copied().unwrap_or(0.0);
            let points: Vec<(f64, f64)> = xs
                .iter()
                .copied()
                .zip(prices.iter().map(
                    |price| {
                        if relative && base > 0.0 { price / base } else { *price }
                    },
                ))
                .collect();
            if points.is_empty() {
                continue;
            }
            let name = if run.traces.len() > 1 {
                format!("{asset} (path {})", trace.path)
            } else {
                asset.clone()
            };
            series.push(Series { name, points });
        }
    }
    let total = series.len();
    series.truncate(SERIES_COUNT_MAX);
    if series.is_empty() {
        return None;
    }
    let truncated = if total > series.len() {
        format!(" (first {} of {total} series)", series.len())
    } else {
        String::new()
    };
    let paths: Vec<String> = run.traces.iter().map(|trace| trace.path.to_string()).collect();
    let constant = if left_out.is_empty() {
        String::new()
    } else {
        format!(" Constant prices left out: {}.", left_out.join(", "))
    };
    Some(Chart {
        name: "prices",
        title: format!("Price paths{truncated}"),
        caption: format!(
            "Oracle price of each asset at each step of traced path(s) {}{}.{constant}",
            paths.join(", "),
            if relative { ", relative to its price at step 0" } else { "" }
        ),
        x_label,
        y_label: if relative { "price / price at step 0" } else { "price (numeraire)" }.to_owned(),
        kind: Kind::Lines { series, markers: false, hline: None, vline: None },
    })
}

/// Equal-width bins over the finite values.
fn histogram(values: &[f64]) -> Vec<(f64, f64, u32)> {
    let finite: Vec<f64> = values.iter().copied().filter(|value| value.is_finite()).collect();
    let Some(low) = finite.iter().copied().reduce(f64::min) else {
        return Vec::new();
    };
    let high = finite.iter().copied().fold(low, f64::max);
    let (low, high, count) = if high > low {
        let count = (finite.len() as f64).sqrt().ceil() as usize;
        (low, high, count.clamp(1, HISTOGRAM_BIN_COUNT_MAX))
    } else {
        let width = (low.abs() * 0.1).max(1.0);
        (low - width / 2.0, low + width / 2.0, 1)
    };
    let width = (high - low) / count as f64;
    let mut counts = vec![0_u32; count];
    for value in finite {
        let index = (((value - low) / width).floor().max(0.0) as usize).min(count - 1);
        counts[index] = counts[index].saturating_add(1);
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(index, n)| (low + width * index as f64, low + width * (index + 1) as f64, n))
        .collect()
}

/// The chart as SVG text.
pub(crate) fn render_svg(chart: &Chart) -> Result<String, String> {
    if !font_ready() {
        return Err("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded".to_owned());
    }
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, CHART_SIZE).into_drawing_area();
        draw(&root, chart).map_err(|error| error.to_string())?;
        root.present().map_err(|error| error.to_string())?;
    }
    Ok(text)
}

/// Draws the chart into a PNG file.
pub(crate) fn render_png(chart: &Chart, path: &Path) -> Result<(), String> {
    if !font_ready() {
        return Err("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded".to_owned());
    }
    let root = BitMapBackend::new(path, CHART_SIZE).into_drawing_area();
    draw(&root, chart).map_err(|error| error.to_string())?;
    root.present().map_err(|error| error.to_string())?;
    Ok(())
}

/// A non-empty range covering `values`, with a little padding.
fn range(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for value in values.filter(|value| value.is_finite()) {
        low = low.min(value);
        high = high.max(value);
    }
    if !low.is_finite() || !high.is_finite() {
        return (0.0, 1.0);
    }
    if include_zero {
        low = low.min(0.0);
        high = high.max(0.0);
        if high <= low {
            return (0.0, 1.0);
        }
    }
    if high <= low {
        let pad = (low.abs() * 0.1).max(1.0);
        return (low - pad, high + pad);
    }
    let pad = (high - low) * 0.05;
    let low = if include_zero && low >= 0.0 { low } else { low - pad };
    (low, high + pad)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult<DB> {
    if let Kind::Figure(figure) = &chart.kind {
        return crate::sweep_charts::draw(root, chart, figure);
    }
    root.fill(&WHITE)?;
    let (x_range, y_range) = match &chart.kind {
        Kind::Lines { series, hline, vline, .. } => {
            let xs = series.iter().flat_map(|series| series.points.iter().map(|point| point.0));
            let ys = series.iter().flat_map(|series| series.points.iter().map(|point| point.1));
            let x = range(xs.chain(vline.iter().map(|line| line.1)), false);
            let y = range(ys.chain(hline.iter().map(|line| line.1)), true);
            (x, y)
        }
        Kind::Stacked { series } => {
            let xs = series.iter().flat_map(|series| series.points.iter().map(|point| point.0));
            let tops = stack(series);
            let ys = tops.last().map(|top| top.iter().map(|point| point.1).collect::<Vec<_>>());
            (range(xs, false), range(ys.unwrap_or_default().into_iter(), true))
        }
        Kind::Histogram { bins } => {
            let xs = bins.iter().flat_map(|bin| [bin.0, bin.1]);
            let ys = bins.iter().map(|bin| f64::from(bin.2));
            (range(xs, false), range(ys, true))
        }
        Kind::Figure(_) => ((0.0, 1.0), (0.0, 1.0)),
    };
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, (FONT_FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)?;
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&|x| format::axis(*x))
        .y_label_formatter(&|y| format::axis(*y))
        .label_style((FONT_FAMILY, 13))
        .axis_desc_style((FONT_FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;
    let mut legend = false;
    match &chart.kind {
        Kind::Lines { series, markers, hline, vline } => {
            for (index, series) in series.iter().enumerate() {
                let style = color(index).stroke_width(2);
                context
                    .draw_series(LineSeries::new(series.points.iter().copied(), style))?
                    .label(series.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                if *markers {
                    context.draw_series(
                        series
                            .points
                            .iter()
                            .map(|point| Circle::new(*point, 4, color(index).filled())),
                    )?;
                }
                legend = true;
            }
            if let Some((name, y)) = hline {
                let style = BLACK.stroke_width(1);
                context
                    .draw_series(LineSeries::new([(x_range.0, *y), (x_range.1, *y)], style))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                legend = true;
            }
            if let Some((name, x)) = vline {
                let style = RGBColor(214, 39, 40).stroke_width(1);
                context
                    .draw_series(LineSeries::new([(*x, y_range.0), (*x, y_range.1)], style))?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                legend = true;
            }
        }
        Kind::Stacked { series } => {
            let tops = stack(series);
            let mut lower: Vec<(f64, f64)> = tops
                .first()
                .map(|top| top.iter().map(|point| (point.0, 0.0)).collect())
                .unwrap_or_default();
            for (index, (series, upper)) in series.iter().zip(&tops).enumerate() {
                let mut outline: Vec<(f64, f64)> = upper.clone();
                outline.extend(lower.iter().rev().copied());
                let fill = color(index).mix(0.75).filled();
                let edge = color(index).stroke_width(1);
                context
                    .draw_series(std::iter::once(Polygon::new(outline, fill)))?
                    .label(series.name.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], fill));
                context.draw_series(LineSeries::new(upper.iter().copied(), edge))?;
                lower.clone_from(upper);
                legend = true;
            }
        }
        Kind::Figure(_) => {}
        Kind::Histogram { bins } => {
            let fill = color(0).mix(0.8).filled();
            context.draw_series(
                bins.iter()
                    .filter(|bin| bin.2 > 0)
                    .map(|bin| Rectangle::new([(bin.0, 0.0), (bin.1, f64::from(bin.2))], fill)),
            )?;
            context.draw_series(bins.iter().filter(|bin| bin.2 > 0).map(|bin| {
                Rectangle::new([(bin.0, 0.0), (bin.1, f64::from(bin.2))], color(0).stroke_width(1))
            }))?;
        }
    }
    if legend {
        context
            .configure_series_labels()
            .position(legend_position(&chart.kind, x_range, y_range))
            .label_font((FONT_FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
    }
    Ok(())
}

/// The place along the left or right edge (top, middle or bottom) whose box — a third of the width,
/// 28% of the height — holds the fewest data points (ties: upper right, upper left, middle right,
/// middle left, lower right, lower left), so the legend hides little data.
fn legend_position(kind: &Kind, x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let points: Vec<(f64, f64)> = match kind {
        Kind::Lines { series, .. } => {
            series.iter().flat_map(|series| series.points.iter().copied()).collect()
        }
        Kind::Stacked { series } => stack(series).into_iter().flatten().collect(),
        Kind::Histogram { .. } | Kind::Figure(_) => Vec::new(),
    };
    let width = x.1 - x.0;
    let height = y.1 - y.0;
    // (position, right edge, band: 2 top, 1 middle, 0 bottom)
    let places = [
        (SeriesLabelPosition::UpperRight, true, 2),
        (SeriesLabelPosition::UpperLeft, false, 2),
        (SeriesLabelPosition::MiddleRight, true, 1),
        (SeriesLabelPosition::MiddleLeft, false, 1),
        (SeriesLabelPosition::LowerRight, true, 0),
        (SeriesLabelPosition::LowerLeft, false, 0),
    ];
    let covered = |right: bool, band: u8| {
        points
            .iter()
            .filter(|(px, py)| {
                let fx = (px - x.0) / width;
                let fy = (py - y.0) / height;
                let in_x = if right { fx >= 0.65 } else { fx <= 0.35 };
                let in_y = match band {
                    2 => fy >= 0.72,
                    1 => (0.36..=0.64).contains(&fy),
                    _ => fy <= 0.28,
                };
                in_x && in_y
            })
            .count()
    };
    let mut best = (SeriesLabelPosition::UpperRight, usize::MAX);
    for (position, right, band) in places {
        let count = covered(right, band);
        if count < best.1 {
            best = (position, count);
        }
    }
    best.0
}

/// Cumulative tops of stacked series: `tops[i]` is the sum of series 0..=i (negative values count
/// as zero), over the x values of series 0.
fn stack(series: &[Series]) -> Vec<Vec<(f64, f64)>> {
    let Some(first) = series.first() else {
        return Vec::new();
    };
    let len = series.iter().map(|series| series.points.len()).min().unwrap_or(0);
    let mut running: Vec<f64> = vec![0.0; len];
    let mut tops = Vec::with_capacity(series.len());
    for layer in series {
        let top: Vec<(f64, f64)> = first
            .points
            .iter()
            .zip(&layer.points)
            .zip(running.iter_mut())
            .map(|((base, point), sum)| {
                if point.1.is_finite() {
                    *sum += point.1.max(0.0);
                }
                (base.0, *sum)
            })
            .collect();
        tops.push(top);
    }
    tops
}

#[cfg(test)]
mod tests {
    use super::{Series, histogram, range, stack};

    #[test]
    fn histogram_bins_cover_every_value() {
        let bins = histogram(&[0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 10.0, 10.0, 10.0]);
        assert_eq!(bins.len(), 3);
        assert_eq!(bins.iter().map(|bin| bin.2).sum::<u32>(), 9);
        assert_eq!(bins[0], (0.0, 10.0 / 3.0, 4));
        assert_eq!(bins[2].2, 3);
        let flat = histogram(&[0.0, 0.0]);
        assert_eq!(flat, vec![(-0.5, 0.5, 2)]);
        assert!(histogram(&[f64::NAN]).is_empty());
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(range([5.0, 5.0].into_iter(), false), (4.0, 6.0));
        assert_eq!(range(std::iter::empty(), true), (0.0, 1.0));
        assert_eq!(range([0.0, 0.0].into_iter(), true), (0.0, 1.0));
        assert_eq!(range([1.0, 3.0].into_iter(), true), (0.0, 3.15));
    }

    #[test]
    fn stacks_add_up() {
        let series = vec![
            Series { name: "a".into(), points: vec![(0.0, 1.0), (1.0, 2.0)] },
            Series { name: "b".into(), points: vec![(0.0, 3.0), (1.0, -1.0)] },
        ];
        assert_eq!(
            stack(&series),
            vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(0.0, 4.0), (1.0, 2.0)]]
        );
    }
}
