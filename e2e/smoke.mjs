// Browser smoke test of the dashboard against a running `backstop serve` fed e2e/setup.json
// (run.sh does all of it). Debian's chromium, driven by playwright-core; no browser download.
// Env: BACKSTOP_URL, ADMIN_KEY, USER_KEY (owns account 2), SUMMARY_JSON (optional), OUT_DIR.

import { chromium } from "playwright-core";
import fs from "node:fs";

const base = process.env.BACKSTOP_URL;
const admin = process.env.ADMIN_KEY;
const user = process.env.USER_KEY;
const out = process.env.OUT_DIR ?? "target/e2e";
fs.mkdirSync(out, { recursive: true });

let passed = 0;
let failed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`PASS ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error.message}`);
  }
}
function equal(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
async function api(path, key, body) {
  const init = { headers: { Authorization: `Bearer ${key}` } };
  if (body) Object.assign(init, { method: "POST", body: JSON.stringify(body) }, { headers: { ...init.headers, "Content-Type": "application/json" } });
  return (await fetch(base + path, init)).json();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"] });
const problems = [];
async function session(key) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error") problems.push(`${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(`${base}/`);
  await page.fill("#key", key);
  await page.click("#login-form button");
  await page.waitForSelector("#nav a");
  return page;
}
const cell = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());

const page = await session(admin);
for (const name of ["overview", "waterfall", "at-risk", "events", "funds", "governance", "accounts", "stress", "summary"]) {
  await check(`page ${name} renders`, async () => {
    await page.goto(`${base}/#/${name}`);
    await page.waitForFunction(() => !document.querySelector("#page > p.muted")?.textContent.startsWith("loading"));
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
    if (await page.$("#page p.error")) throw new Error(await cell(page, "#page p.error"));
  });
}

await check("overview figures equal GET /v1/risk", async () => {
  const risk = await api("/v1/risk", admin);
  await page.goto(`${base}/#/overview`);
  await page.waitForSelector(".tile");
  const tiles = await page.$$eval(".tile", (ts) => Object.fromEntries(ts.map((t) => [t.children[0].textContent, t.children[1].textContent])));
  equal(tiles["coverage"], risk.coverage, "coverage");
  equal(tiles["capital (numeraire)"], risk.capital_value, "capital");
  equal(tiles["exposure (numeraire)"], risk.exposure_value, "exposure");
});

await check("at-risk table equals GET /v1/risk at -30%", async () => {
  const risk = await api("/v1/risk", admin);
  const eth = risk.at_risk.find((a) => a.asset === "ETH").steps.find((s) => s.drop_pct === 30);
  await page.goto(`${base}/#/at-risk`);
  await page.waitForSelector("table");
  const rows = await page.$$eval("#page section.card", (cards) => cards.filter((c) => c.querySelector("h2")?.textContent.startsWith("ETH"))
    .flatMap((c) => [...c.querySelectorAll("tbody tr")].map((r) => [...r.children].map((td) => td.textContent))));
  const row = rows.find((r) => r[0] === "-30%");
  equal(row[3], eth.collateral_value, "collateral");
  equal(row[5], eth.bad_debt, "bad debt");
});

await check("an SSE event appears within a second", async () => {
  await page.goto(`${base}/#/events`);
  await page.waitForSelector(".events .row");
  const next = (await api("/v1/state", admin)).seq + 1;
  await api("/v1/commands", admin, { command: { type: "open_account", account: 77 } });
  await page.waitForSelector(`.events .row[data-seq="${next}"]`, { timeout: 1000 });
});

await check("a what-if runs and shows its payments", async () => {
  const answer = await api("/v1/stress", admin, { steps: [{ ETH: "-50%" }] });
  await page.goto(`${base}/#/stress`);
  await page.fill("#stress-form textarea[name=steps]", "ETH=-50%");
  await page.click("#stress-form button");
  await page.waitForSelector("#stress-result table");
  await page.screenshot({ path: `${out}/stress-answer.png`, fullPage: true });
  const row = await page.$$eval("#stress-result tbody tr", (rs) => [...rs[0].children].map((td) => td.textContent));
  const usdc = answer.markets[0];
  equal(row[2], usdc.deficit, "deficit");
  if (!row.includes(usdc.paid["fund:insurance"])) throw new Error(`fund payment ${usdc.paid["fund:insurance"]} not in ${row}`);
});

if (process.env.SUMMARY_JSON) {
  await check("the summary viewer opens summary.json", async () => {
    await page.goto(`${base}/#/summary`);
    await page.setInputFiles("input[type=file]", process.env.SUMMARY_JSON);
    await page.waitForSelector("#summary-view table");
    await page.screenshot({ path: `${out}/summary-report.png`, fullPage: true });
  });
}

await check("the key stays in sessionStorage, never the URL", async () => {
  const [local, session, href] = await page.evaluate(() => [localStorage.length, sessionStorage.getItem("backstop.key"), location.href]);
  equal(local, 0, "localStorage entries");
  equal(session, admin, "sessionStorage key");
  if (href.includes(admin)) throw new Error("key in the URL");
});

await check("a wrong key is refused", async () => {
  const wrong = await browser.newPage();
  await wrong.goto(`${base}/`);
  await wrong.fill("#key", `bsk_${"0".repeat(64)}`);
  await wrong.click("#login-form button");
  await wrong.waitForFunction(() => document.querySelector("#login-error").textContent !== "");
  const text = await cell(wrong, "#login-error");
  if (!text.startsWith("invalid_api_key")) throw new Error(text);
  await wrong.close();
});

await check("a user key sees only its own accounts", async () => {
  const u = await session(user);
  const nav = await u.$$eval("#nav a", (as) => as.map((a) => a.dataset.page));
  for (const hidden of ["waterfall", "at-risk", "events", "stress"]) if (nav.includes(hidden)) throw new Error(`user sees ${hidden}`);
  await u.goto(`${base}/#/accounts`);
  await u.waitForSelector("#page section.card h2");
  const titles = await u.$$eval("#page section.card h2", (hs) => hs.map((x) => x.textContent.trim()));
  equal(JSON.stringify(titles), JSON.stringify(["Account 2"]), "accounts shown");
  await u.screenshot({ path: `${out}/user-accounts.png`, fullPage: true });
});

await check("no console error on any page", async () => {
  if (problems.length) throw new Error(problems.join("; "));
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
