// /trends: what is rising, from this node's own counters
// (GET /api/seedbank/trends): releases and image posts per week by type
// and base model, rising models, tags, and how prompts change. The weekly
// counts are also in the CSV the page links to.

import { api, isAbort, query } from '../api.js';
import { barList, lineChart, stackedBars } from '../charts.js';
import { errorBox, formatCount, h, loadingBlock, section, tagPath, text } from '../dom.js';
import { app, navigate, startPage } from '../router.js';

const WEEK_CHOICES = [4, 12, 26, 52];
const STACKED = 8;  // series drawn apart; the rest are summed as "other"

function list(value) {
  return Array.isArray(value) ? value.filter((v) => v && typeof v === 'object') : [];
}

function counts(value, weeks) {
  const out = Array.isArray(value) ? value.map((v) => Number(v) || 0) : [];
  while (out.length < weeks) out.push(0);
  return out.slice(0, weeks);
}

// The change over the last 4 complete weeks against the 4 before ({recent,
// before, growth} of a series); '' when neither had any.
function growthText(s) {
  const growth = s && s.growth;
  if (growth == null || !Number.isFinite(Number(growth))) return Number(s && s.recent) > 0 ? 'new over 4 weeks' : '';
  const pct = Math.round(Number(growth) * 100);
  return `${pct >= 0 ? '+' : ''}${pct}% over 4 weeks`;
}

// The first STACKED series, then "other": what the week's total (every
// name, `totals`) holds beyond them.
function stackable(series, weeks, totals) {
  const shown = series.slice(0, STACKED).map((s) => ({ ...s, name: text(s.name), counts: counts(s.counts, weeks) }));
  const all = counts(totals, weeks);
  const other = all.map((total, i) => Math.max(0, total - shown.reduce((sum, s) => sum + s.counts[i], 0)));
  const otherTotal = other.reduce((a, b) => a + b, 0);
  if (otherTotal > 0) shown.push({ name: 'other', counts: other, total: otherTotal, other: true });
  return shown;
}

function shareNote(s) {
  if (s.other) return `· ${formatCount(s.total)}`;
  const growth = growthText(s);
  return `· ${formatCount(Number(s.total) || 0)} · ${Math.round((Number(s.share) || 0) * 100)}%${growth ? ` · ${growth}` : ''}`;
}

function weeklyChart(id, title, labels, series, totals, emptyText) {
  const weeks = labels.length;
  const body = series.length
    ? stackedBars(labels, stackable(series, weeks, totals), { title, legendNote: shareNote })
    : h('p', { class: 'muted' }, emptyText);
  const box = section(title, body);
  box.id = id;
  return box;
}

function risingTable(models, emptyText) {
  if (!models.length) return h('p', { class: 'muted' }, emptyText);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'files trends-table' },
    h('thead', null, h('tr', null, ['Model', 'Type', 'Base model', 'Reactions', 'Ratings', 'Seeders now']
      .map((label) => h('th', null, label)))),
    h('tbody', null, models.filter((m) => Number.isSafeInteger(m.modelId) && Number.isSafeInteger(m.modelVersionId)).map((m) =>
      h('tr', { dataset: { modelId: String(m.modelId) } },
        h('td', null, h('a', { href: `/models/${m.modelId}?modelVersionId=${m.modelVersionId}` }, text(m.name))),
        h('td', null, text(m.type)),
        h('td', null, text(m.baseModel)),
        h('td', { class: 'num' }, `${formatCount(Number(m.reactions) || 0)} (before ${formatCount(Number(m.reactionsBefore) || 0)})`),
        h('td', { class: 'num' }, `${formatCount(Number(m.ratings) || 0)} (before ${formatCount(Number(m.ratingsBefore) || 0)})`),
        h('td', { class: 'num' }, formatCount(Number(m.seeders) || 0)))))));
}

