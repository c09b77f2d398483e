// The read-only pages. Each takes a context {session, signal} and returns a node; every figure
// is a decimal string from the route named beside it (docs/dashboard.md).

import { api, stream } from "./api.js";
import { card, failure, h, hbars, kv, legend, records, show, table, tile, vbars } from "./ui.js";

/** Loads several routes at once; a refused one becomes an Error value instead of failing all. */
async function load(paths) {
  const values = await Promise.all(paths.map((p) => api(p).catch((error) => error)));
  return values;
}

const failed = (value) => value instanceof Error;

/** Overview: capital by layer against exposure, coverage, open deficits, status and breakers. */
export async function overview(ctx) {
  // Venue-wide risk is for operators: a user key is not sent to /v1/risk at all.
  const operator = ctx.session.role !== "user";
  const [state, markets, deficits, risk] = await load(["/v1/state", "/v1/markets", "/v1/deficits",
    ...(operator ? ["/v1/risk"] : [])]);
  if (failed(state)) return failure(state);
  const out = [h("h1", {}, `Overview — ${state.venue}`)];
  out.push(h("div", { class: "tiles" },
    tile("venue status", state.status, state.status === "active" ? "good" : "bad"),
    tile("journal seq", state.seq), tile("venue clock (s)", state.now), tile("accounts", state.accounts),
    !operator || failed(risk) ? null : [
      tile("capital (numeraire)", risk.capital_value), tile("exposure (numeraire)", risk.exposure_value),
      tile("coverage", risk.coverage, risk.coverage !== null && Number(risk.coverage) < 1 ? "warn" : ""),
      tile("open deficits", risk.deficit_value, risk.deficit_value !== "0" ? "bad" : "good"),
    ]));
  if (!operator) {
    out.push(card("Risk", h("p", { class: "muted" }, "Venue-wide risk is shown to operator keys only.")));
  } else if (failed(risk)) {
    out.push(card("Risk", failure(risk)));
  } else {
    out.push(card("Capital against exposure, per market",
      legend([["l-capital", "capital of the market's waterfall"], ["l-exposure", "exposure"]]),
      hbars(risk.markets.map((m) => ({ label: m.market, bars: [
        { value: m.capital_value, cls: "bar-capital", text: "capital" },
        { value: m.exposure_value, cls: "bar-exposure", text: "exposure" }] }))),
      table([
        { label: "market", get: (m) => m.market }, { label: "kind", get: (m) => m.kind },
        { label: "exposure", get: (m) => m.exposure, num: true },
        { label: "exposure value", get: (m) => m.exposure_value, num: true },
        { label: "capital value", get: (m) => m.capital_value, num: true },
        { label: "coverage", get: (m) => m.coverage, num: true },
        { label: "waterfall", get: (m) => m.waterfall.join(" → ") },
      ], risk.markets)));
    out.push(h("div", { class: "grid" },
      card("Capital by layer",
        hbars(risk.layers.map((l) => ({ label: l.layer, bars: [{ value: l.value, cls: "bar-capital" }] }))),
        table([
          { label: "layer", get: (l) => l.layer }, { label: "asset", get: (l) => l.asset },
          { label: "balance", get: (l) => l.balance, num: true }, { label: "value", get: (l) => l.value, num: true },
        ], risk.layers, "no capital layers")),
      card("Open deficits", table([
        { label: "market", get: (d) => d.market }, { label: "asset", get: (d) => d.asset },
        { label: "recorded", get: (d) => d.recorded, num: true }, { label: "pending", get: (d) => d.pending, num: true },
        { label: "value", get: (d) => d.value, num: true },
      ], risk.deficits, "no open deficit"))));
  }
  out.push(card("Venue status and breakers", breakers(state, markets, deficits)));
  return h("div", {}, out);
}

/** Status set by the breakers, oracle pauses per asset, recap auctions. */
function breakers(state, markets, deficits) {
  const parts = [h("p", {}, "Venue status: ", h("span", { class: "badge" }, show(state.status)))];
  if (failed(markets)) parts.push(failure(markets));
  else parts.push(table([
    { label: "asset", get: (p) => p.symbol }, { label: "price", get: (p) => p.price, num: true },
    { label: "updated at", get: (p) => p.updated_at, num: true },
    { label: "oracle breaker", get: (p) => (p.paused ? h("span", { class: "bad" }, "paused") : "ok") },
  ], markets.prices));
  if (!failed(deficits)) {
    parts.push(h("h3", {}, "Recapitalisation auctions"), records(deficits.recap_auctions, "none open"));
  }
  return parts;
}

