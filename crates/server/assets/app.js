// The page: asks for a key, learns its role from GET /v1/session, shows the pages that role may
// read (the same role sets as the server's route table), and routes on the URL hash.

import { ApiError, api, clearKey, getKey, setKey } from "./api.js";
import { failure, h } from "./ui.js";
import * as pages from "./pages.js";
import * as lab from "./lab.js";

const ALL = ["admin", "oracle", "keeper", "governance", "user"];
const OPERATORS = ["admin", "oracle", "keeper", "governance"];

/** Hash route, title, page, roles that may open it. */
const PAGES = [
  ["overview", "Overview", pages.overview, ALL],
  ["waterfall", "Waterfalls", pages.waterfall, OPERATORS],
  ["at-risk", "At risk", pages.atRisk, OPERATORS],
  ["events", "Live events", pages.events, ["admin", "keeper", "governance"]],
  ["funds", "Funds & pools", pages.funds, ALL],
  ["governance", "Governance", pages.governance, ALL],
  ["accounts", "Accounts", pages.accounts, ["admin", "keeper", "governance", "user"]],
  ["stress", "What-if", lab.stress, ["admin", "keeper", "governance"]],
  ["summary", "Stress-lab report", lab.summary, ALL],
];

const $ = (id) => document.getElementById(id);
let session = null;
let current = null;

function allowed() {
  return PAGES.filter((p) => session && p[3].includes(session.role));
}

async function render() {
  if (current) current.abort();
  current = new AbortController();
  const signal = current.signal;
  const visible = allowed();
  const name = location.hash.replace(/^#\/?/, "") || visible[0][0];
  const page = visible.find((p) => p[0] === name) ?? visible[0];
  for (const link of $("nav").children) link.classList.toggle("active", link.dataset.page === page[0]);
  const target = $("page");
  target.replaceChildren(h("p", { class: "muted" }, "loading…"));
  try {
    const node = await page[2]({ session, signal });
    if (!signal.aborted) target.replaceChildren(node);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return logout("The key was refused.");
    if (!signal.aborted) target.replaceChildren(failure(error));
  }
}

function showApp() {
  $("login").hidden = true;
  $("refresh").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `role ${session.role}${session.accounts.length ? `, accounts ${session.accounts.join(", ")}` : ""}`;
  $("nav").replaceChildren(...allowed().map(([id, title]) => h("a", { href: `#/${id}`, "data-page": id }, title)));
  render();
}

function logout(message) {
  if (current) current.abort();
  clearKey();
  session = null;
  $("nav").replaceChildren();
  $("page").replaceChildren();
  $("who").textContent = "";
  $("refresh").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message ?? "";
  $("key").focus();
}

async function open() {
  try {
    session = await api("/v1/session");
    showApp();
  } catch (error) {
    logout(error instanceof ApiError ? `${error.code}: ${error.message}` : String(error));
  }
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey($("key").value.trim());
  $("key").value = "";
  open();
});
$("logout").addEventListener("click", () => logout());
$("refresh").addEventListener("click", () => render());
window.addEventListener("hashchange", () => session && render());

if (getKey()) open();
else logout();
