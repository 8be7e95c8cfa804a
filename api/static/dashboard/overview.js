// The overview: per city and community, month by month (workload, satisfaction, pension roll) and year
// by year (standards, compliance, training, funding). ``load`` makes the API calls; ``show`` draws what
// they answered. service_type goes to the satisfaction view only (the others refuse it).

import { projection } from "./api.js";
import { axisOf, draw, option, perCommunity, summed, summedMoney } from "./charts.js";
import { cell, coded, esc, fmt, table, text } from "./html.js";
import { communityLabel, t } from "./i18n.js";

const VIEWS = ["workload", "pensions", "standards", "compliance", "training", "funding"];
const CHARTS = ["managed", "transfers", "services", "ratio", "turnover", "training-hours", "certified", "sat-mean",
  "sat-dist", "pensions", "adjustments", "funding", "training"];
const COMPLIANCE_SHOWN = 100;
const SCORES = ["1", "2", "3", "4", "5"];

export async function load(filters) {
  const common = { city: filters.city, community: filters.community, month_from: filters.month_from,
    month_to: filters.month_to };
  const answers = await Promise.all([
    ...VIEWS.map((view) => projection(view, common)),
    projection("satisfaction", { ...common, service_type: filters.service_type }),
  ]);
  const data = Object.fromEntries(VIEWS.map((view, n) => [view, answers[n]]));
  data.satisfaction = answers[VIEWS.length];
  return data;
}

const label = (row) => communityLabel(row);
const sum = (rows, field) => rows.reduce((n, row) => n + Number(field(row)), 0);
const last = (rows, key) => axisOf(rows, key).at(-1);

function card(id, labelKey, value, note = "", kind = undefined) {
  return `<div class="card" id="kpi-${id}"><div class="label">${esc(t(labelKey))}${note ? ` · ${esc(note)}` : ""}</div>
    <div class="figure" data-value="${esc(value ?? "")}">${esc(fmt(value, kind))}</div></div>`;
}

function kpis(data, serviceType) {
  const work = data.workload.rows;
  const month = last(work, "month");
  const atMonth = work.filter((row) => row.month === month);
  const pensionMonth = last(data.pensions.rows, "month");
  const roll = data.pensions.rows.filter((row) => row.month === pensionMonth);
  const typed = work.length && serviceType in work[0].services;
  const rollCents = sum(roll, (row) => Math.round(Number(row.total_monthly_pension) * 100));
  return `<div class="cards">
    ${card("managed", "kpi_managed", sum(atMonth, (r) => r.retirees_managed), month)}
    ${card("staff", "kpi_staff", sum(atMonth, (r) => r.full_time_staff), month)}
    ${card("transfers-in", "kpi_transfers_in", sum(work, (r) => r.transfers_in))}
    ${card("transfers-out", "kpi_transfers_out", sum(work, (r) => r.transfers_out))}
    ${card("services", "kpi_services", sum(work, (r) => (typed ? r.services[serviceType] : r.services_total)),
      typed ? t(serviceType) : "")}
    ${card("minutes", "kpi_minutes", sum(work, (r) => r.service_minutes))}
    ${card("training-hours", "kpi_training_hours", sum(work, (r) => r.training_hours))}
    ${card("ratings", "kpi_ratings", sum(data.satisfaction.rows, (r) => r.count))}
    ${card("pension", "kpi_pension", roll.length ? (rollCents / 100).toFixed(2) : null, pensionMonth, "money")}
    ${card("adjustments", "kpi_adjustments", sum(data.pensions.rows, (r) => r.adjustments))}
  </div>`;
}

function communitiesTable(rows) {
  const byCommunity = new Map();
  for (const row of rows) (byCommunity.get(row.community) || byCommunity.set(row.community, []).get(row.community)).push(row);
  const lines = [...byCommunity.values()]
    .map((own) => ({ own, end: own.reduce((a, b) => (b.month > a.month ? b : a)) }))
    .sort((a, b) => (a.end.city + a.end.community < b.end.city + b.end.community ? -1 : 1))
    .map(({ own, end }) => `<tr data-community="${esc(end.community)}">${text(label(end))}${coded(end.city, t(end.city))}
      ${cell(end.retirees_managed)}${cell(end.full_time_staff)}${cell(end.retirees_per_full_time_staff)}
      ${cell(end.turnover, "share")}${cell(sum(own, (r) => r.transfers_in))}${cell(sum(own, (r) => r.transfers_out))}
      ${cell(sum(own, (r) => r.services_total))}${cell(sum(own, (r) => r.service_minutes))}
      ${cell(sum(own, (r) => r.training_hours))}</tr>`);
  return table("communities", ["col_community", "col_city", "col_managed", "col_ft_staff", "col_ratio", "col_turnover",
    "col_in", "col_out", "col_services", "col_minutes", "col_training_hours"], lines);
}