/** Per market: the waterfall in order, each layer's balance, caps and what it has paid. */
export async function waterfall() {
  const [risk] = await load(["/v1/risk"]);
  if (failed(risk)) return failure(risk);
  const out = [h("h1", {}, "Waterfalls")];
  for (const market of risk.markets) {
    const steps = market.steps ?? market.waterfall.map((layer) => ({ layer }));
    out.push(card(`${market.market} (${market.kind}) — exposure ${market.exposure_value}, coverage ${show(market.coverage)}`,
      steps.length === 0 ? h("p", { class: "muted" }, "no waterfall: a deficit stays recorded") : [
        hbars(steps.map((st, i) => ({ label: `${i + 1}. ${st.layer}`, bars: [
          { value: st.value ?? "0", cls: "bar-capital", text: "holds" },
          { value: st.paid ?? "0", cls: "bar-social", text: "paid" }] }))),
        table([
          { label: "#", get: (st) => steps.indexOf(st) + 1 },
          { label: "layer", get: (st) => st.layer }, { label: "asset", get: (st) => st.asset },
          { label: "balance", get: (st) => st.balance, num: true }, { label: "value", get: (st) => st.value, num: true },
          { label: "caps", get: (st) => caps(st.caps) },
          { label: "paid to this market", get: (st) => st.paid, num: true },
          { label: "recovered", get: (st) => st.recovered, num: true },
        ], steps)]));
  }
  return h("div", {}, out);
}

/** A layer's caps: "period_cap 1000 (used 1000, per 86400 s)". */
function caps(list) {
  if (!list || list.length === 0) return "none";
  return list.map((c) => {
    const notes = [c.used !== null && c.used !== undefined ? `used ${c.used}` : null,
      c.period_secs ? `per ${c.period_secs} s` : null].filter(Boolean);
    return `${c.cap} ${c.limit}${notes.length ? ` (${notes.join(", ")})` : ""}`;
  }).join("; ");
}

/** At risk: per asset and drop, what becomes liquidatable and the bad debt left. */
export async function atRisk() {
  const [risk] = await load(["/v1/risk"]);
  if (failed(risk)) return failure(risk);
  const out = [h("h1", {}, "At risk under price drops"),
    h("p", { class: "muted" }, `From the liquidation index on a copy of the state at journal seq ${risk.seq}.`)];
  for (const asset of risk.at_risk) {
    out.push(card(`${asset.asset} (price ${asset.price})`,
      legend([["l-capital", "collateral made liquidatable"], ["l-bad", "bad debt left"], ["l-line", "all backstop capital"]]),
      asset.steps.every((st) => st.accounts === 0)
        ? h("p", { class: "muted" }, "No account becomes liquidatable at any of these drops.")
        : vbars(asset.steps.map((st) => ({ label: `-${st.drop_pct}%`, bars: [
          { value: st.collateral_value, cls: "bar-capital", text: "collateral" },
          { value: st.bad_debt, cls: "bar-bad", text: "bad debt" }] })),
        { value: risk.capital_value, text: `all backstop capital ${risk.capital_value}` }),
      table([
        { label: "drop", get: (st) => `-${st.drop_pct}%` }, { label: "price", get: (st) => st.price, num: true },
        { label: "accounts", get: (st) => st.accounts, num: true },
        { label: "collateral value", get: (st) => st.collateral_value, num: true },
        { label: "debt value", get: (st) => st.debt_value, num: true },
        { label: "bad debt", get: (st) => st.bad_debt, num: true },
      ], asset.steps)));
  }
  return h("div", {}, out);
}

/** The kind of an event, for colour and filtering. */
export function classify(name) {
  if (/adl|delever/.test(name)) return "adl";
  if (/liquidat|auction/.test(name)) return "liquidation";
  if (/deficit|socializ|bad_debt/.test(name)) return "deficit";
  if (/paid|payment|cover|claim|slash|drawn|recap/.test(name)) return "payment";
  if (/vote|propos|queued|executed|veto/.test(name)) return "vote";
  return "other";
}

const KINDS = ["liquidation", "adl", "deficit", "payment", "vote", "other", "rejected"];

