// Charts drawn as SVG in the page, for /trends: stacked weekly bars, a
// line, and ranked horizontal bars. Names come from peers: they reach the
// SVG only as text nodes (textContent), like everything else in dom.js.

import { formatCount, h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
// Distinct on the dark background; the last one is "other".
export const PALETTE = ['#3ccf8e', '#8fb8ff', '#f5b83d', '#ff7a7a', '#c58fff', '#5fd4e8', '#e88fc7', '#b4c95f', '#6b7385'];

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value != null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// A round upper bound for an axis and its tick step.
function axis(max) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

// Weekly stacked bars: `labels` (one per week) and `series`
// [{name, counts}], drawn bottom-up in order with PALETTE's colours. A
// legend below names each series with `legendNote(series)` after it.
export function stackedBars(labels, series, { title, legendNote } = {}) {
  const width = 720, height = 260, left = 48, right = 16, top = 14, bottom = 42;
  const plotW = width - left - right, plotH = height - top - bottom;
  const sums = labels.map((_, i) => series.reduce((s, one) => s + (Number(one.counts[i]) || 0), 0));
  const { top: max, step } = axis(Math.max(0, ...sums));
  const slot = plotW / Math.max(1, labels.length);
  const barW = Math.max(4, Math.min(48, slot * 0.7));
  const y = (v) => top + plotH - (v / max) * plotH;
  const grid = [];
  for (let v = 0; v <= max + step / 2; v += step) {
    grid.push(svg('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'chart-grid' }),
      svg('text', { x: left - 6, y: y(v) + 4, class: 'chart-tick', 'text-anchor': 'end' }, formatCount(v)));
  }
  const bars = [];
  labels.forEach((label, i) => {
    const x = left + slot * i + (slot - barW) / 2;
    let base = 0;
    series.forEach((one, k) => {
      const v = Number(one.counts[i]) || 0;
      if (!v) return;
      bars.push(svg('rect', {
        x, width: barW, y: y(base + v), height: Math.max(1, y(base) - y(base + v)),
        fill: PALETTE[Math.min(k, PALETTE.length - 1)], class: 'chart-bar',
      }, svg('title', null, `${one.name || 'unknown'}, week of ${label}: ${v}`)));
      base += v;
    });
    // Every label when they fit, else every few.
    const every = Math.ceil(labels.length / 12);
    if (i % every === 0 || i === labels.length - 1) {
      bars.push(svg('text', { x: x + barW / 2, y: height - bottom + 16, class: 'chart-tick', 'text-anchor': 'middle' },
        label.slice(5)));
    }
  });
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': title || 'weekly counts',
  }, title && svg('title', null, title), grid, bars);
  const legend = h('ul', { class: 'chart-legend' }, series.map((one, k) => h('li', null,
    // A presentation attribute, not a style: the node's CSP allows no inline styles.
    svg('svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' },
      svg('rect', { width: 10, height: 10, rx: 2, fill: PALETTE[Math.min(k, PALETTE.length - 1)] })),
    one.name || 'unknown', legendNote && h('span', { class: 'muted' }, ` ${legendNote(one)}`))));
  return h('figure', { class: 'chart-figure' }, chart, legend);
}

// A line over weeks (`values`, null where there is none).
export function lineChart(labels, values, { title, unit = '' } = {}) {
  const width = 720, height = 200, left = 48, right = 28, top = 14, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const numbers = values.map((v) => (v == null ? null : Number(v)));
  const { top: max, step } = axis(Math.max(0, ...numbers.filter((v) => v != null)));
  const x = (i) => left + (labels.length > 1 ? (plotW * i) / (labels.length - 1) : plotW / 2);
  const y = (v) => top + plotH - (v / max) * plotH;
  const parts = [];
  for (let v = 0; v <= max + step / 2; v += step) {
    parts.push(svg('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), class: 'chart-grid' }),
      svg('text', { x: left - 6, y: y(v) + 4, class: 'chart-tick', 'text-anchor': 'end' }, formatCount(v)));
  }
  let path = '';
  numbers.forEach((v, i) => {
    if (v == null) return;
    path += `${path && numbers[i - 1] != null ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    parts.push(svg('circle', { cx: x(i), cy: y(v), r: 3.5, class: 'chart-point' },
      svg('title', null, `week of ${labels[i]}: ${v}${unit}`)));
  });
  if (path) parts.unshift(svg('path', { d: path.trim(), class: 'chart-line' }));
  const every = Math.ceil(labels.length / 12);
  labels.forEach((label, i) => {
    if (i % every === 0 || i === labels.length - 1) {
      parts.push(svg('text', { x: x(i), y: height - bottom + 18, class: 'chart-tick', 'text-anchor': 'middle' }, label.slice(5)));
    }
  });
  return h('figure', { class: 'chart-figure' },
    svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title || 'weekly values' },
      title && svg('title', null, title), parts));
}

// Ranked horizontal bars: items [{label, value, note}], longest first.
export function barList(items, { title } = {}) {
  const width = 720, row = 24, labelW = 230, numW = 120;
  const height = Math.max(row, items.length * row);
  const max = Math.max(1, ...items.map((it) => Number(it.value) || 0));
  const rows = items.map((it, i) => {
    const v = Number(it.value) || 0;
    const w = ((width - labelW - numW) * v) / max;
    const cy = i * row + row / 2;
    const label = String(it.label == null ? '' : it.label);
    return svg('g', { class: 'chart-row' },
      svg('text', { x: labelW - 8, y: cy + 4, 'text-anchor': 'end', class: 'chart-label' },
        label.length > 34 ? `${label.slice(0, 33)}…` : label),
      svg('rect', { x: labelW, y: i * row + 4, width: Math.max(1, w), height: row - 8, rx: 3,
        fill: PALETTE[Math.min(i % 2 ? 1 : 0, PALETTE.length - 1)], class: 'chart-bar' },
      svg('title', null, `${label}: ${v}`)),
      svg('text', { x: labelW + w + 6, y: cy + 4, class: 'chart-value' }, `${formatCount(v)}${it.note ? ` ${it.note}` : ''}`));
  });
  return h('figure', { class: 'chart-figure' },
    svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart chart-list', role: 'img', 'aria-label': title || 'ranking' },
      title && svg('title', null, title), rows));
}
