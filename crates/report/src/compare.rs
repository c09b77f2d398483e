//! Reports of `backstop compare`: the terminal table, `compare.json` (schema
//! `backstop.compare/1`, docs/compare.md), and `compare.html` with the designs side by side (a
//! stacked bar chart of who paid, a grouped bar chart of the deficit's tail) under `charts/`
//! as SVG and PNG. Pure functions of the [`CompareResult`]: the same result gives the same bytes.

use crate::charts::{Chart, Kind};
use crate::document::{Block, RenderedChart};
use crate::{ReportError, ReportInfo, format, write_file};
use backstop_sim::compare::{CompareResult, DesignOutcome};
use backstop_sim::designs::PAYER_CLASSES;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Column titles of the payer classes, in [`PAYER_CLASSES`] order.
const PAYER_TITLES: [&str; 8] =
    ["fund", "treasury", "stakers", "stability", "socialised", "ADL", "token holders", "cover"];

fn ran(outcome: &DesignOutcome) -> bool {
    outcome.status == "ran"
}

fn mean_paid(outcome: &DesignOutcome, class: &str) -> f64 {
    outcome.paid.get(class).map_or(0.0, |statistic| statistic.mean)
}

/// The who-paid table: per design its capital, mean deficit, mean paid per payer class and mean
/// uncovered; a design that did not run shows its status instead.
fn payer_rows(result: &CompareResult) -> (Vec<String>, Vec<Vec<String>>, Vec<bool>) {
    let mut head = vec!["design".to_owned(), "capital".to_owned(), "deficit".to_owned()];
    head.extend(PAYER_TITLES.iter().map(|title| (*title).to_owned()));
    head.push("uncovered".to_owned());
    head.push("status".to_owned());
    let rows = result
        .designs
        .iter()
        .map(|outcome| {
            let mut row = vec![outcome.design.clone()];
            if !ran(outcome) {
                row.extend(std::iter::repeat_n("-".to_owned(), PAYER_CLASSES.len() + 3));
                row.push(outcome.status.clone());
                return row;
            }
            row.push(format::amount(outcome.capital as f64));
            row.push(format::amount(outcome.deficit.mean));
            row.extend(PAYER_CLASSES.iter().map(|class| format::amount(mean_paid(outcome, class))));
            row.push(format::amount(outcome.uncovered.mean));
            row.push(outcome.status.clone());
            row
        })
        .collect();
    let mut numeric = vec![false];
    numeric.extend(std::iter::repeat_n(true, head.len() - 2));
    numeric.push(false);
    (head, rows, numeric)
}

/// The tail table: deficit and uncovered at mean, VaR and ES 95/99, and recovery.
fn tail_rows(result: &CompareResult) -> (Vec<String>, Vec<Vec<String>>, Vec<bool>) {
    let head = [
        "design",
        "deficit VaR95",
        "deficit ES95",
        "deficit VaR99",
        "deficit ES99",
        "uncovered VaR99",
        "uncovered ES99",
        "recovered",
        "time to recover (h)",
    ]
    .map(str::to_owned)
    .to_vec();
    let rows = result
        .designs
        .iter()
        .filter(|outcome| ran(outcome))
        .map(|outcome| {
            vec![
                outcome.design.clone(),
                format::amount(outcome.deficit.var95),
                format::amount(outcome.deficit.es95),
                format::amount(outcome.deficit.var99),
                format::amount(outcome.deficit.es99),
                format::amount(outcome.uncovered.var99),
                format::amount(outcome.uncovered.es99),
                outcome.recovered_share.map_or_else(|| "-".to_owned(), format::probability),
                outcome
                    .time_to_recover_secs
                    .map_or_else(|| "-".to_owned(), |secs| format::amount(secs / 3_600.0)),
            ]
        })
        .collect();
    let mut numeric = vec![false];
    numeric.extend(std::iter::repeat_n(true, head.len() - 1));
    (head, rows, numeric)
}

/// The layer table: each funded layer's funding, mean and ES99 payment and deepest drawdown.
fn layer_rows(result: &CompareResult) -> (Vec<String>, Vec<Vec<String>>, Vec<bool>) {
    let head = ["design", "layer", "funded", "paid mean", "paid ES99", "deepest drawdown"]
        .map(str::to_owned)
        .to_vec();
    let mut rows = Vec::new();
    for outcome in result.designs.iter().filter(|outcome| ran(outcome)) {
        for layer in &outcome.layers {
            let funded = format::amount(layer.funded as f64);
            rows.push(vec![
                outcome.design.clone(),
                layer.layer.clone(),
                if layer.assumed { format!("{funded} (assumed)") } else { funded },
                format::amount(layer.paid.mean),
                format::amount(layer.paid.es99),
                layer.deepest_drawdown.map_or_else(|| "-".to_owned(), format::amount),
            ]);
        }
    }
    (head, rows, vec![false, false, true, true, true, true])
}