/** Per community: ratings, mean of all its ratings (from the summed distribution), distribution; lowest first. */
export function lowestRated(rows, shown = 5) {
  const byCommunity = new Map();
  for (const row of rows) {
    const entry = byCommunity.get(row.community) || byCommunity.set(row.community,
      { row, count: 0, dist: Object.fromEntries(SCORES.map((s) => [s, 0])) }).get(row.community);
    entry.count += row.count;
    for (const s of SCORES) entry.dist[s] += row.distribution[s];
  }
  return [...byCommunity.values()].filter((e) => e.count > 0)
    .map((e) => ({ ...e, mean: SCORES.reduce((n, s) => n + Number(s) * e.dist[s], 0) / e.count }))
    .sort((a, b) => a.mean - b.mean || (a.row.community < b.row.community ? -1 : 1)).slice(0, shown);
}

function lowestTable(rows) {
  const lines = lowestRated(rows).map((e) => `<tr data-community="${esc(e.row.community)}">${text(label(e.row))}
    ${coded(e.row.city, t(e.row.city))}${cell(e.count)}${cell(Math.round(e.mean * 100) / 100)}
    ${text(SCORES.map((s) => e.dist[s]).join(" / "))}</tr>`);
  return table("lowest", ["col_community", "col_city", "col_ratings", "col_mean", "col_distribution"], lines);
}

/** Indicators that are shares (``*_share``) are shown as percentages; the others (hours, ratios) as numbers. */
const shareOf = (row) => (row.indicator.endsWith("_share") ? "share" : "plain");

function complianceTable(rows, all) {
  const kind = (r) => (r.met === null ? "unjudged" : r.met ? "met" : "unmet");
  const lines = (all ? rows : rows.slice(0, COMPLIANCE_SHOWN)).map((r) => `<tr class="${kind(r)}">
    ${text(label(r))}${text(r.period)}${text(r.standard)}${text(t(r.indicator))}${text(t(r.direction))}
    ${cell(r.threshold, shareOf(r))}${cell(r.value, shareOf(r))}${cell(r.met)}${cell(r.shortfall, "share")}${cell(r.standard_version)}</tr>`);
  return table("compliance", ["col_community", "col_period", "col_standard", "col_indicator", "col_direction", "col_threshold",
    "col_value", "col_met", "col_shortfall", "col_version"], lines);
}

