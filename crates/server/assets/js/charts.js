// uPlot charts: time series (CPU, memory, tokens) and the usage report's bars.

import { uplot, h } from './util.js';

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function axisColors() {
  const fg = cssVar('--muted', '#555');
  const grid = cssVar('--grid', '#e5e5e5');
  return { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
}

/** Keeps a chart as wide as its box. */
function follow(el, u, height) {
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, Math.floor(el.clientWidth));
    if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height });
  });
  ro.observe(el);
  return ro;
}

/**
 * A time chart in `el`: series = [{label, color, fmt, scale?}], x in unix seconds.
 * Returns {set(xs, ...ys), destroy()}.
 */
export async function timeChart(el, { title, series, height = 170 }) {
  const uPlot = await uplot();
  const ax = axisColors();
  const scales = { x: { time: true } };
  const axes = [{ ...ax }];
  series.forEach((s, i) => {
    const scale = s.scale || 'y';
    if (!scales[scale]) {
      scales[scale] = { auto: true, range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] };
      axes.push({
        ...ax, scale, side: i === 0 ? 3 : 1, size: 64,
        values: (u, vals) => vals.map((v) => s.fmt(v)),
        grid: i === 0 ? ax.grid : { show: false },
      });
    }
  });
  const opts = {
    title,
    width: Math.max(200, Math.floor(el.clientWidth || 400)),
    height,
    scales,
    axes,
    series: [
      { label: 'Time', value: (u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false })) },
      ...series.map((s) => ({
        label: s.label, scale: s.scale || 'y', stroke: s.color, width: 2, fill: `${s.color}22`,
        value: (u, v) => (v == null ? '–' : s.fmt(v)), points: { show: false },
      })),
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  const u = new uPlot(opts, [[], ...series.map(() => [])], el);
  const ro = follow(el, u, height);
  return {
    set(xs, ...ys) { u.setData([xs, ...ys]); },
    destroy() { ro.disconnect(); u.destroy(); },
  };
}

/**
 * Bars of `keys` (categories) in `el`: bars = {label, color, values, fmt}, line = {label,
 * color, values, fmt} on a second axis. Returns {destroy()}.
 */
export async function barChart(el, { title, keys, bars, line, height = 240 }) {
  const uPlot = await uplot();
  const ax = axisColors();
  const xs = keys.map((_, i) => i);
  const short = (k) => (k.length > 14 ? `${k.slice(0, 13)}…` : k);
  const opts = {
    title,
    width: Math.max(200, Math.floor(el.clientWidth || 500)),
    height,
    scales: {
      x: { time: false, range: () => [-0.6, Math.max(keys.length - 0.4, 0.4)] },
      y: { range: (u, min, max) => [0, Math.max(max * 1.1, 10)] },
      usd: { range: (u, min, max) => [0, Math.max(max * 1.1, 0.01)] },
    },
    axes: [
      { ...ax, splits: () => xs, values: (u, vals) => vals.map((v) => short(keys[v] ?? '')), grid: { show: false } },
      { ...ax, scale: 'y', size: 64, values: (u, vals) => vals.map(bars.fmt) },
      { ...ax, scale: 'usd', side: 1, size: 64, values: (u, vals) => vals.map(line.fmt), grid: { show: false } },
    ],
    series: [
      { label: 'Group', value: (u, v) => (v == null ? '–' : keys[v] ?? '') },
      {
        label: bars.label, scale: 'y', stroke: bars.color, fill: `${bars.color}aa`, width: 1,
        paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false },
        value: (u, v) => (v == null ? '–' : bars.fmt(v)),
      },
      {
        label: line.label, scale: 'usd', stroke: line.color, width: 2, paths: () => null,
        points: { show: true, size: 8, fill: line.color },
        value: (u, v) => (v == null ? '–' : line.fmt(v)),
      },
    ],
    legend: { live: true },
  };
  const u = new uPlot(opts, [xs, bars.values, line.values], el);
  const ro = follow(el, u, height);
  return { destroy() { ro.disconnect(); u.destroy(); } };
}

/** A box for a chart with a heading and a text fallback for screen readers. */
export function chartBox(id, label) {
  return h('figure', { class: 'chart', id },
    h('figcaption', { class: 'sr-only' }, label),
    h('div', { class: 'chart-canvas', role: 'img', 'aria-label': label }));
}
