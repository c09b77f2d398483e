// The what-if form (POST /v1/stress) and the stress-lab report viewer (a local summary.json
// written by `backstop simulate --out`, read in the browser: nothing is uploaded).

import { api } from "./api.js";
import { card, failure, h, hbars, kv, legend, records, show, table, tile } from "./ui.js";

/** Parses "ETH=-30%, USDC=0.97" lines into steps [{ETH: "-30%", USDC: "0.97"}]. */
export function parseSteps(text) {
  const steps = [];
  text.split(/\n/).forEach((line, i) => {
    const trimmed = line.replace(/#.*/, "").trim();
    if (!trimmed) return;
    const step = {};
    for (const part of trimmed.split(/[,\s]+/).filter(Boolean)) {
      const m = /^([A-Za-z0-9_.-]+)=(\S+)$/.exec(part);
      if (!m) throw new Error(`line ${i + 1}: expected ASSET=MOVE (ETH=-30%, USDC=0.97), got ${JSON.stringify(part)}`);
      step[m[1]] = m[2];
    }
    steps.push(step);
  });
  return steps;
}

/** Parses "USDC=2000" lines into exploits [{asset, amount}]. */
export function parseExploits(text) {
  return text.split(/[\n,]/).map((p) => p.trim()).filter(Boolean).map((part) => {
    const m = /^([A-Za-z0-9_.-]+)[=\s]+(\S+)$/.exec(part);
    if (!m) throw new Error(`exploit: expected ASSET=AMOUNT, got ${JSON.stringify(part)}`);
    return { asset: m[1], amount: m[2] };
  });
}

/** The what-if form and its answer. */
export async function stress() {
  const steps = h("textarea", { name: "steps", rows: 4, spellcheck: "false" }, "ETH=-30%");
  const keeper = h("input", { type: "text", name: "keeper_capacity", placeholder: "unlimited" });
  const exploits = h("textarea", { name: "exploits", rows: 2, spellcheck: "false", placeholder: "USDC=2000" });
  const result = h("div", { id: "stress-result" });
  const run = async (event) => {
    event.preventDefault();
    let body;
    try {
      body = { steps: parseSteps(steps.value) };
      if (keeper.value.trim()) body.keeper_capacity = keeper.value.trim();
      const ex = parseExploits(exploits.value);
      if (ex.length) body.exploits = ex;
    } catch (error) {
      result.replaceChildren(h("p", { class: "error" }, error.message));
      return;
    }
    result.replaceChildren(h("p", { class: "muted" }, "running on a copy of the live state…"));
    try {
      result.replaceChildren(answer(await api("/v1/stress", body)));
    } catch (error) {
      result.replaceChildren(failure(error));
    }
  };
  return h("div", {}, h("h1", {}, "What-if on the live state"),
    h("p", { class: "muted" }, "Runs on a copy of the engine: the journal and the live state are never touched."),
    card(null, h("form", { class: "stack", id: "stress-form", onsubmit: run },
      h("label", {}, "Price path, one step per line (relative -30% / +5%, or an absolute price for a depeg)", steps),
      h("label", {}, "Keeper capacity per step, tokens of each debt asset (empty: unlimited)", keeper),
      h("label", {}, "Exploits, ASSET=AMOUNT (run first)", exploits),
      h("button", { type: "submit" }, "Run"))),
    result);
}

/** Renders a stress answer. */
function answer(body) {
  const layers = [...new Set(body.markets.flatMap((m) => Object.keys(m.paid)))];
  return h("div", {},
    h("div", { class: "tiles" }, tile("at journal seq", body.seq), tile("liquidations", body.liquidations),
      tile("rejected commands", body.rejected), tile("state hash (unchanged)", body.state_hash.slice(0, 16) + "…")),
    card("What each layer would pay",
      legend([["l-capital", "paid by a layer"], ["l-social", "socialised"], ["l-bad", "uncovered"]]),
      hbars(body.markets.map((m) => ({ label: m.market, bars: [
        { value: m.deficit, cls: "bar-exposure", text: "deficit" },
        ...Object.entries(m.paid).filter(([l]) => l !== "socialize").map(([l, v]) => ({ value: v, cls: "bar-paid", text: l })),
        { value: m.socialized, cls: "bar-social", text: "socialised" },
        { value: m.uncovered, cls: "bar-uncovered", text: "uncovered" }] }))),
      table([
        { label: "market", get: (m) => m.market }, { label: "asset", get: (m) => m.asset },
        { label: "deficit", get: (m) => m.deficit, num: true },
        ...layers.map((l) => ({ label: `paid: ${l}`, get: (m) => m.paid[l] ?? "0", num: true })),
        { label: "socialised", get: (m) => m.socialized, num: true },
        { label: "uncovered", get: (m) => m.uncovered, num: true },
      ], body.markets, "no market had a deficit")),
    card("Commands the what-if applied", h("details", {}, h("summary", {}, `${body.commands.length} commands`),
      records(body.commands))));
}

/** The stress-lab report viewer. */
export async function summary() {
  const out = h("div", { id: "summary-view" });
  const input = h("input", { type: "file", accept: ".json,application/json", name: "summary" });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    try {
      out.replaceChildren(report(JSON.parse(await file.text())));
    } catch (error) {
      out.replaceChildren(h("p", { class: "error" }, `${file.name}: ${error.message}`));
    }
  });
  return h("div", {}, h("h1", {}, "Stress-lab report"),
    h("p", { class: "muted" }, "Open a summary.json written by `backstop simulate SCENARIO --out DIR`; it is read here, in the browser, and sent nowhere."),
    card(null, h("label", {}, "summary.json ", input)), out);
}

