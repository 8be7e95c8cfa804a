// Finding a retiree (the directory, lookup by ID number in a POST body) and the auditor's page of one
// retiree: the state now and as of a date, the timeline of its history, and the verification status
// (chain verification, the latest signed checkpoint and an inclusion proof checked in the browser).

import { ApiError, call, history } from "./api.js";
import { cell, esc, facts, fmt, table, text } from "./html.js";
import { t } from "./i18n.js";
import { leafMatches, rootMatches } from "./merkle.js";

const DIRECTORY_PAGE = 50;

export function showFind(root, filters, open) {
  root.innerHTML = `<section class="panel" id="panel-lookup"><h2>${esc(t("lookup"))}</h2>
      <form id="lookup-form"><label>${esc(t("id_number"))}
        <input id="id-number" name="id_number" autocomplete="off" maxlength="18" required></label>
        <button type="submit">${esc(t("lookup_button"))}</button></form>
      <p id="lookup-message" class="alert" hidden></p></section>
    <section class="panel" id="panel-directory"><h2>${esc(t("directory"))}</h2>
      ${table("directory", ["col_id", "col_city", "col_district", "col_community", "col_stage", "col_pension_status",
        "col_enrolled"], [])}
      <button id="directory-more" type="button" hidden>${esc(t("more"))}</button></section>`;
  root.querySelector("#lookup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = root.querySelector("#lookup-message");
    try {
      const { body } = await call("/v1/retirees/lookup", {}, {
        method: "POST", body: { id_number: root.querySelector("#id-number").value.trim() } });
      open(body.retiree_id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.hidden = false;
      message.textContent = error.status === 404 ? t("not_found") : `${error.status}: ${error.message}`;
    }
  });
  let cursor = null;
  const more = async () => {
    const { body } = await call("/v1/retirees", { city: filters.city, community: filters.community,
      limit: DIRECTORY_PAGE, cursor });
    root.querySelector("#directory tbody").insertAdjacentHTML("beforeend", body.retirees.map((r) => `<tr>
      <td><a href="?view=retiree&retiree=${esc(r.retiree_id)}" data-retiree="${esc(r.retiree_id)}">
        <code>${esc(r.retiree_id)}</code></a></td>${text(t(r.city))}${text(r.district)}${text(r.community)}
      ${text(t(r.stage))}${text(t(r.pension_status))}${text(r.enrolled)}</tr>`).join(""));
    cursor = body.next;
    root.querySelector("#directory-more").hidden = !cursor;
  };
  root.querySelector("#directory-more").addEventListener("click", () => more().catch(window.reportFailure));
  root.querySelector("#directory").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-retiree]");
    if (link) { event.preventDefault(); open(link.dataset.retiree); }
  });
  return more();
}

/** The calls of the retiree page; audit answers that are refused (403) or absent (404) are kept as such. */
export async function loadRetiree(id, asOf) {
  const kept = (promise) => promise.then(({ body }) => body, (error) => {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) return { refused: error.status };
    throw error;
  });
  const [now, entries, past, verify, checkpoint] = await Promise.all([
    call(`/v1/retirees/${encodeURIComponent(id)}`).then(({ body }) => body),
    history(id),
    asOf ? call(`/v1/retirees/${encodeURIComponent(id)}`, { as_of: asOf }).then(({ body }) => body) : null,
    kept(call("/v1/audit/verify")),
    kept(call("/v1/audit/checkpoints/latest")),
  ]);
  let proof = null;
  let proved = null;
  if (!checkpoint.refused) {
    proved = entries.filter((e) => e.seq <= checkpoint.tree_size).at(-1) || null;
    if (proved) proof = await kept(call("/v1/audit/proof/inclusion", { seq: proved.seq, tree_size: checkpoint.tree_size }));
  }
  return { now, entries, past, verify, checkpoint, proved, proof };
}

const CODED = new Set(["city", "stage", "pension_status", "sex"]); // codes shown in the page's language

