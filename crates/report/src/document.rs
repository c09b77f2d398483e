//! The human-readable report as a list of blocks, rendered to Markdown (`report.md`) and to a
//! self-contained HTML page (`report.html`: inline SVG, base64 PNG, inline CSS, no external URL).

use crate::charts::Chart;
use crate::summary::{SCHEMA, layer_totals};
use crate::{ReportInfo, SizingResult, format};
use backstop_sim::metrics::{PathMetrics, Statistic};
use backstop_sim::runner::RunResult;

/// Paths listed one by one in the reports; above this only the worst are listed.
pub(crate) const PATH_ROWS_MAX: usize = 20;

/// One block of the report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A heading of level 1–3.
    Heading(u8, String),
    /// A paragraph of plain text.
    Paragraph(String),
    /// A table: header and rows of plain-text cells; `numeric[i]` right-aligns column i.
    Table { head: Vec<String>, rows: Vec<Vec<String>>, numeric: Vec<bool> },
    /// A chart (index into the chart list).
    Chart(usize),
}

/// A rendered chart for the HTML page.
pub(crate) struct RenderedChart<'a> {
    /// The chart.
    pub(crate) chart: &'a Chart,
    /// Its SVG text.
    pub(crate) svg: &'a str,
    /// Its PNG bytes.
    pub(crate) png: &'a [u8],
}

/// Known metric names and what they mean, for the reports.
pub(crate) fn metric_meaning(name: &str) -> &'static str {
    match name {
        "deficit_created" => "bad debt recognised (numeraire)",
        "liquidated_volume" => "debt repaid and positions closed by liquidations (numeraire)",
        "uncovered_at_end" => "deficit still uncovered or pending at the end (numeraire)",
        "socialized" => "loss socialised to suppliers or open interest (numeraire)",
        "adl_haircut_total" => "sum of auto-deleveraging haircuts (numeraire)",
        "adl_haircut_max" => "largest auto-deleveraging haircut (numeraire)",
        "staker_loss_share" => "staker loss as a share of staker assets at the start (0–1)",
        "fund_min" => "lowest total insurance-fund balance (numeraire)",
        "liquidations" => "liquidations that went through (count)",
        "time_to_recover_secs" => "seconds from the first deficit to full cover",
        _ if name.starts_with("paid:") => "paid by this layer (numeraire)",
        _ if name.starts_with("loss_beyond:") => {
            "deficit left at the end beyond this layer and those before it (numeraire)"
        }
        _ => "",
    }
}

