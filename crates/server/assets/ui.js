// DOM and SVG helpers. Text goes in as text nodes (never parsed as markup), so nothing the API or a
// loaded file says can become markup. Numbers are shown as the exact decimal strings given;
// Number() is used only to size bars.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** A decimal string (or number) as a number, for geometry only. */
export function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** A value as shown: strings as given, null as a dash, objects as compact JSON. */
export function show(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Whether a value looks like an amount (shown right-aligned). */
function numeric(value) {
  return typeof value === "number" || (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value));
}

/**
 * A table. columns: [{label, get: row => value, num?: bool}] or keys; rows: array.
 */
export function table(columns, rows, empty = "none") {
  const cols = columns.map((c) => (typeof c === "string" ? { label: c, get: (r) => r[c] } : c));
  if (!rows || rows.length === 0) return h("p", { class: "muted" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { class: c.num ? "num" : null }, c.label)))),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h(
          "tr",
          {},
          cols.map((c) => {
            const value = c.get(row);
            const cell = value instanceof Node ? value : show(value);
            return h("td", { class: c.num || numeric(value) ? "num" : null }, cell);
          }),
        ),
      ),
    ),
  );
}

/** Flattens nested objects into [dotted key, leaf value] pairs (arrays of scalars kept whole). */
export function flatten(value, prefix = "", out = []) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      flatten(inner, prefix ? `${prefix}.${key}` : key, out);
    }
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    value.forEach((inner, i) => flatten(inner, `${prefix}[${i}]`, out));
    if (value.length === 0) out.push([prefix, "[]"]);
  } else {
    out.push([prefix, value]);
  }
  return out;
}

/** A two-column table of an object's leaves. */
export function kv(object) {
  return table(
    [
      { label: "field", get: (r) => r[0] },
      { label: "value", get: (r) => r[1] },
    ],
    flatten(object),
  );
}

/** One table per array of objects: columns are the union of the rows' flattened keys. */
export function records(rows, empty = "none") {
  if (!rows || rows.length === 0) return h("p", { class: "muted" }, empty);
  const flat = rows.map((row) => Object.fromEntries(flatten(row)));
  const keys = [...new Set(flat.flatMap((row) => Object.keys(row)))];
  return table(
    keys.map((key) => ({ label: key, get: (r) => r[key] })),
    flat,
  );
}

/** A headline figure. */
export function tile(label, value, cls) {
  return h("div", { class: "tile" }, h("div", { class: "label" }, label),
    h("div", { class: `value ${cls ?? ""}` }, show(value)));
}

/** A card with a title. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** A legend: [[class, text]]. */
export function legend(items) {
  return h("div", { class: "legend" }, items.map(([cls, text]) => h("span", {}, h("i", { class: cls }), text)));
}

/**
 * Horizontal bars: rows [{label, bars: [{value, cls, text}]}], every bar on one scale. Each bar
 * carries its exact string as a label and a tooltip.
 */
export function hbars(rows) {
  const values = rows.flatMap((r) => r.bars.map((b) => num(b.value)));
  const max = Math.max(1e-300, ...values);
  const labelWidth = 150;
  const width = 640;
  const barHeight = 14;
  const rowHeight = rows.reduce((n, r) => Math.max(n, r.bars.length), 1) * (barHeight + 2) + 10;
  const chart = s("svg", {
    class: "chart", viewBox: `0 0 ${width} ${rows.length * rowHeight + 4}`, role: "img",
    width, height: rows.length * rowHeight + 4,
  });
  rows.forEach((row, i) => {
    const y0 = i * rowHeight + 4;
    chart.append(s("text", { x: 0, y: y0 + barHeight - 2 }, row.label));
    row.bars.forEach((bar, j) => {
      const y = y0 + j * (barHeight + 2);
      const w = Math.max(0, (num(bar.value) / max) * (width - labelWidth - 130));
      chart.append(
        s("rect", { x: labelWidth, y, width: w.toFixed(2), height: barHeight, class: bar.cls },
          s("title", {}, `${bar.text ?? ""} ${bar.value}`)),
        s("text", { x: labelWidth + w + 4, y: y + barHeight - 3 }, `${bar.text ? `${bar.text} ` : ""}${bar.value}`),
      );
    });
  });
  return chart;
}

/**
 * Vertical grouped bars: groups [{label, bars: [{value, cls, text}]}], one scale, and an optional
 * dashed threshold line {value, text}.
 */
export function vbars(groups, line, height = 180) {
  const values = groups.flatMap((g) => g.bars.map((b) => num(b.value)));
  if (line) values.push(num(line.value));
  const max = Math.max(1e-300, ...values);
  const per = groups.reduce((n, g) => Math.max(n, g.bars.length), 1);
  const barWidth = 14;
  const groupWidth = per * barWidth + 12;
  const top = 10;
  const bottom = 22;
  const width = groups.length * groupWidth + 10;
  const chart = s("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", width, height,
  });
  const base = height - bottom;
  chart.append(s("line", { class: "axis", x1: 0, x2: width, y1: base, y2: base }));
  groups.forEach((group, i) => {
    const x0 = 6 + i * groupWidth;
    group.bars.forEach((bar, j) => {
      const h2 = (num(bar.value) / max) * (base - top);
      chart.append(s("rect", {
        x: x0 + j * barWidth, y: (base - h2).toFixed(2), width: barWidth - 2,
        height: h2.toFixed(2), class: bar.cls,
      }, s("title", {}, `${group.label} ${bar.text}: ${bar.value}`)));
    });
    chart.append(s("text", { x: x0, y: height - 6 }, group.label));
  });
  if (line) {
    const y = (base - (num(line.value) / max) * (base - top)).toFixed(2);
    chart.append(s("line", { class: "threshold", x1: 0, x2: width, y1: y, y2: y }, s("title", {}, line.text)));
  }
  return chart;
}

/** A message in place of a page part that could not load. */
export function failure(error) {
  const forbidden = error && error.status === 403;
  return h("p", { class: forbidden ? "muted" : "error" },
    forbidden ? `Not shown: ${error.message}` : `Could not load: ${error?.code ?? ""} ${error?.message ?? error}`);
}