/// The ADL fairness table: per design with an ADL layer, its haircuts and their excess over the
/// minimum-shortfall allocation on the same paths (means over paths).
fn adl_rows(result: &CompareResult) -> (Vec<String>, Vec<Vec<String>>, Vec<bool>) {
    let head = [
        "design",
        "policy",
        "haircut total",
        "largest haircut",
        "excess largest",
        "excess total",
        "same deficit",
    ]
    .map(str::to_owned)
    .to_vec();
    let optional = |statistic: &Option<backstop_sim::metrics::Statistic>| {
        statistic.as_ref().map_or_else(|| "-".to_owned(), |s| format::amount(s.mean))
    };
    let rows = result
        .designs
        .iter()
        .filter_map(|outcome| outcome.adl.as_ref().map(|adl| (outcome, adl)))
        .map(|(outcome, adl)| {
            vec![
                outcome.design.clone(),
                adl.policy.clone(),
                format::amount(adl.haircut_total.mean),
                format::amount(adl.haircut_max.mean),
                optional(&adl.excess_max_over_min_shortfall),
                optional(&adl.excess_total_over_min_shortfall),
                adl.paths_with_same_deficit
                    .map_or_else(|| "-".to_owned(), |same| format!("{same}/{}", result.paths)),
            ]
        })
        .collect();
    (head, rows, vec![false, false, true, true, true, true, true])
}

fn heading(result: &CompareResult) -> String {
    let capital = match result.capital {
        backstop_sim::compare::Capital::Equal => "equal",
        backstop_sim::compare::Capital::AsConfigured => "as-configured",
    };
    let markets: Vec<String> = result
        .exposure
        .iter()
        .map(|market| format!("{} ({})", market.market, market.kind.name()))
        .collect();
    format!(
        "{}: {} design(s), {} path(s) each, seed {}, capital {capital} (scenario's own: {} {}); \
         exposure: {}",
        result.scenario,
        result.designs.len(),
        result.paths,
        result.seed,
        format::amount(result.scenario_capital as f64),
        result.deficit_asset,
        markets.join(", ")
    )
}

/// The plain-text comparison printed by `backstop compare`: who paid (means), the deficit's
/// tail, and each funded layer.
#[must_use]
pub fn compare_table(result: &CompareResult) -> String {
    let mut out = format!("{}\n\nwho paid (mean over paths)\n", heading(result));
    let (head, rows, numeric) = payer_rows(result);
    out.push_str(&crate::text_table(&head, &rows, &numeric));
    let (head, rows, numeric) = tail_rows(result);
    if !rows.is_empty() {
        out.push_str("\ndeficit and uncovered over paths\n");
        out.push_str(&crate::text_table(&head, &rows, &numeric));
        let (head, rows, numeric) = layer_rows(result);
        out.push_str("\nlayers\n");
        out.push_str(&crate::text_table(&head, &rows, &numeric));
    }
    let (head, rows, numeric) = adl_rows(result);
    if !rows.is_empty() {
        out.push_str("\nADL fairness (mean over paths; excess over adl-min-shortfall)\n");
        out.push_str(&crate::text_table(&head, &rows, &numeric));
    }
    out
}

/// `compare.json`'s bytes: the result as pretty JSON and a final newline.
///
/// # Errors
/// Serialisation failure (not expected).
pub fn compare_json(result: &CompareResult) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec_pretty(result)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// One bar chart: a title, the categories (designs) and named series of values per category.
struct Bars {
    name: &'static str,
    title: String,
    caption: String,
    y_label: String,
    categories: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
    /// Stack the series (else side by side).
    stacked: bool,
}

fn paid_bars(result: &CompareResult) -> Bars {
    let designs: Vec<&DesignOutcome> = result.designs.iter().filter(|o| ran(o)).collect();
    let series = PAYER_CLASSES
        .iter()
        .zip(PAYER_TITLES)
        .map(|(class, title)| {
            (title.to_owned(), designs.iter().map(|outcome| mean_paid(outcome, class)).collect())
        })
        .filter(|(_, values): &(String, Vec<f64>)| values.iter().any(|value| *value != 0.0))
        .collect();
    Bars {
        name: "compare-paid",
        title: "Who paid the deficit, by design (mean over paths)".to_owned(),
        caption: "Mean paid per payer class, stacked; the bar's height is the deficit covered."
            .to_owned(),
        y_label: format!("paid ({})", result.deficit_asset),
        categories: designs.iter().map(|outcome| outcome.design.clone()).collect(),
        series,
        stacked: true,
    }
}