fn cells(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

/// The blocks of the report.
pub(crate) fn blocks(
    run: &RunResult,
    info: &ReportInfo,
    sizing: Option<&SizingResult>,
    charts: &[Chart],
) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(1, format!("Backstop stress report: {}", info.scenario))];
    if !info.description.trim().is_empty() {
        blocks.push(Block::Paragraph(info.description.trim().to_owned()));
    }
    blocks.push(Block::Paragraph(format!(
        "{} path(s) of {} steps of {} s, seed {}. Amounts are in the venue's numeraire; VaR 95% is \
         the ⌈0.95·n⌉-th smallest of the n per-path values (99%: ⌈0.99·n⌉-th) and ES the mean of \
         the worst ⌈0.05·n⌉ values (99%: ⌈0.01·n⌉).",
        run.summary.paths, run.steps, run.step_secs, run.seed
    )));

    blocks.push(Block::Heading(2, "Run".to_owned()));
    let threads =
        info.threads.map_or_else(|| "default (one per core)".to_owned(), |t| t.to_string());
    let rows = vec![
        cells(&["scenario file", &info.scenario_file]),
        cells(&["venue", &info.venue]),
        cells(&["seed", &run.seed.to_string()]),
        cells(&["paths", &run.summary.paths.to_string()]),
        cells(&["steps per path", &run.steps.to_string()]),
        cells(&["seconds per step", &run.step_secs.to_string()]),
        cells(&["threads", &threads]),
        cells(&["command line", &info.command_line]),
        cells(&["git commit", &info.git_commit]),
        cells(&["Cargo.lock SHA-256", &info.cargo_lock_sha256]),
        cells(&["summary schema", SCHEMA]),
    ];
    blocks.push(Block::Table {
        head: cells(&["item", "value"]),
        rows,
        numeric: vec![false, false],
    });

    let published = crate::published_rows(run);
    if !published.is_empty() {
        blocks.push(Block::Heading(2, "Published vs simulated".to_owned()));
        blocks.push(Block::Paragraph(
            "Each published outcome of the incident (the scenario's `[[expect]]` lines) beside \
             the simulated figure (its mean over paths), and whether the simulated figure is \
             within, below or above the published range. Published figures are never inputs."
                .to_owned(),
        ));
        blocks.push(Block::Table {
            head: cells(&crate::PUBLISHED_HEAD),
            rows: published,
            numeric: crate::PUBLISHED_NUMERIC.to_vec(),
        });
    }

    blocks.push(Block::Heading(2, "Summary across paths".to_owned()));
    let head =
        cells(&["metric", "mean", "VaR 95%", "VaR 99%", "ES 95%", "ES 99%", "max", "meaning"]);
    let rows: Vec<Vec<String>> = run
        .summary
        .metrics
        .iter()
        .filter(|(name, _)| !name.starts_with("paid:"))
        .map(|(name, stat)| {
            vec![
                name.clone(),
                format::amount(stat.mean),
                format::amount(stat.var95),
                format::amount(stat.var99),
                format::amount(stat.es95),
                format::amount(stat.es99),
                format::amount(stat.max),
                metric_meaning(name).to_owned(),
            ]
        })
        .collect();
    if rows.is_empty() {
        blocks.push(Block::Paragraph("No metrics were recorded.".to_owned()));
    } else {
        let numeric = vec![false, true, true, true, true, true, true, false];
        blocks.push(Block::Table { head, rows, numeric });
    }

    blocks.push(Block::Heading(2, "What each layer paid".to_owned()));
    let totals = layer_totals(run);
    if totals.is_empty() {
        blocks.push(Block::Paragraph("No layer paid anything on any path.".to_owned()));
    } else {
        blocks.push(Block::Paragraph(
            "Per-path statistics of each layer's payments, the total over all paths, its share \
             of all payments, on how many paths it paid, the probability it was exhausted (drawn \
             to its floor or cap), and the probability of a loss beyond it (deficit left at the \
             end that neither it nor the layers before it covered)."
                .to_owned(),
        ));
        let head = cells(&[
            "layer",
            "mean",
            "VaR 99%",
            "ES 99%",
            "max",
            "total over paths",
            "share",
            "paths paying",
            "P(exhausted)",
            "P(loss beyond)",
        ]);
        let probability = |map: &std::collections::BTreeMap<String, f64>, layer: &String| {
            map.get(layer).map_or_else(|| "–".to_owned(), |p| format::probability(*p))
        };
        let rows = totals
            .iter()
            .map(|(layer, total)| {
                let stat = run.summary.metrics.get(&format!("paid:{layer}"));
                let stat_cell = |pick: fn(&Statistic) -> f64| match stat {
                    Some(stat) => format::amount(pick(stat)),
                    None => "–".to_owned(),
                };
                vec![
                    layer.clone(),
                    format::amount(total.mean),
                    stat_cell(|stat| stat.var99),
                    stat_cell(|stat| stat.es99),
                    stat_cell(|stat| stat.max),
                    format::amount(total.total),
                    format::probability(total.share),
                    total.paths_paying.to_string(),
                    probability(&run.summary.exhaustion_probability, layer),
                    probability(&run.summary.loss_beyond_probability, layer),
                ]
            })
            .collect();
        let mut numeric = vec![true; 10];
        numeric[0] = false;
        blocks.push(Block::Table { head, rows, numeric });
    }

    if let Some(sizing) = sizing {
        blocks.push(Block::Heading(2, format!("Sizing: {}", sizing.layer)));
        blocks.push(Block::Paragraph(sizing.describe()));
        let rows = sizing
            .curve
            .iter()
            .map(|point| {
                vec![
                    format::amount(point.size),
                    format::probability(point.probability),
                    format!(
                        "{} – {}",
                        format::probability(point.lower),
                        format::probability(point.upper)
                    ),
                    format!("{:?}", point.verdict).to_lowercase(),
                ]
            })
            .collect();
        blocks.push(Block::Table {
            head: cells(&["size", "P(loss beyond the layer)", "interval", "verdict"]),
            rows,
            numeric: vec![true, true, true, false],
        });
    }

    blocks.push(Block::Heading(2, "Charts".to_owned()));
    if charts.is_empty() {
        blocks.push(Block::Paragraph("No data to chart.".to_owned()));
    }
    for (index, chart) in charts.iter().enumerate() {
        blocks.push(Block::Heading(3, chart.title.clone()));
        blocks.push(Block::Paragraph(chart.caption.clone()));
        blocks.push(Block::Chart(index));
    }
    if run.traces.is_empty() {
        blocks.push(Block::Paragraph(
            "No path kept a trace, so there are no price or balance charts.".to_owned(),
        ));
    }

    blocks.push(Block::Heading(2, "Paths".to_owned()));
    let mut listed: Vec<&PathMetrics> = run.paths.iter().collect();
    if listed.len() > PATH_ROWS_MAX {
        listed.sort_by(|a, b| {
            b.deficit_created.total_cmp(&a.deficit_created).then(a.path.cmp(&b.path))
        });
        listed.truncate(PATH_ROWS_MAX);
        blocks.push(Block::Paragraph(format!(
            "The {PATH_ROWS_MAX} paths with the largest deficit, of {}; every path is in \
             summary.json.",
            run.paths.len()
        )));
    }
    let head = cells(&[
        "path",
        "liquidations",
        "liquidated volume",
        "deficit created",
        "uncovered at end",
        "fund min",
        "staker loss",
        "largest ADL haircut",
        "socialised",
        "exhausted",
        "time to recover (s)",
        "rejected commands",
    ]);
    let rows = listed
        .into_iter()
        .map(|path| {
            let exhausted: Vec<&str> = path
                .exhausted
                .iter()
                .filter(|(_, exhausted)| **exhausted)
                .map(|(layer, _)| layer.as_str())
                .collect();
            vec![
                path.path.to_string(),
                path.liquidations.to_string(),
                format::amount(path.liquidated_volume),
                format::amount(path.deficit_created),
                format::amount(path.uncovered_at_end),
                format::amount(path.fund_min),
                format::probability(path.staker_loss_share),
                format::amount(path.adl_haircut_max),
                format::amount(path.socialized),
                if exhausted.is_empty() { "–".to_owned() } else { exhausted.join(", ") },
                path.time_to_recover_secs.map_or_else(|| "–".to_owned(), |secs| secs.to_string()),
                path.rejections.to_string(),
            ]
        })
        .collect();
    let mut numeric = vec![true; 12];
    numeric[9] = false;
    blocks.push(Block::Table { head, rows, numeric });
    blocks
}

