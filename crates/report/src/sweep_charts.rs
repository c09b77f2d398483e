//! Charts of parameter studies: a line with its confidence band (the size curve, one-key
//! sweeps), a heatmap (two-key sweeps) and a tornado (which `assumed` quantity moves the result
//! most). They are drawn with plotters through the same bundled font as the other charts, and
//! reach the reports as [`crate::charts::Kind::Figure`].

use crate::charts::Chart;
use crate::format;
use plotters::coord::Shift;
use plotters::prelude::*;

const FONT_FAMILY: &str = "sans-serif";
const BAND: RGBColor = RGBColor(31, 119, 180);
const LOW: RGBColor = RGBColor(44, 160, 44);
const HIGH: RGBColor = RGBColor(214, 39, 40);

/// A figure of a parameter study.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Figure {
    /// A line through (x, y) with a shaded band (x, low, high) and optional reference lines.
    Band {
        /// Legend of the line.
        name: String,
        /// The points, in x order.
        points: Vec<(f64, f64)>,
        /// Legend of the band.
        band_name: String,
        /// (x, low, high), in x order.
        band: Vec<(f64, f64, f64)>,
        /// A horizontal reference line (legend, y).
        hline: Option<(String, f64)>,
        /// A vertical reference line (legend, x).
        vline: Option<(String, f64)>,
    },
    #[allow(dead_code, reason = "drawn by the sweep report, which lands next")]
    /// Cells of a grid coloured by value: `values[row][column]` at (`columns[column]`,
    /// `rows[row]`).
    Heatmap {
        /// The x values (columns).
        columns: Vec<f64>,
        /// The y values (rows).
        rows: Vec<f64>,
        /// The values, one row per y.
        values: Vec<Vec<f64>>,
    },
    #[allow(dead_code, reason = "drawn by the sweep report, which lands next")]
    /// Horizontal bars from the base value to the result at each quantity's low and high setting,
    /// largest swing first.
    Tornado {
        /// The result with every quantity as configured.
        base: f64,
        /// (label, result at the low setting, result at the high setting).
        bars: Vec<(String, f64, f64)>,
    },
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws `figure` with the chart's title and axis labels.
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    figure: &Figure,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    match figure {
        Figure::Band { name, points, band_name, band, hline, vline } => {
            let band_chart = BandChart { name, points, band_name, band, hline, vline };
            draw_band(root, chart, &band_chart)
        }
        Figure::Heatmap { columns, rows, values } => {
            draw_heatmap(root, chart, columns, rows, values)
        }
        Figure::Tornado { base, bars } => draw_tornado(root, chart, *base, bars),
    }
}

struct BandChart<'a> {
    name: &'a str,
    points: &'a [(f64, f64)],
    band_name: &'a str,
    band: &'a [(f64, f64, f64)],
    hline: &'a Option<(String, f64)>,
    vline: &'a Option<(String, f64)>,
}

/// A padded range covering the finite values (never empty).
fn span(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values.filter(|value| value.is_finite()) {
        low = low.min(value);
        high = high.max(value);
    }
    if include_zero {
        low = low.min(0.0);
        high = high.max(0.0);
    }
    if !(low.is_finite() && high.is_finite()) {
        return (0.0, 1.0);
    }
    if high <= low {
        let pad = (low.abs() * 0.1).max(1.0);
        return (low - pad, high + pad);
    }
    let pad = (high - low) * 0.05;
    (if include_zero && low >= 0.0 { low } else { low - pad }, high + pad)
}

