// Small HTML helpers: escaping, number formatting, table cells that keep the returned value beside the
// formatted one (``data-value``), so what is shown can be held against what the API answered.

import { language, t } from "./i18n.js";

export const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function fmt(value, kind) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (kind === "share") return `${(Number(value) * 100).toLocaleString(language(), { maximumFractionDigits: 1 })}%`;
  if (typeof value === "number") return value.toLocaleString(language(), { maximumFractionDigits: 2 });
  return String(value);
}

/** A table cell showing ``value`` formatted, with the value itself in ``data-value``. */
export function cell(value, kind) {
  const numeric = typeof value === "number" || kind === "share" || kind === "money";
  const raw = value === null || value === undefined ? "" : String(value);
  return `<td${numeric ? ' class="num"' : ""} data-value="${esc(raw)}">${esc(fmt(value, kind))}</td>`;
}

export const text = (value) => `<td>${esc(value)}</td>`;

export function table(id, headers, rows) {
  const head = headers.map((h) => `<th>${esc(t(h))}</th>`).join("");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function facts(id, pairs) {
  const items = pairs.map(([label, value, kind]) =>
    `<dt>${esc(t(label))}</dt><dd data-field="${esc(label)}" data-value="${esc(value ?? "")}">${esc(fmt(value, kind))}</dd>`);
  return `<dl class="facts" id="${id}">${items.join("")}</dl>`;
}