fn tail_bars(result: &CompareResult) -> Bars {
    let designs: Vec<&DesignOutcome> = result.designs.iter().filter(|o| ran(o)).collect();
    let pick = |get: fn(&DesignOutcome) -> f64| designs.iter().map(|o| get(o)).collect();
    Bars {
        name: "compare-tail",
        title: "Deficit and uncovered loss, by design".to_owned(),
        caption: "Mean and ES99 of the deficit, and ES99 of what was left uncovered.".to_owned(),
        y_label: result.deficit_asset.clone(),
        categories: designs.iter().map(|outcome| outcome.design.clone()).collect(),
        series: vec![
            ("deficit mean".to_owned(), pick(|o| o.deficit.mean)),
            ("deficit ES99".to_owned(), pick(|o| o.deficit.es99)),
            ("uncovered ES99".to_owned(), pick(|o| o.uncovered.es99)),
        ],
        stacked: false,
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, bars: &Bars) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let count = bars.categories.len().max(1);
    let top = (0..count)
        .map(|index| {
            let values = bars.series.iter().map(|(_, values)| values.get(index).copied());
            let values = values.map(|value| value.unwrap_or(0.0).max(0.0));
            if bars.stacked { values.sum::<f64>() } else { values.fold(0.0, f64::max) }
        })
        .fold(0.0, f64::max);
    // Headroom above the tallest bar for the legend.
    let top = if top > 0.0 { top * 1.5 } else { 1.0 };
    // Each design gets slots on the x axis: stacked, a gap, the bar, a gap; side by side, one
    // slot per series and a gap.
    let slots = if bars.stacked { 3 } else { bars.series.len() + 1 };
    let label_slot = if bars.stacked { 1 } else { (slots - 2) / 2 };
    let mut context = ChartBuilder::on(root)
        .caption(&bars.title, (crate::charts::FONT_FAMILY, 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d((0..count * slots - 1).into_segmented(), 0.0..top)?;
    let names = bars.categories.clone();
    context
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(bars.y_label.as_str())
        .x_labels(count * slots)
        .x_label_formatter(&|segment| match segment {
            SegmentValue::CenterOf(slot) if slot % slots == label_slot => {
                names.get(slot / slots).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_label_formatter(&|y| format::axis(*y))
        .label_style((crate::charts::FONT_FAMILY, 12))
        .axis_desc_style((crate::charts::FONT_FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()?;
    let mut base = vec![0.0; count];
    for (series_index, (name, values)) in bars.series.iter().enumerate() {
        let color = crate::charts::color(series_index);
        let offset = if bars.stacked { 1 } else { series_index };
        let rectangles: Vec<Rectangle<(SegmentValue<usize>, f64)>> = values
            .iter()
            .enumerate()
            .map(|(index, value)| {
                let value = value.max(0.0);
                let slot = index * slots + offset;
                let y0 = if bars.stacked { base[index] } else { 0.0 };
                base[index] += value;
                Rectangle::new(
                    [(SegmentValue::Exact(slot), y0), (SegmentValue::Exact(slot + 1), y0 + value)],
                    color.mix(0.85).filled(),
                )
            })
            .collect();
        let legend = context.draw_series(rectangles)?;
        legend
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    context
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font((crate::charts::FONT_FAMILY, 12))
        .draw()?;
    Ok(())
}

fn render_svg(bars: &Bars) -> Result<String, String> {
    if !crate::charts::font_ready() {
        return Err("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded".to_owned());
    }
    let mut text = String::new();
    {
        let root =
            SVGBackend::with_string(&mut text, crate::charts::CHART_SIZE).into_drawing_area();
        draw_bars(&root, bars).map_err(|error| error.to_string())?;
        root.present().map_err(|error| error.to_string())?;
    }
    Ok(text)
}

fn render_png(bars: &Bars, path: &Path) -> Result<(), String> {
    if !crate::charts::font_ready() {
        return Err("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded".to_owned());
    }
    let root = BitMapBackend::new(path, crate::charts::CHART_SIZE).into_drawing_area();
    draw_bars(&root, bars).map_err(|error| error.to_string())?;
    root.present().map_err(|error| error.to_string())?;
    Ok(())
}

/// The report's blocks; charts are `Block::Chart(0)` (who paid) and `Block::Chart(1)` (tail).
fn blocks(result: &CompareResult, info: &ReportInfo) -> Vec<Block> {
    let table = |(head, rows, numeric): (Vec<String>, Vec<Vec<String>>, Vec<bool>)| Block::Table {
        head,
        rows,
        numeric,
    };
    let mut blocks = vec![
        Block::Heading(1, format!("Backstop design comparison: {}", result.scenario)),
        Block::Paragraph(heading(result)),
        Block::Paragraph(format!(
            "Every design ran on the same population and the same price paths (common random \
             numbers, seed {}). Capital is in whole units of {}; `(assumed)` marks a size no \
             source publishes. Command: {}",
            result.seed, result.deficit_asset, info.command_line
        )),
        Block::Heading(2, "Who paid".to_owned()),
        table(payer_rows(result)),
        Block::Chart(0),
        Block::Heading(2, "Deficit and uncovered over paths".to_owned()),
        table(tail_rows(result)),
        Block::Chart(1),
        Block::Heading(2, "Layers".to_owned()),
        table(layer_rows(result)),
        Block::Heading(2, "ADL fairness".to_owned()),
        Block::Paragraph(
            "Per design with an ADL layer: the sum and the largest of its haircuts, and their \
             excess over the minimum-shortfall allocation (adl-min-shortfall, Chitra et al. \
             2025) path by path, with the paths on which both had the same deficit."
                .to_owned(),
        ),
        table(adl_rows(result)),
        Block::Heading(2, "Designs".to_owned()),
    ];
    let rows = result
        .designs
        .iter()
        .map(|outcome| {
            vec![
                outcome.design.clone(),
                outcome.title.clone(),
                outcome.waterfall.join(" → "),
                outcome.status.clone(),
                outcome.source.clone(),
            ]
        })
        .collect();
    let head = ["design", "title", "waterfall", "status", "source"].map(str::to_owned).to_vec();
    blocks.push(Block::Table { head, rows, numeric: vec![false; 5] });
    blocks
}

/// Writes `compare.json`, `compare.html` and `charts/compare-paid` and `charts/compare-tail` (SVG
/// and PNG) into `out_dir`; returns the paths written in that order.
///
/// # Errors
/// A file that cannot be written or a chart that cannot be drawn.
pub fn write_compare(
    out_dir: &Path,
    result: &CompareResult,
    info: &ReportInfo,
) -> Result<Vec<PathBuf>, ReportError> {
    let chart_dir = out_dir.join("charts");
    std::fs::create_dir_all(&chart_dir)
        .map_err(|error| ReportError::Io { path: chart_dir.clone(), error })?;
    let json_path = out_dir.join("compare.json");
    write_file(&json_path, &compare_json(result).map_err(ReportError::Json)?)?;
    let mut written = vec![json_path];
    let bars = [paid_bars(result), tail_bars(result)];
    let mut rendered = Vec::with_capacity(bars.len());
    let mut chart_files = Vec::new();
    for chart in &bars {
        let svg_path = chart_dir.join(format!("{}.svg", chart.name));
        let png_path = chart_dir.join(format!("{}.png", chart.name));
        let svg = render_svg(chart)
            .map_err(|message| ReportError::Chart { path: svg_path.clone(), message })?;
        write_file(&svg_path, svg.as_bytes())?;
        render_png(chart, &png_path)
            .map_err(|message| ReportError::Chart { path: png_path.clone(), message })?;
        let png = std::fs::read(&png_path)
            .map_err(|error| ReportError::Io { path: png_path.clone(), error })?;
        // The HTML writer reads a chart's name, title and caption only.
        let meta = Chart {
            name: chart.name,
            title: chart.title.clone(),
            caption: chart.caption.clone(),
            x_label: String::new(),
            y_label: chart.y_label.clone(),
            kind: Kind::Lines { series: Vec::new(), markers: false, hline: None, vline: None },
        };
        rendered.push((meta, svg, png));
        chart_files.push(svg_path);
        chart_files.push(png_path);
    }
    let html_charts: Vec<RenderedChart<'_>> =
        rendered.iter().map(|(chart, svg, png)| RenderedChart { chart, svg, png }).collect();
    let html_path = out_dir.join("compare.html");
    let title = format!("Backstop design comparison: {}", result.scenario);
    let html = crate::document::html(&blocks(result, info), &title, &html_charts);
    write_file(&html_path, html.as_bytes())?;
    written.push(html_path);
    written.extend(chart_files);
    Ok(written)
}