/** Live events: the journal stream, newest first, by kind. */
export async function events(ctx) {
  const state = await api("/v1/state");
  const shown = new Set(KINDS);
  const list = h("div", { class: "events" });
  const status = h("p", { class: "muted" }, "connecting…");
  const filters = h("p", {}, KINDS.map((kind) => h("label", {},
    h("input", { type: "checkbox", checked: true, onchange: (e) => {
      if (e.target.checked) shown.add(kind); else shown.delete(kind);
      for (const row of list.children) row.hidden = !shown.has(row.dataset.kind);
    } }), ` ${kind} `)));
  let last = Math.max(0, state.seq - 20);
  const add = (batch) => {
    batch.outcomes.forEach((outcome, i) => {
      const command = batch.commands[i]?.type ?? "?";
      const items = outcome.status === "applied" ? outcome.events : [{ event: `rejected ${outcome.code}: ${outcome.message}` }];
      for (const event of items) {
        const kind = outcome.status === "applied" ? classify(event.event) : "rejected";
        const { event: name, ...fields } = event;
        const row = h("div", { class: "row", "data-kind": kind, "data-seq": batch.seq },
          h("span", { class: "muted" }, `#${batch.seq}.${i} `), h("span", { class: `kind k-${kind}` }, name),
          h("span", { class: "muted" }, ` ${command} `), JSON.stringify(fields));
        row.hidden = !shown.has(kind);
        list.prepend(row);
      }
    });
    while (list.children.length > 1000) list.lastChild.remove();
  };
  const follow = async () => {
    for (let wait = 500; !ctx.signal.aborted; wait = Math.min(wait * 2, 10000)) {
      try {
        await stream(last, (e) => {
          if (e.event === "batch") {
            const batch = JSON.parse(e.data);
            last = batch.seq;
            add(batch);
            status.textContent = `live — last journal seq ${last}`;
            wait = 500;
          } else if (e.event === "error") {
            status.textContent = `stream error: ${e.data}`;
          }
        }, ctx.signal);
        status.textContent = "stream ended; reconnecting…";
      } catch (error) {
        if (ctx.signal.aborted) return;
        status.textContent = `disconnected (${error.message}); retrying…`;
        if (error.status === 401 || error.status === 403) return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  follow();
  status.textContent = `connected from journal seq ${last}`;
  return h("div", {}, h("h1", {}, "Live events"), status, filters, card(null, list));
}

/** Funds, offsets, staker pools, stability pools, cover. */
export async function funds() {
  const [fundsBody, pools, cover] = await load(["/v1/funds", "/v1/pools", "/v1/cover"]);
  const out = [h("h1", {}, "Funds, pools and cover")];
  out.push(card("Insurance funds", failed(fundsBody) ? failure(fundsBody) : [
    table([
      { label: "fund", get: (f) => f.name }, { label: "asset", get: (f) => f.asset },
      { label: "balance", get: (f) => f.state.balance, num: true },
      { label: "paid this period", get: (f) => f.state.period_paid, num: true },
      { label: "period start", get: (f) => f.state.period_start, num: true },
      { label: "paid by market", get: (f) => show(f.state.paid_by_market) },
    ], fundsBody.funds, "no fund"),
    h("h3", {}, "Offsets"), records(fundsBody.offsets)]));
  out.push(card("Staker pools (shares, cooldown queue)", failed(pools) ? failure(pools) : records(pools.staker_pools)));
  out.push(card("Stability pools", failed(pools) ? failure(pools) : records(pools.stability_pools)));
  out.push(card("Cover", failed(cover) ? failure(cover) : [records(cover.covers), h("h3", {}, "Cover claims"), records(cover.claims)]));
  return h("div", {}, out);
}

/** Governance proposals (votes, timelock) and incidents and claims. */
export async function governance() {
  const [proposals, claims] = await load(["/v1/proposals", "/v1/claims"]);
  return h("div", {}, h("h1", {}, "Governance, incidents and claims"),
    card("Proposals (votes, timelock)", failed(proposals) ? failure(proposals) : records(proposals.proposals, "no proposal")),
    card("Incidents", failed(claims) ? failure(claims) : records(claims.incidents, "no incident")),
    card("Claims", failed(claims) ? failure(claims) : records(claims.claims, "no claim")));
}

/** Accounts: a user key's own accounts; operators look one up by id. */
export async function accounts(ctx) {
  const out = h("div", {}, h("h1", {}, "Accounts"));
  const show1 = async (id, into) => {
    into.replaceChildren(h("p", { class: "muted" }, "loading…"));
    try {
      const body = await api(`/v1/accounts/${encodeURIComponent(id)}`);
      into.replaceChildren(card(`Account ${body.id} ${body.liquidatable ? "— liquidatable" : ""}`, kv({ health: body.health, account: body.account })));
    } catch (error) {
      into.replaceChildren(failure(error));
    }
  };
  if (ctx.session.role === "user") {
    for (const id of ctx.session.accounts) {
      const into = h("div");
      out.append(into);
      await show1(id, into);
    }
    if (ctx.session.accounts.length === 0) out.append(h("p", { class: "muted" }, "This key acts for no account."));
    return out;
  }
  const into = h("div");
  const input = h("input", { type: "number", min: 0, step: 1, name: "account", placeholder: "account id" });
  out.append(h("form", { class: "stack", onsubmit: (e) => { e.preventDefault(); show1(input.value, into); } },
    h("label", {}, "Account id ", input), h("button", { type: "submit" }, "Show")), into);
  return out;
}
