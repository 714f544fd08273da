// The home page: the model grid with its filters, and the header's search
// box, which filters it. A search also names the creators and tags that
// start with it.

import { api, names, query } from '../api.js';
import { modelFeed } from '../cards.js';
import { h, text, userPath } from '../dom.js';
import { app, navigate, startPage } from '../router.js';
import { tagLink } from './tags.js';

const searchForm = document.getElementById('search-form');
const searchInput = document.getElementById('search');

// The API's sort names, and what the gallery calls them. "Most Downloaded"
// orders by seeding nodes: no node can count downloads.
const SORTS = [['Newest', 'Newest'], ['Highest Rated', 'Highest rated'], ['Most Downloaded', 'Most seeded']];
const RELEVANCE = ['Relevance', 'Relevance'];

// Without a sort the node ranks a search by relevance and lists the rest
// newest first.
function defaultSort(filters) {
  return filters.query ? 'Relevance' : 'Newest';
}

// The sort the address names: none when it is the default (or Relevance
// with nothing to rank), so a search is never pinned to Newest.
function chosenSort(filters) {
  const sort = filters.sort;
  return !sort || sort === defaultSort(filters) || (sort === 'Relevance' && !filters.query) ? '' : sort;
}

function readFilters() {
  const params = new URLSearchParams(location.search);
  return {
    query: params.get('query') || '',
    types: params.get('types') || '',
    baseModels: params.get('baseModels') || '',
    tag: params.get('tag') || '',
    sort: params.get('sort') || '',
  };
}

function filtersPath(filters) {
  return query('/', {
    query: filters.query,
    types: filters.types,
    baseModels: filters.baseModels,
    tag: filters.tag,
    sort: chosenSort(filters),
  });
}

// `values`: names, or [value, label] pairs.
function fillOptions(control, values, current, allLabel) {
  const options = allLabel ? [h('option', { value: '' }, allLabel)] : [];
  const list = values.map((v) => (Array.isArray(v) ? v : [v, v]));
  if (current && !list.some(([v]) => v === current)) list.push([current, current]); // keep a value from the URL visible
  for (const [value, name] of list) options.push(h('option', { value }, name));
  control.replaceChildren(...options);
  control.value = current || (allLabel ? '' : list[0][0]);
}

function select(id, label, values, current, allLabel) {
  const control = h('select', { id, name: id });
  fillOptions(control, values, current, allLabel);
  return h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, label), control);
}

// Relevance is a sort only for a search.
function showSorts(control, filters) {
  fillOptions(control, filters.query ? [RELEVANCE, ...SORTS] : SORTS, chosenSort(filters) || defaultSort(filters));
}

// The creators (at most 6) and tags whose names start with the search, as
// links; nothing when there are none or the node cannot say.
async function searchMatches(searched, signal) {
  const [creators, tags] = await Promise.all([
    api(query('/api/v1/creators', { query: searched, limit: 6 }), signal).catch(() => null),
    api(query('/api/v1/tags', { query: searched, limit: 12 }), signal).catch(() => null),
  ]);
  const items = (data) => (data && Array.isArray(data.items) ? data.items.filter((i) => i && typeof i === 'object') : []);
  const creatorLinks = items(creators).filter((c) => text(c.username)).slice(0, 6).map((c) => {
    const name = text(c.username);
    const key = c.seedbank && typeof c.seedbank.key === 'string' ? c.seedbank.key : '';
    return h('a', { class: 'creator-chip', href: userPath(key || name), title: key || null },
      h('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' }, name.slice(0, 1).toUpperCase()), name);
  });
  const tagLinks = items(tags).filter((t) => text(t.name)).map(tagLink);
  const group = (id, label, links) => links.length > 0 &&
    h('div', { id, class: 'match-group' }, h('span', { class: 'filter-label' }, label), links);
  return [group('search-creators', 'Creators', creatorLinks), group('search-tags', 'Tags', tagLinks)].filter(Boolean);
}