function trainingTable(rows) {
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.year}|${row.community}`;
    (groups.get(key) || groups.set(key, []).get(key)).push(row);
  }
  const lines = [...groups.values()].sort((a, b) => b[0].year - a[0].year || (a[0].community < b[0].community ? -1 : 1))
    .map((own) => {
      const r = own[0];
      const judged = own.filter((s) => s.meets_standard !== null);
      return `<tr data-community="${esc(r.community)}" data-year="${r.year}">${text(label(r))}${text(r.year)}
        ${cell(own.length)}${cell(r.community_full_time_staff)}${cell(sum(own, (s) => s.hours))}
        ${text(judged.length ? `${judged.filter((s) => s.meets_standard).length} / ${judged.length}` : "—")}
        ${cell(r.community_qualified_share, "share")}${cell(r.community_left_within_a_year)}</tr>`;
    });
  return table("training", ["col_community", "col_year", "col_staff", "col_ft_staff", "col_hours", "col_meets",
    "col_qualified_share", "col_left"], lines);
}

function fundingTable(rows) {
  const lines = [...rows].sort((a, b) => b.year - a.year || (a.community < b.community ? -1 : 1))
    .map((r) => `<tr data-community="${esc(r.community)}" data-year="${r.year}">${text(label(r))}${text(r.year)}
      ${cell(r.total, "money")}${cell(r.per_managed_retiree, "money")}${cell(r.per_full_time_staff, "money")}
      ${text(Object.entries(r.by_source).map(([k, v]) => `${t(`source_${k}`)} ${fmt(v, "money")}`).join(", "))}
      ${text(Object.entries(r.facilities).filter(([, n]) => n).map(([k, n]) => `${t(`facility_${k}`)} ${n}`).join(", "))}
      </tr>`);
  return table("funding", ["col_community", "col_year", "col_total", "col_per_retiree", "col_per_staff", "col_by_source",
    "col_facilities"], lines);
}

function panel(id, titleKey, body, note = "") {
  return `<section class="panel" id="panel-${id}"><h2>${esc(t(titleKey))}${note}</h2><div class="scroll">${body}</div></section>`;
}

export function show(root, data, filters, { allCompliance = false } = {}) {
  const unmet = data.compliance.rows.filter((r) => r.met === false).length;
  const count = ` <small>(<span id="compliance-unmet" data-value="${unmet}">${unmet}</span> ${esc(t("unmet"))} / `
    + `<span id="compliance-rows" data-value="${data.compliance.rows.length}">${data.compliance.rows.length}</span> `
    + `${esc(t("rows"))})</small>`;
  const more = !allCompliance && data.compliance.rows.length > COMPLIANCE_SHOWN
    ? `<button id="compliance-all" type="button">${esc(t("show_all"))}</button>` : "";
  root.innerHTML = `${kpis(data, filters.service_type)}
    <div class="charts">${CHARTS.map((id) => `<div class="chart" id="chart-${id}"></div>`).join("")}</div>
    ${panel("communities", "communities_table", communitiesTable(data.workload.rows),
      ` <small>(${esc(t("communities_note"))})</small>`)}
    ${panel("lowest", "lowest", lowestTable(data.satisfaction.rows))}
    ${panel("compliance", "compliance", complianceTable(data.compliance.rows, allCompliance) + more, count)}
    ${panel("training", "training_table", trainingTable(data.training.rows))}
    ${panel("funding", "funding_table", fundingTable(data.funding.rows))}`;
  drawCharts(data, filters.service_type);
}

function drawCharts(data, serviceType) {
  const work = data.workload.rows;
  const months = axisOf(work, "month");
  const stacked = (series, type = "bar") => series.map((s) => ({ ...s, type, stack: "total" }));
  const lines = (series) => series.map((s) => ({ ...s, type: "line", connectNulls: false, showSymbol: false }));
  draw("chart-managed", option(t("chart_managed"), months,
    stacked(perCommunity(work, "month", months, (r) => r.retirees_managed, label))));
  draw("chart-transfers", option(t("chart_transfers"), months, [
    { id: "transfers_in", name: t("transfers_in"), type: "bar", data: summed(work, "month", months, (r) => r.transfers_in) },
    { id: "transfers_out", name: t("transfers_out"), type: "bar", data: summed(work, "month", months, (r) => r.transfers_out) },
  ]));
  const types = work.length ? Object.keys(work[0].services) : [];
  const shownTypes = types.includes(serviceType) ? [serviceType] : types;
  draw("chart-services", option(t("chart_services"), months, [
    ...shownTypes.map((type) => ({ id: type, name: t(type), type: "bar", stack: "services",
      data: summed(work, "month", months, (r) => r.services[type]) })),
    { id: "service_minutes", name: t("minutes"), type: "line", yAxisIndex: 1, showSymbol: false,
      data: summed(work, "month", months, (r) => r.service_minutes) },
  ], { yAxes: 2 }));
  draw("chart-ratio", option(t("chart_ratio"), months,
    lines(perCommunity(work, "month", months, (r) => r.retirees_per_full_time_staff, label))));
  draw("chart-turnover", option(t("chart_turnover"), months,
    lines(perCommunity(work, "month", months, (r) => r.turnover, label)), { percent: true }));
  draw("chart-training-hours", option(t("chart_training_hours"), months,
    stacked(perCommunity(work, "month", months, (r) => r.training_hours, label))));
  const standards = data.standards.rows;
  const standardYears = axisOf(standards, "year");
  draw("chart-certified", option(t("chart_certified"), standardYears,
    lines(perCommunity(standards, "year", standardYears, (r) => r.certified_share, label)), { percent: true }));
  drawSatisfaction(data.satisfaction.rows);
  const pensions = data.pensions.rows;
  const pensionMonths = axisOf(pensions, "month");
  draw("chart-pensions", option(t("chart_pensions"), pensionMonths,
    stacked(perCommunity(pensions, "month", pensionMonths, (r) => r.total_monthly_pension, label))));
  draw("chart-adjustments", option(t("chart_adjustments"), pensionMonths, [
    { id: "adjustments", name: t("adjustments"), type: "bar", data: summed(pensions, "month", pensionMonths, (r) => r.adjustments) },
    { id: "adjustments_sum", name: t("adjustments_sum"), type: "line", yAxisIndex: 1, showSymbol: false,
      data: summedMoney(pensions, "month", pensionMonths, (r) => r.adjustments_sum) },
  ], { yAxes: 2 }));
  const funding = data.funding.rows;
  const fundingYears = axisOf(funding, "year");
  draw("chart-funding", option(t("chart_funding"), fundingYears,
    stacked(perCommunity(funding, "year", fundingYears, (r) => r.total, label))));
  const training = data.training.rows;
  const trainingYears = axisOf(training, "year");
  const hours = new Map();
  for (const r of training) hours.set(`${r.community}|${r.year}`, (hours.get(`${r.community}|${r.year}`) || 0) + r.hours);
  draw("chart-training", option(t("chart_training"), trainingYears,
    stacked(perCommunity(training, "year", trainingYears, (r) => hours.get(`${r.community}|${r.year}`), label))));
}

function drawSatisfaction(rows) {
  const months = axisOf(rows, "month");
  const count = summed(rows, "month", months, (r) => r.count);
  const points = summed(rows, "month", months, (r) => SCORES.reduce((n, s) => n + Number(s) * r.distribution[s], 0));
  draw("chart-sat-mean", option(t("chart_sat_mean"), months, [
    { id: "mean", name: t("mean"), type: "line", showSymbol: false,
      data: months.map((_, n) => (count[n] ? points[n] / count[n] : null)) },
    { id: "count", name: t("count"), type: "bar", yAxisIndex: 1, data: count },
  ], { yAxes: 2 }));
  draw("chart-sat-dist", option(t("chart_sat_dist"), SCORES, [
    { id: "distribution", name: t("count"), type: "bar", data: SCORES.map((s) => sum(rows, (r) => r.distribution[s])) },
  ]));
}
