// The usage report: tokens and cost by day, agent or task (`GET /usage/report?by=`), a
// chart, and the same table as CSV (the server's own, a plain download link) or JSON.

import { api } from './api.js';
import { barChart, chartBox } from './charts.js';
import { h, fmtInt, fmtTokens, fmtCost, download } from './util.js';

const GROUPS = { day: 'Day', agent: 'Agent', task: 'Task' };
const FIELDS = [
  ['sessions', 'Sessions', fmtInt],
  ['tokens_input', 'Input', fmtInt],
  ['tokens_output', 'Output', fmtInt],
  ['tokens_cache_read', 'Cache read', fmtInt],
  ['tokens_cache_write', 'Cache write', fmtInt],
  ['total_tokens', 'Total tokens', fmtInt],
];

export function mount(root, { setTitle }) {
  setTitle('Usage');
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let by = GROUPS[params.get('by')] ? params.get('by') : 'day';
  let report = null;
  let chart = null;
  let destroyed = false;

  const select = h('select', { id: 'usage-by' },
    Object.entries(GROUPS).map(([v, l]) => h('option', { value: v, selected: v === by }, l)));
  const csv = h('a', { class: 'button', id: 'download-csv', download: '' }, 'Download CSV');
  const json = h('button', { type: 'button', id: 'download-json' }, 'Download JSON');
  const status = h('p', { class: 'loading', role: 'status' });
  const box = chartBox('usage-chart', 'Tokens and cost by group');
  const table = h('table', { class: 'grid usage', id: 'usage-table' });
  root.append(
    h('div', { class: 'page-head' }, h('h1', { id: 'page-title' }, 'Usage')),
    h('div', { class: 'toolbar' },
      h('label', { for: 'usage-by' }, 'Sum by'), select, csv, json, status),
    box,
    h('div', { class: 'table-wrap' }, table),
    h('p', { class: 'note' }, 'A session’s figures are those its agent reported; unknown figures count as 0. * marks a cost that is partly estimated from the price table.'));

  function renderTable() {
    const rows = report.rows || [];
    const head = h('tr', null, h('th', { scope: 'col' }, GROUPS[by]),
      FIELDS.map(([, l]) => h('th', { scope: 'col', class: 'num' }, l)),
      h('th', { scope: 'col', class: 'num' }, 'Cost'));
    const line = (r, isTotal) => h('tr', { class: isTotal ? 'total' : '' },
      h('th', { scope: 'row' }, isTotal ? 'Total' : r.key),
      FIELDS.map(([k, , f]) => h('td', { class: 'num' }, f(r[k]))),
      h('td', { class: 'num' }, fmtCost(r.cost_usd, r.estimated)));
    table.replaceChildren(
      h('caption', { class: 'sr-only' }, `Tokens and cost by ${GROUPS[by].toLowerCase()}`),
      h('thead', null, head),
      h('tbody', null, rows.length ? rows.map((r) => line(r, false))
        : h('tr', null, h('td', { colspan: String(FIELDS.length + 2) }, 'No sessions yet.'))),
      report.totals ? h('tfoot', null, line(report.totals, true)) : '');
  }

  async function renderChart() {
    if (chart) { chart.destroy(); chart = null; }
    const canvas = box.querySelector('.chart-canvas');
    canvas.replaceChildren();
    const rows = report.rows || [];
    if (!rows.length) return;
    const css = getComputedStyle(document.documentElement);
    const c = (n, fb) => css.getPropertyValue(n).trim() || fb;
    const made = await barChart(canvas, {
      title: `Tokens and cost by ${GROUPS[by].toLowerCase()}`,
      keys: rows.map((r) => r.key),
      bars: { label: 'Tokens', color: c('--c1', '#2f6fde'), values: rows.map((r) => r.total_tokens || 0), fmt: fmtTokens },
      line: { label: 'Cost', color: c('--c4', '#d9822b'), values: rows.map((r) => r.cost_usd || 0), fmt: (v) => fmtCost(v) },
    });
    if (destroyed) made.destroy(); else chart = made;
  }

  async function load() {
    status.textContent = 'Loading…';
    csv.href = `/usage/report?by=${by}&format=csv`;
    csv.setAttribute('download', `usage-by-${by}.csv`);
    try {
      report = await api(`/usage/report?by=${by}`);
    } catch (e) {
      status.textContent = `The report could not be read: ${e.message}`;
      return;
    }
    if (destroyed) return;
    const t = report.totals || {};
    status.textContent = `${(report.rows || []).length} rows${t.sessions && !t.total_tokens && !t.cost_usd
      ? ': no session has reported tokens or cost yet' : ''}`;
    renderTable();
    renderChart().catch((e) => { status.textContent = `Chart unavailable: ${e.message}`; });
  }

  select.addEventListener('change', () => {
    by = select.value;
    history.replaceState(null, '', `#/usage?by=${by}`);
    load();
  });
  json.addEventListener('click', async () => {
    try {
      // Read again, so the file is the table as it is now (as the CSV link is).
      const fresh = await api(`/usage/report?by=${by}`);
      download(`usage-by-${by}.json`, `${JSON.stringify(fresh, null, 2)}\n`, 'application/json');
    } catch (e) {
      status.textContent = `The report could not be read: ${e.message}`;
    }
  });
  load();
  return { destroy() { destroyed = true; if (chart) chart.destroy(); } };
}
