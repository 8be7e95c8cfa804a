// Apache ECharts options built from API rows. A series either carries a returned field as it is (one
// series per community, stacked where the figures add up) or the plain sum of a field over the rows
// of each month or year; nothing else is derived here.

/* global echarts */

/** The sorted distinct values of ``key`` in ``rows`` (months "YYYY-MM" or years). */
export function axisOf(rows, key) {
  return [...new Set(rows.map((row) => row[key]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

const number = (value) => (value === null || value === undefined ? null : Number(value));

/** One series per community: ``field`` of the community's row at each point of ``axis`` (null if none). */
export function perCommunity(rows, key, axis, field, label) {
  const communities = new Map();
  for (const row of rows) {
    if (!communities.has(row.community)) communities.set(row.community, { label: label(row), at: new Map() });
    communities.get(row.community).at.set(row[key], number(field(row)));
  }
  return [...communities.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, c]) => ({
    id: code, name: c.label, data: axis.map((point) => (c.at.has(point) ? c.at.get(point) : null)),
  }));
}

/** At each point of ``axis``, the sum of ``field`` over the rows there. */
export function summed(rows, key, axis, field) {
  const sums = new Map(axis.map((point) => [point, 0]));
  for (const row of rows) sums.set(row[key], sums.get(row[key]) + Number(field(row)));
  return axis.map((point) => sums.get(point));
}

/** Money strings ("1234.56") added in cents, answered as a number of yuan with two places. */
export function summedMoney(rows, key, axis, field) {
  const cents = summed(rows, key, axis, (row) => Math.round(Number(field(row)) * 100));
  return cents.map((c) => c / 100);
}

export function option(title, axis, series, { yAxes = 1, percent = false } = {}) {
  return {
    animation: false,
    title: { text: title, left: 8, top: 6, textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis", confine: true },
    legend: { type: "scroll", bottom: 0 },
    grid: { left: 56, right: yAxes > 1 ? 56 : 20, top: 44, bottom: 56 },
    xAxis: { type: "category", data: axis },
    yAxis: Array.from({ length: yAxes }, (_, n) => ({
      type: "value", axisLabel: percent && n === 0 ? { formatter: (v) => `${Math.round(v * 100)}%` } : {},
    })),
    series,
  };
}

/** Draws ``opt`` in the element with id ``id`` (one ECharts instance per element). */
export function draw(id, opt) {
  const el = document.getElementById(id);
  const chart = echarts.getInstanceByDom(el) || echarts.init(el);
  chart.setOption(opt, true);
}

export function disposeAll(root) {
  for (const el of root.querySelectorAll(".chart")) echarts.getInstanceByDom(el)?.dispose();
}

export function resizeAll() {
  for (const el of document.querySelectorAll(".chart")) echarts.getInstanceByDom(el)?.resize();
}