/// Text for Markdown: `<` and `>` as entities so scenario text never becomes raw HTML.
fn markdown_text(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

fn markdown_cell(text: &str) -> String {
    markdown_text(text).replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ")
}

/// The blocks as Markdown; charts link to `charts/<name>.svg` and `.png`.
pub(crate) fn markdown(blocks: &[Block], charts: &[Chart]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&"#".repeat(usize::from(*level)));
                out.push(' ');
                out.push_str(&markdown_text(text));
                out.push_str("\n\n");
            }
            Block::Paragraph(text) => {
                out.push_str(&markdown_text(text));
                out.push_str("\n\n");
            }
            Block::Table { head, rows, numeric } => {
                let line = |row: &[String]| {
                    let cells: Vec<String> = row.iter().map(|cell| markdown_cell(cell)).collect();
                    format!("| {} |\n", cells.join(" | "))
                };
                out.push_str(&line(head));
                let rule: Vec<&str> =
                    (0..head.len())
                        .map(|index| {
                            if numeric.get(index).copied().unwrap_or(false) {
                                "---:"
                            } else {
                                "---"
                            }
                        })
                        .collect();
                out.push_str(&format!("| {} |\n", rule.join(" | ")));
                for row in rows {
                    out.push_str(&line(row));
                }
                out.push('\n');
            }
            Block::Chart(index) => {
                if let Some(chart) = charts.get(*index) {
                    out.push_str(&format!(
                        "![{title}](charts/{name}.svg)\n\n[PNG](charts/{name}.png) · \
                         [SVG](charts/{name}.svg)\n\n",
                        title = markdown_cell(&chart.title),
                        name = chart.name
                    ));
                }
            }
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An SVG document made fit to inline in HTML: the XML declaration and the namespace attribute
/// (which HTML does not need) removed, so the page names no URL at all.
fn inline_svg(svg: &str) -> String {
    let svg = svg.trim();
    let svg = match svg.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |(_, body)| body).trim_start(),
        None => svg,
    };
    svg.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "")
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1000px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:left}\
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}\
figure img{max-width:100%}details{margin:0.5em 0}";

/// The blocks as one self-contained HTML page.
pub(crate) fn html(blocks: &[Block], title: &str, charts: &[RenderedChart<'_>]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape_html(title)));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", escape_html(text)));
            }
            Block::Paragraph(text) => {
                let text = escape_html(text).replace('\n', "<br>\n");
                out.push_str(&format!("<p>{text}</p>\n"));
            }
            Block::Table { head, rows, numeric } => {
                out.push_str("<table>\n<thead><tr>");
                for cell in head {
                    out.push_str(&format!("<th>{}</th>", escape_html(cell)));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for (index, cell) in row.iter().enumerate() {
                        let class = if numeric.get(index).copied().unwrap_or(false) {
                            " class=\"n\""
                        } else {
                            ""
                        };
                        out.push_str(&format!("<td{class}>{}</td>", escape_html(cell)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::Chart(index) => {
                if let Some(rendered) = charts.get(*index) {
                    out.push_str(&format!(
                        "<figure id=\"chart-{}\">\n{}\n",
                        rendered.chart.name,
                        inline_svg(rendered.svg)
                    ));
                    out.push_str(&format!(
                        "<details><summary>PNG</summary><img alt=\"{}\" \
                         src=\"data:image/png;base64,{}\"></details>\n</figure>\n",
                        escape_html(&rendered.chart.title),
                        crate::base64::encode(rendered.png)
                    ));
                }
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::{escape_html, inline_svg};

    #[test]
    fn svg_is_inlined_without_namespace_urls() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\">\
                   <text>a</text></svg>\n";
        assert_eq!(inline_svg(svg), "<svg width=\"1\"><text>a</text></svg>");
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
