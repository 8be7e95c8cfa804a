// Small HTML helpers: escaping, number formatting, table cells that keep the returned value beside the
// formatted one (``data-value``), so what is shown can be held against what the API answered.

import { language, t } from "./i18n.js";

export const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function fmt(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (kind === "plain") return String(value);
  if (kind === "code") return t(String(value));
  if (kind === "money") {
    return Number(value).toLocaleString(language(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  if (kind === "share") return `${(Number(value) * 100).toLocaleString(language(), { maximumFractionDigits: 1 })}%`;
  if (typeof value === "number") return value.toLocaleString(language(), { maximumFractionDigits: 2 });
  return String(value);
}

/** A table cell showing ``value`` formatted (``kind``: "share" as a percentage, "money" with two places,
 * "plain" as it is, for sequence numbers and ids, "code" translated), with the value itself in ``data-value``. */
export function cell(value, kind) {
  const numeric = typeof value === "number" || kind !== undefined;
  const raw = value === null || value === undefined ? "" : String(value);
  return `<td${numeric ? ' class="num"' : ""} data-value="${esc(raw)}">${esc(fmt(value, kind))}</td>`;
}

export const text = (value) => `<td>${esc(value)}</td>`;

/** A cell showing ``label`` (a translated code, a name) with the code as the API returned it in ``data-value``. */
export const coded = (value, label) => `<td data-value="${esc(value)}">${esc(label)}</td>`;

export function table(id, headers, rows) {
  const head = headers.map((h) => `<th>${esc(t(h))}</th>`).join("");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function facts(id, pairs) {
  const items = pairs.map(([label, value, kind]) =>
    `<dt>${esc(t(label))}</dt><dd data-field="${esc(label)}" data-value="${esc(value ?? "")}">${esc(fmt(value, kind))}</dd>`);
  return `<dl class="facts" id="${id}">${items.join("")}</dl>`;
}