function stateFacts(id, state) {
  const pairs = Object.entries(state).filter(([key]) => key !== "services").map(([key, value]) => [key,
    Array.isArray(value) ? value.map((v) => (Array.isArray(v) ? v.join(" ") : v)).join(", ") : value,
    CODED.has(key) && value !== "***" ? "code" : key === "version" ? "plain" : undefined]);
  return facts(id, pairs);
}

function timeline(entries) {
  const lines = entries.map((e) => `<tr data-seq="${e.seq}">${cell(e.seq, "plain")}${cell(e.version, "plain")}${text(t(e.type))}
    <td><code>${esc(JSON.stringify(e.data))}</code></td>${text(e.recorded_by)}${text(e.timestamp)}
    <td class="hash" title="${esc(e.hash)}">${esc(e.hash.slice(0, 12))}…</td></tr>`);
  return table("timeline", ["col_seq", "version", "col_type", "col_data", "col_by", "col_recorded", "col_hash"], lines);
}

const mark = (id, ok, label) =>
  `<p id="${id}" class="${ok ? "ok" : "bad"}" data-ok="${ok}">${ok ? "✓" : "✗"} ${esc(label)}</p>`;

async function verification(data) {
  if (data.verify.refused) return `<p id="verify-status" class="alert" data-ok="">${esc(t("auditors_only"))}</p>`;
  const v = data.verify;
  let html = mark("verify-status", v.ok, `${t("verify_chain")}: ${t(v.ok ? "verify_ok" : "verify_bad")}`)
    + facts("verify-facts", [["checked", v.checked], ["head", v.head, "plain"], ["checkpoints", v.checkpoints],
      ["first_bad_seq", v.first_bad_seq], ["reason", v.reason]]);
  const c = data.checkpoint;
  if (c.refused) return `${html}<p id="checkpoint-none">${esc(t("no_checkpoint"))}</p>`;
  html += `<h3>${esc(t("checkpoint"))}</h3>` + facts("checkpoint-facts", [["tree_size", c.tree_size],
    ["root_hash", c.root_hash], ["time", c.time], ["signature", `${c.signature.slice(0, 32)}…`]]);
  if (!data.proved) return `${html}<p id="inclusion-none">${esc(t("after_checkpoint"))}</p>`;
  if (!data.proof || data.proof.refused) return html;
  const leaf = await leafMatches(data.proved.hash, data.proof);
  const root = await rootMatches(data.proof, c.root_hash);
  return `${html}<h3>${esc(t("inclusion"))}</h3>` + facts("inclusion-facts", [["proved_event", data.proved.seq, "plain"],
    ["leaf_index", data.proof.leaf_index, "plain"], ["tree_size", data.proof.tree_size],
    ["path_length", data.proof.audit_path.length]]) + mark("inclusion-leaf", leaf, t("leaf_matches"))
    + mark("inclusion-root", root, t("root_matches"));
}

export async function showRetiree(root, data, asOf, choose) {
  const count = data.entries.length;
  root.innerHTML = `<section class="panel" id="panel-retiree"><h2>${esc(t("retiree"))} <code>${esc(data.now.id)}</code></h2>
      <div class="charts"><div><h3>${esc(t("state_now"))}</h3>${stateFacts("state-now", data.now)}</div>
      <div><h3>${esc(t("state_as_of"))}</h3>
        <form id="as-of-form"><label>${esc(t("as_of"))} <input id="as-of" type="date" value="${esc(asOf || "")}"
          required></label> <button type="submit">${esc(t("as_of_button"))}</button></form>
        ${data.past ? stateFacts("state-as-of", data.past) : ""}</div></div></section>
    <section class="panel" id="panel-verification"><h2>${esc(t("verification"))}</h2>${await verification(data)}</section>
    <section class="panel" id="panel-timeline"><h2>${esc(t("timeline"))} <small>(<span id="timeline-count"
      data-value="${count}">${esc(fmt(count))}</span> ${esc(t("events"))})</small></h2>
      <div class="scroll">${timeline(data.entries)}</div></section>`;
  root.querySelector("#as-of-form").addEventListener("submit", (event) => {
    event.preventDefault();
    choose(root.querySelector("#as-of").value);
  });
}
