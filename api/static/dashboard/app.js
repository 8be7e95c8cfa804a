// The dashboard page: sign-in, the filters (kept in the URL's query string, so reloading restores them),
// the language switch, and the three views (overview, find, retiree). ``document.body.dataset.state``
// is "loading" while calls are under way and "ready" once what they answered is on the page (or
// "failed", or "signin"); ``dataset.shown`` is then the query string that state belongs to.

import { ApiError, Unauthorized, call, projection, token } from "./api.js";
import { disposeAll, resizeAll } from "./charts.js";
import { esc } from "./html.js";
import { SERVICE_TYPES, setLanguage, t } from "./i18n.js";
import * as overview from "./overview.js";
import { loadRetiree, showFind, showRetiree } from "./retiree.js";

const FILTERS = ["city", "community", "month_from", "month_to", "service_type"];
const $ = (selector) => document.querySelector(selector);
let catalogue = null; // the communities {community, name, city} that the standards view knows
let loaded = { key: null, data: null }; // the last answers, reused when only the language changes
let generation = 0;

function state() {
  const q = new URLSearchParams(location.search);
  const filters = Object.fromEntries(FILTERS.map((name) => [name, q.get(name) || ""]));
  return { view: q.get("view") || "overview", lang: q.get("lang") || "zh", retiree: q.get("retiree") || "",
    as_of: q.get("as_of") || "", filters };
}

/** Changes the query string (empty values removed) and renders; ``push`` adds a history entry. */
function go(changes, push = true) {
  const q = new URLSearchParams(location.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value) q.set(name, value); else q.delete(name);
  }
  const target = `${location.pathname}?${q}`;
  if (push) history.pushState(null, "", target); else history.replaceState(null, "", target);
  return render();
}

function showSignin(message = "", refused = false) {
  disposeAll($("#view"));
  $("#view").innerHTML = "";
  $("#status").textContent = "";
  $("#signin").hidden = false;
  $("#filters").hidden = true;
  $("#signout").hidden = true;
  const note = $("#signin-message");
  note.hidden = !message;
  note.textContent = message;
  note.dataset.reason = refused ? "401" : "";
  catalogue = null;
  loaded = { key: null, data: null };
  settle("signin");
}

async function ensureCatalogue() {
  if (catalogue) return;
  const { rows } = await projection("standards", {});
  const seen = new Map();
  for (const row of rows) seen.set(row.community, { community: row.community, name: row.name, city: row.city });
  catalogue = [...seen.values()].sort((a, b) => (a.city + a.community < b.city + b.community ? -1 : 1));
}

function options(select, values, chosen) {
  select.innerHTML = [["", t("all")], ...values].map(([value, label]) =>
    `<option value="${esc(value)}"${value === chosen ? " selected" : ""}>${esc(label)}</option>`).join("");
}

function fillCommunities(city, chosen) {
  const known = catalogue.filter((c) => !city || c.city === city);
  const listed = known.map((c) => [c.community, `${c.name} (${c.community})`]);
  if (chosen && !known.some((c) => c.community === chosen)) listed.push([chosen, chosen]);
  options($("#f-community"), listed, chosen);
}

function fillFilters(s) {
  const cities = [...new Set(catalogue.map((c) => c.city))];
  if (s.filters.city && !cities.includes(s.filters.city)) cities.push(s.filters.city);
  options($("#f-city"), cities.map((city) => [city, t(city)]), s.filters.city);
  fillCommunities(s.filters.city, s.filters.community);
  $("#f-month_from").value = s.filters.month_from;
  $("#f-month_to").value = s.filters.month_to;
  options($("#f-service_type"), SERVICE_TYPES.map((type) => [type, t(type)]), s.filters.service_type);
  for (const el of document.querySelectorAll(".overview-only")) el.hidden = s.view !== "overview";
  $("#filters").hidden = s.view === "retiree";
}

function statusLine(data) {
  const views = Object.entries(data).filter(([, answer]) => answer && answer.position !== undefined);
  const uniform = new Set(views.map(([, a]) => `${a.position}|${a.lag}`)).size === 1;
  const line = (a) => `${esc(t("position"))} ${a.position} · ${esc(t("lag"))} ${a.lag}`;
  const spans = views.map(([view, a]) => `<span data-view="${view}" data-position="${a.position}" data-lag="${a.lag}"
    ${uniform ? "hidden" : ""}>${esc(view)}: ${line(a)}</span>`);
  $("#status").innerHTML = uniform ? `${line(views[0][1])} (${esc(t("all_views"))})${spans.join("")}` : spans.join(" | ");
}

async function cached(key, loader) {
  if (loaded.key !== key) loaded = { key, data: await loader() };
  return loaded.data;
}

export async function render() {
  const run = ++generation;
  const s = state();
  setLanguage(s.lang);
  if (!token.get()) { showSignin(); return; }
  $("#signin").hidden = true;
  $("#signout").hidden = false;
  document.body.dataset.state = "loading";
  document.body.dataset.view = s.view;
  const root = $("#view");
  try {
    await ensureCatalogue();
    fillFilters(s);
    if (s.view === "retiree" && s.retiree) {
      const data = await cached(`retiree|${s.retiree}|${s.as_of}`, () => loadRetiree(s.retiree, s.as_of));
      if (run !== generation) return;
      disposeAll(root);
      $("#status").textContent = "";
      await showRetiree(root, data, s.as_of, (asOf) => go({ as_of: asOf }));
    } else if (s.view === "find") {
      disposeAll(root);
      $("#status").textContent = "";
      await showFind(root, s.filters, (id) => go({ view: "retiree", retiree: id, as_of: "" }));
    } else {
      $("#status").textContent = t("loading");
      const data = await cached(`overview|${JSON.stringify(s.filters)}`, () => overview.load(s.filters));
      if (run !== generation) return;
      disposeAll(root);
      overview.show(root, data, s.filters);
      statusLine(data);
      root.querySelector("#compliance-all")?.addEventListener("click", () => {
        disposeAll(root);
        overview.show(root, data, s.filters, { allCompliance: true });
      });
    }
    if (run === generation) settle("ready");
  } catch (error) {
    reportFailure(error);
  }
}

function reportFailure(error) {
  if (error instanceof Unauthorized) {
    token.clear();
    showSignin(t("signin_refused"), true);
    return;
  }
  $("#status").textContent = `${t("failed")}: ${error instanceof ApiError ? `${error.status} ${error.message}` : error}`;
  settle("failed");
}

function settle(state) {
  document.body.dataset.shown = location.search;
  document.body.dataset.state = state;
}
window.reportFailure = reportFailure;

function wire() {
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token.set($("#token").value.trim());
    $("#token").value = "";
    render();
  });
  $("#signout").addEventListener("click", () => { token.clear(); showSignin(t("signed_out")); });
  $("#lang").addEventListener("click", () => go({ lang: state().lang === "zh" ? "en" : "zh" }, false));
  $("#f-city").addEventListener("change", () => fillCommunities($("#f-city").value, $("#f-community").value));
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    go(Object.fromEntries(FILTERS.map((name) => [name, $(`#f-${name}`).value])));
  });
  $("#f-reset").addEventListener("click", () => go(Object.fromEntries(FILTERS.map((name) => [name, ""]))));
  for (const [id, view] of [["#nav-overview", "overview"], ["#nav-find", "find"]]) {
    $(id).addEventListener("click", (event) => { event.preventDefault(); go({ view }); });
  }
  window.addEventListener("popstate", () => render());
  window.addEventListener("resize", resizeAll);
  render();
}

wire();
