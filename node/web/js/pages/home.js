// The home page: the model grid with its filters, and the header's search
// box, which filters it.

import { names, query } from '../api.js';
import { modelCard } from '../cards.js';
import { h } from '../dom.js';
import { Feed, PAGE_SIZE } from '../feed.js';
import { app, navigate, startPage } from '../router.js';

const searchForm = document.getElementById('search-form');
const searchInput = document.getElementById('search');

// The API's sort names, and what the gallery calls them. "Most Downloaded"
// orders by seeding nodes: no node can count downloads.
const SORTS = [['Newest', 'Newest'], ['Highest Rated', 'Highest rated'], ['Most Downloaded', 'Most seeded']];

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
    sort: filters.sort === 'Newest' ? '' : filters.sort,
  });
}

// `values`: names, or [value, label] pairs.
function select(id, label, values, current, allLabel) {
  const options = allLabel ? [h('option', { value: '' }, allLabel)] : [];
  const list = values.map((v) => (Array.isArray(v) ? v : [v, v]));
  if (current && !list.some(([v]) => v === current)) list.push([current, current]); // keep a value from the URL visible
  for (const [value, name] of list) options.push(h('option', { value }, name));
  const control = h('select', { id, name: id }, options);
  control.value = current || (allLabel ? '' : list[0][0]);
  return h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, label), control);
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
  const sortField = select('filter-sort', 'Sort', SORTS, filters.sort || 'Newest');
  const tagInput = h('input', { id: 'filter-tag', name: 'tag', type: 'text', placeholder: 'any tag', maxlength: '200', value: filters.tag });
  const tagField = h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Tag'), tagInput);
  const clear = h('button', { type: 'button', class: 'btn btn-ghost filter-clear' }, 'Clear filters');
  const bar = h('form', { class: 'filter-bar', role: 'search', 'aria-label': 'Filter models', onsubmit: (e) => e.preventDefault() },
    typeField, baseField, tagField, sortField, clear);
  const heading = h('div', { class: 'page-intro' },
    h('h1', null, 'Models'),
    h('p', { class: 'muted' }, 'Shared on the Seedbank network and served by this node.'));
  const feedRoot = h('section', { class: 'feed-root', 'aria-label': 'Models' });
  app.append(h('div', { id: 'home-page', class: 'page' }, heading, bar, feedRoot));

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

  let feed = null;
  const startFeed = () => {
    if (feed) {
      feed.destroy();
      feed.element.remove();
    }
    const f = readFilters();
    clear.hidden = !(f.query || f.types || f.baseModels || f.tag || (f.sort && f.sort !== 'Newest'));
    feed = new Feed({
      root: feedRoot,
      firstPath: query('/api/v1/models', { limit: PAGE_SIZE, ...f }),
      renderItem: modelCard,
      keyOf: (model) => model.id,
      emptyText: clear.hidden
        ? 'No models yet. Publish one with `seedbank publish`, or wait for peers to gossip theirs.'
        : 'No models match these filters.',
      onItems: addBaseModels,
    });
  };
  page.onClose(() => feed && feed.destroy());

  // Filters live in the URL so a reload or a shared link shows the same list.
  const apply = ({ replace }) => {
    const next = {
      query: searchInput.value.trim(),
      types: typeSelect.value,
      baseModels: baseSelect.value,
      tag: tagInput.value.trim(),
      sort: sortSelect.value,
    };
    const path = filtersPath(next);
    if (path === location.pathname + location.search) return;
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    startFeed();
  };

  for (const control of [typeSelect, baseSelect, sortSelect]) control.addEventListener('change', () => apply({ replace: false }));
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
    sortSelect.value = 'Newest';
    apply({ replace: false });
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