const STATS = ["mean", "var95", "var99", "es95", "es99", "max"];

/** Renders a backstop.summary/1 document. */
export function report(doc) {
  if (typeof doc?.schema !== "string" || !doc.schema.startsWith("backstop.summary/")) {
    throw new Error(`not a Backstop summary (schema ${show(doc?.schema)})`);
  }
  const layers = Object.entries(doc.layers ?? {});
  const probability = (name) => Object.entries(doc[name] ?? {});
  return h("div", {},
    h("div", { class: "tiles" }, tile("scenario", doc.info?.scenario), tile("schema", doc.schema),
      tile("paths", doc.run?.paths), tile("seed", doc.run?.seed), tile("steps", doc.run?.steps)),
    card("Run", kv({ info: doc.info, run: doc.run, generator: doc.generator })),
    card("Published vs simulated", table([
      { label: "metric", get: (r) => r.metric }, { label: "low", get: (r) => r.low, num: true },
      { label: "high", get: (r) => r.high, num: true }, { label: "unit", get: (r) => r.unit },
      { label: "simulated", get: (r) => r.simulated, num: true }, { label: "verdict", get: (r) => r.verdict },
      { label: "source", get: (r) => r.source },
    ], doc.published ?? [], "no [[expect]] lines")),
    card("Metrics across paths", table([
      { label: "metric", get: (r) => r[0] }, ...STATS.map((s) => ({ label: s, get: (r) => r[1]?.[s], num: true })),
    ], Object.entries(doc.metrics ?? {}))),
    card("Paid by layer (mean per path)",
      hbars(layers.map(([name, l]) => ({ label: name, bars: [{ value: l.paid_mean, cls: "bar-paid" }] }))),
      table([
        { label: "layer", get: (r) => r[0] }, { label: "paid total", get: (r) => r[1].paid_total, num: true },
        { label: "paid mean", get: (r) => r[1].paid_mean, num: true }, { label: "paid share", get: (r) => r[1].paid_share, num: true },
        { label: "P(exhausted)", get: (r) => doc.exhaustion_probability?.[r[0]], num: true },
        { label: "P(loss beyond)", get: (r) => doc.loss_beyond_probability?.[r[0]], num: true },
      ], layers)),
    card("Exhaustion and loss-beyond probabilities", table([
      { label: "layer", get: (r) => r[0] }, { label: "probability exhausted", get: (r) => r[1], num: true },
    ], probability("exhaustion_probability")), table([
      { label: "layer", get: (r) => r[0] }, { label: "probability of a loss beyond", get: (r) => r[1], num: true },
    ], probability("loss_beyond_probability"))),
    card(`Paths (${(doc.paths ?? []).length})`, h("details", {}, h("summary", {}, "per-path figures"), records(doc.paths ?? []))));
}