export async function renderHome() {
  const page = startPage(null);
  const filters = readFilters();
  searchInput.value = filters.query;
  // Every type and base model the node knows, from the node; without them
  // the filters still offer "all" and whatever the address asks for.
  const known = await names().catch(() => ({ types: [], baseModels: [] }));
  if (page.signal.aborted) return;

  const typeField = select('filter-type', 'Type', known.types, filters.types, 'All types');
  const baseField = select('filter-base', 'Base model', known.baseModels, filters.baseModels, 'All base models');
  const sortField = select('filter-sort', 'Sort', SORTS, 'Newest'); // startFeed offers the sorts for the search
  const tagInput = h('input', { id: 'filter-tag', name: 'tag', type: 'text', placeholder: 'any tag', maxlength: '200', value: filters.tag });
  const tagField = h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Tag'), tagInput);
  const clear = h('button', { type: 'button', class: 'btn btn-ghost filter-clear' }, 'Clear filters');
  const bar = h('form', { class: 'filter-bar', role: 'search', 'aria-label': 'Filter models', onsubmit: (e) => e.preventDefault() },
    typeField, baseField, tagField, sortField, clear);
  const title = h('h1', { id: 'models-heading' });
  const subtitle = h('p', { class: 'muted' });
  const matches = h('div', { id: 'search-matches', class: 'search-matches', hidden: true });
  const feedRoot = h('section', { class: 'feed-root', 'aria-labelledby': 'models-heading' });
  app.append(h('div', { id: 'home-page', class: 'page' }, h('div', { class: 'page-intro' }, title, subtitle), bar, matches, feedRoot));

  const typeSelect = typeField.querySelector('select');
  const baseSelect = baseField.querySelector('select');
  const sortSelect = sortField.querySelector('select');

  // Base models seen in the results join the select's options.
  const addBaseModels = (models) => {
    const known = new Set([...baseSelect.options].map((o) => o.value));
    for (const model of models) {
      for (const version of Array.isArray(model.modelVersions) ? model.modelVersions : []) {
        const base = version && typeof version.baseModel === 'string' ? version.baseModel : '';
        if (base && !known.has(base)) {
          known.add(base);
          baseSelect.append(h('option', { value: base }, base));
        }
      }
    }
  };

  // The creators and tags that start with the search, asked again only
  // when the search changes.
  let matched = null;
  let matchesController = null;
  const showMatches = async (searched) => {
    if (searched === matched) return;
    matched = searched;
    if (matchesController) matchesController.abort();
    matches.replaceChildren();
    matches.hidden = true;
    if (!searched) return;
    const controller = new AbortController();
    matchesController = controller;
    const groups = await searchMatches(searched, controller.signal);
    if (controller.signal.aborted) return;
    matches.replaceChildren(...groups);
    matches.hidden = groups.length === 0;
  };
  page.onClose(() => matchesController && matchesController.abort());

  let feed = null;
  const startFeed = () => {
    if (feed) {
      feed.destroy();
      feed.element.remove();
    }
    const f = readFilters();
    const sort = chosenSort(f);
    showSorts(sortSelect, f);
    // The search as text nodes: it is whatever the address holds.
    if (f.query) title.replaceChildren('Results for “', f.query, '”');
    else title.replaceChildren('Models');
    subtitle.textContent = f.query
      ? 'Names, versions, tags, trigger words, descriptions and creators that match.'
      : 'Shared on the Seedbank network and served by this node.';
    document.title = f.query ? `Results for “${f.query}” · Seedbank` : 'Seedbank';
    clear.hidden = !(f.query || f.types || f.baseModels || f.tag || sort);
    feed = modelFeed(feedRoot, { ...f, sort }, {
      emptyText: clear.hidden
        ? 'No models yet. Publish one with `seedbank publish`, or wait for peers to gossip theirs.'
        : 'No models match these filters.',
      onItems: addBaseModels,
    });
    showMatches(f.query);
  };
  page.onClose(() => feed && feed.destroy());

  // Filters live in the URL so a reload or a shared link shows the same list.
  // `sort`: the one just chosen; otherwise the address's stays, so a new
  // search keeps a chosen sort but not the default of no search.
  const apply = ({ replace, sort = readFilters().sort }) => {
    const next = {
      query: searchInput.value.trim(),
      types: typeSelect.value,
      baseModels: baseSelect.value,
      tag: tagInput.value.trim(),
      sort,
    };
    const path = filtersPath(next);
    if (path === location.pathname + location.search) return;
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    startFeed();
  };

  for (const control of [typeSelect, baseSelect]) control.addEventListener('change', () => apply({ replace: false }));
  sortSelect.addEventListener('change', () => apply({ replace: false, sort: sortSelect.value }));
  let tagTimer = 0;
  tagInput.addEventListener('input', () => {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(() => apply({ replace: true }), 400);
  });
  tagInput.addEventListener('change', () => {
    clearTimeout(tagTimer);
    apply({ replace: true });
  });
  page.onClose(() => clearTimeout(tagTimer));
  clear.addEventListener('click', () => {
    searchInput.value = '';
    tagInput.value = '';
    typeSelect.value = '';
    baseSelect.value = '';
    apply({ replace: false, sort: '' });
  });
  homeSearch = apply;
  page.onClose(() => { homeSearch = null; });
  startFeed();
}

// The header's search box: live on the home page, a jump to it elsewhere.
let homeSearch = null;
let searchTimer = 0;

export function wireSearch() {
  searchInput.addEventListener('input', () => {
    if (!homeSearch) return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => homeSearch && homeSearch({ replace: true }), 350);
  });
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    if (homeSearch) homeSearch({ replace: false });
    else navigate(query('/', { query: searchInput.value.trim() }));
  });
}