export function renderTrends() {
  const page = startPage('Trends');
  const params = new URLSearchParams(location.search);
  const weeks = WEEK_CHOICES.includes(Number(params.get('weeks'))) ? Number(params.get('weeks')) : 12;
  const baseModel = params.get('baseModel') || '';
  const wanted = { weeks, baseModel: baseModel || undefined };
  const csv = query('/api/seedbank/trends', { ...wanted, format: 'csv' });
  const go = (changes) => {
    const next = { weeks, baseModel, ...changes };
    const search = new URLSearchParams();
    if (next.weeks !== 12) search.set('weeks', String(next.weeks));
    if (next.baseModel) search.set('baseModel', next.baseModel);
    const qs = search.toString();
    navigate(`/trends${qs ? `?${qs}` : ''}`, { replace: true });
  };
  const weekSelect = h('select', { id: 'trend-weeks', name: 'weeks', onchange: (e) => go({ weeks: Number(e.target.value) }) },
    WEEK_CHOICES.map((n) => h('option', { value: String(n), selected: n === weeks }, `${n} weeks`)));
  const baseSelect = h('select', { id: 'trend-base', name: 'baseModel', onchange: (e) => go({ baseModel: e.target.value }) },
    h('option', { value: '' }, 'All base models'));
  const note = h('p', { class: 'muted', id: 'trends-scope' });
  const body = h('div', { id: 'trends-body' }, loadingBlock('Counting…'));
  app.append(h('div', { id: 'trends-page', class: 'page' },
    h('div', { class: 'page-intro' }, h('h1', null, 'Trends'), note),
    h('form', { class: 'filter-bar', 'aria-label': 'Trend period', onsubmit: (e) => e.preventDefault() },
      h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Period'), weekSelect),
      h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Prompts of'), baseSelect),
      h('a', { class: 'btn filter-clear', id: 'trends-csv', href: csv, download: 'seedbank-trends.csv' }, 'Numbers as CSV')),
    body));

  api(query('/api/seedbank/trends', wanted), page.signal).then((data) => {
    const labels = Array.isArray(data.weeks) ? data.weeks.map(text) : [];
    const scope = data.scope && typeof data.scope === 'object' ? data.scope : {};
    note.textContent = `Counted by this node as records arrive. Releases: ${text(scope.releases)}. ` +
      `Image posts, reactions and ratings: ${text(scope.community)}. Weeks start on Monday (UTC); growth compares ` +
      'the last 4 complete weeks with the 4 before.' + (data.complete === false ? ' Too many distinct names: some seen only in older weeks were left out.' : '');
    const prompts = data.prompts && typeof data.prompts === 'object' ? data.prompts : {};
    const bases = Array.isArray(prompts.baseModels) ? prompts.baseModels.map(text) : [];
    if (baseModel && !bases.includes(baseModel)) bases.unshift(baseModel);
    for (const b of bases) baseSelect.append(h('option', { value: b, selected: b === baseModel }, b));
    const releases = data.releases && typeof data.releases === 'object' ? data.releases : {};
    const posts = data.posts && typeof data.posts === 'object' ? data.posts : {};
    const rising = data.risingModels && typeof data.risingModels === 'object' ? data.risingModels : {};
    const tags = list(data.tags);
    const terms = list(prompts.terms);
    const risingTerms = list(prompts.rising);
    const samplers = list(prompts.samplers);
    const steps = list(prompts.steps).slice().sort((a, b) => (Number(a.steps) || 999) - (Number(b.steps) || 999));
    const promptsOf = baseModel ? `prompts of ${baseModel}` : 'prompts';
    body.replaceChildren(
      weeklyChart('trend-release-types', 'Releases per week by type', labels, list(releases.byType), releases.total,
        'No release in this period.'),
      weeklyChart('trend-release-bases', 'Releases per week by base model', labels, list(releases.byBaseModel), releases.total,
        'No release in this period.'),
      weeklyChart('trend-post-bases', 'Image posts per week by base model', labels, list(posts.byBaseModel), posts.total,
        'No image post in this period on this node.'),
      Object.assign(section('Rising models',
        h('h3', null, 'Last 7 days, against the 7 before'),
        risingTable(list(rising.days7), 'No model gained reactions or ratings this week.'),
        h('h3', null, 'Last 30 days, against the 30 before'),
        risingTable(list(rising.days30), 'No model gained reactions or ratings this month.')), { id: 'trend-rising' }),
      Object.assign(section('Most used tags',
        tags.length
          ? barList(tags.map((t) => ({ label: text(t.name), value: t.total, note: growthText(t) ? `· ${growthText(t)}` : '' })), { title: 'Tags of releases' })
          : h('p', { class: 'muted' }, 'No tags in this period.'),
        tags.length > 0 && h('p', { class: 'tag-row' }, tags.slice(0, 10).map((t) => h('a', { class: 'tag tag-link', href: tagPath(text(t.name)) }, text(t.name))))),
      { id: 'trend-tags' }),
      Object.assign(section(`Most frequent terms in ${promptsOf}`,
        terms.length
          ? barList(terms.map((t) => ({ label: text(t.term), value: t.total })), { title: 'Prompt terms' })
          : h('p', { class: 'muted' }, 'No prompts in this period.')), { id: 'trend-terms' }),
      Object.assign(section('Terms rising fastest',
        risingTerms.length
          ? barList(risingTerms.map((t) => ({ label: text(t.term), value: t.recent, note: `(before ${formatCount(Number(t.before) || 0)})` })),
            { title: 'Rising prompt terms' })
          : h('p', { class: 'muted' }, 'No term was used 3 times or more in the last 4 complete weeks and more than in the 4 before.'),
        h('p', { class: 'muted' }, 'Uses in the last 4 complete weeks, against the 4 weeks before.')), { id: 'trend-rising-terms' }),
      Object.assign(section('Average prompt length (words)',
        lineChart(labels, Array.isArray(prompts.averageWords) ? prompts.averageWords : [], { title: 'Average words per prompt', unit: ' words' })),
      { id: 'trend-prompt-length' }),
      Object.assign(section('Samplers',
        samplers.length
          ? barList(samplers.map((s) => ({ label: text(s.name), value: s.total })), { title: 'Samplers' })
          : h('p', { class: 'muted' }, 'No sampler recorded in this period.')), { id: 'trend-samplers' }),
      Object.assign(section('Step counts',
        steps.length
          ? barList(steps.map((s) => ({ label: `${text(s.steps)} steps`, value: s.total })), { title: 'Step counts' })
          : h('p', { class: 'muted' }, 'No step count recorded in this period.')), { id: 'trend-steps' }));
  }, (err) => {
    if (isAbort(err)) return;
    body.replaceChildren(errorBox(err.message));
  });
}