fn draw_band<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    figure: &BandChart<'_>,
) -> DrawResult<DB> {
    let xs = figure.points.iter().map(|point| point.0).chain(figure.vline.iter().map(|v| v.1));
    let ys = figure
        .band
        .iter()
        .flat_map(|band| [band.1, band.2])
        .chain(figure.points.iter().map(|point| point.1))
        .chain(figure.hline.iter().map(|h| h.1));
    let x = span(xs, false);
    let y = span(ys, true);
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, (FONT_FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    mesh(&mut context, chart)?;
    if !figure.band.is_empty() {
        let mut outline: Vec<(f64, f64)> = figure.band.iter().map(|b| (b.0, b.2)).collect();
        outline.extend(figure.band.iter().rev().map(|b| (b.0, b.1)));
        let fill = BAND.mix(0.2).filled();
        context
            .draw_series(std::iter::once(Polygon::new(outline, fill)))?
            .label(figure.band_name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], fill));
    }
    let style = BAND.stroke_width(2);
    context
        .draw_series(LineSeries::new(figure.points.iter().copied(), style))?
        .label(figure.name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    context.draw_series(figure.points.iter().map(|point| Circle::new(*point, 4, BAND.filled())))?;
    if let Some((name, level)) = figure.hline {
        let style = BLACK.stroke_width(1);
        context
            .draw_series(LineSeries::new([(x.0, *level), (x.1, *level)], style))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if let Some((name, at)) = figure.vline {
        let style = HIGH.stroke_width(1);
        context
            .draw_series(LineSeries::new([(*at, y.0), (*at, y.1)], style))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    context
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT_FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

fn mesh<DB: DrawingBackend, X, Y>(
    context: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    chart: &Chart,
) -> DrawResult<DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
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
        .draw()
}

/// Cell edges around sorted centres: midpoints between neighbours, half a gap beyond the ends.
fn edges(centres: &[f64]) -> Vec<f64> {
    match centres {
        [] => vec![0.0, 1.0],
        [only] => {
            let half = (only.abs() * 0.1).max(0.5);
            vec![only - half, only + half]
        }
        _ => {
            let mut edges = Vec::with_capacity(centres.len() + 1);
            edges.push(centres[0] - (centres[1] - centres[0]) / 2.0);
            for pair in centres.windows(2) {
                edges.push((pair[0] + pair[1]) / 2.0);
            }
            let last = centres.len() - 1;
            edges.push(centres[last] + (centres[last] - centres[last - 1]) / 2.0);
            edges
        }
    }
}

/// White (lowest) to red (highest).
fn heat(value: f64, low: f64, high: f64) -> RGBColor {
    let t = if high > low { ((value - low) / (high - low)).clamp(0.0, 1.0) } else { 0.0 };
    let channel = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    RGBColor(channel(255.0, 180.0), channel(255.0, 20.0), channel(255.0, 30.0))
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    columns: &[f64],
    rows: &[f64],
    values: &[Vec<f64>],
) -> DrawResult<DB> {
    let (x_edges, y_edges) = (edges(columns), edges(rows));
    let x = (x_edges[0], x_edges[x_edges.len() - 1]);
    let y = (y_edges[0], y_edges[y_edges.len() - 1]);
    let finite = values.iter().flatten().copied().filter(|value| value.is_finite());
    let (low, high) = finite
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), value| (lo.min(value), hi.max(value)));
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, (FONT_FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    mesh(&mut context, chart)?;
    for (row, line) in values.iter().enumerate() {
        for (column, value) in line.iter().enumerate() {
            let (Some(x0), Some(x1), Some(y0), Some(y1)) = (
                x_edges.get(column),
                x_edges.get(column + 1),
                y_edges.get(row),
                y_edges.get(row + 1),
            ) else {
                continue;
            };
            let fill = heat(*value, low, high).filled();
            context.draw_series(std::iter::once(Rectangle::new([(*x0, *y0), (*x1, *y1)], fill)))?;
            let centre = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            let label = format::axis(*value);
            let style = TextStyle::from((FONT_FAMILY, 12).into_font()).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            context.draw_series(std::iter::once(Text::new(label, centre, style)))?;
        }
    }
    Ok(())
}

fn draw_tornado<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    base: f64,
    bars: &[(String, f64, f64)],
) -> DrawResult<DB> {
    let values = bars.iter().flat_map(|bar| [bar.1, bar.2]).chain(std::iter::once(base));
    let x = span(values, false);
    let count = bars.len().max(1);
    let label_width = bars.iter().map(|bar| bar.0.chars().count()).max().unwrap_or(4);
    let label_area = u32::try_from(label_width * 7 + 16).unwrap_or(200).clamp(72, 360);
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, (FONT_FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(label_area)
        .build_cartesian_2d(x.0..x.1, (0..count).into_segmented())?;
    let names: Vec<String> = bars.iter().map(|bar| bar.0.clone()).collect();
    let rank = |index: usize| count - 1 - index;
    context
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&|x| format::axis(*x))
        .y_labels(count)
        .y_label_formatter(&|segment| match segment {
            SegmentValue::CenterOf(index) => {
                names.get(count.saturating_sub(1 + index)).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .label_style((FONT_FAMILY, 12))
        .axis_desc_style((FONT_FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;
    for (index, (_, low, high)) in bars.iter().enumerate() {
        let row = rank(index);
        let segment = |value: f64, color: RGBColor| {
            Rectangle::new(
                [(base, SegmentValue::Exact(row)), (value, SegmentValue::Exact(row + 1))],
                color.mix(0.8).filled(),
            )
        };
        context.draw_series([segment(*low, LOW), segment(*high, HIGH)])?;
    }
    let style = BLACK.stroke_width(1);
    context.draw_series(LineSeries::new(
        [(base, SegmentValue::Exact(0)), (base, SegmentValue::Exact(count))],
        style,
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{edges, heat};

    #[test]
    fn cell_edges_surround_the_centres() {
        assert_eq!(edges(&[1.0, 2.0, 4.0]), vec![0.5, 1.5, 3.0, 5.0]);
        assert_eq!(edges(&[10.0]), vec![9.0, 11.0]);
        assert_eq!(edges(&[]), vec![0.0, 1.0]);
    }

    #[test]
    fn heat_runs_from_white_to_red() {
        assert_eq!(heat(0.0, 0.0, 1.0).0, 255);
        assert_eq!(heat(1.0, 0.0, 1.0).1, 20);
        assert_eq!(heat(5.0, 5.0, 5.0).2, 255, "a flat grid is white");
    }
}
