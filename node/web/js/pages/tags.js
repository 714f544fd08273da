// The tag index (/tags: the most used tags, or those starting with what
// the filter box holds) and a tag's page (/tag/:name: its models).

import { api, query } from '../api.js';
import { modelFeed } from '../cards.js';
import { formatCount, h, tagPath, text } from '../dom.js';
import { Feed } from '../feed.js';
import { app, startPage } from '../router.js';

const TOP_TAGS = 100;

// A tag as a link to its page, with how many models have it when the
// API says ({name, modelCount} of /api/v1/tags).
export function tagLink(tag) {
  const name = text(tag && tag.name);
  const count = Number(tag && tag.modelCount);
  const known = tag && tag.modelCount != null && Number.isFinite(count);
  return h('a', { class: 'tag tag-link', href: tagPath(name), dataset: { tag: name } },
    name,
    known && h('span', { class: 'tag-count', title: `${count} model${count === 1 ? '' : 's'}` }, formatCount(count)));
}

export function renderTags() {
  const page = startPage('Tags');
  const filter = h('input', {
    id: 'tag-filter', name: 'query', type: 'search', placeholder: 'tags starting with…', maxlength: '64',
    value: new URLSearchParams(location.search).get('query') || '',
  });
  const note = h('p', { class: 'muted' });
  const listRoot = h('section', { class: 'feed-root', 'aria-label': 'Tags' });
  app.append(h('div', { id: 'tags-page', class: 'page' },
    h('div', { class: 'page-intro' }, h('h1', null, 'Tags'), note),
    h('form', { class: 'filter-bar', role: 'search', 'aria-label': 'Filter tags', onsubmit: (e) => e.preventDefault() },
      h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Filter'), filter)),
    listRoot));

  // The most used tags (one page), or every tag with the prefix by name,
  // page after page.
  let feed = null;
  const show = () => {
    if (feed) {
      feed.destroy();
      feed.element.remove();
    }
    const prefix = filter.value.trim();
    note.textContent = prefix
      ? `Tags starting with “${prefix}”, by name, with how many models have each.`
      : `The ${TOP_TAGS} most used tags on this node, with how many models have each.`;
    feed = new Feed({
      root: listRoot,
      firstPath: prefix
        ? query('/api/v1/tags', { query: prefix, limit: TOP_TAGS })
        : query('/api/v1/tags', { sort: 'Most Models', limit: TOP_TAGS }),
      renderItem: tagLink,
      keyOf: (tag) => text(tag.name),
      emptyText: prefix ? `No tag starts with “${prefix}”.` : 'No tags yet: no model on this node has one.',
      gridClass: 'tag-cloud',
      endText: null,
    });
  };
  page.onClose(() => feed && feed.destroy());

  // The filter lives in the address, so a reload shows the same list.
  let timer = 0;
  const apply = () => {
    clearTimeout(timer);
    const path = query('/tags', { query: filter.value.trim() });
    if (path === location.pathname + location.search) return;
    history.replaceState(null, '', path);
    show();
  };
  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(apply, 250);
  });
  filter.addEventListener('change', apply);
  page.onClose(() => clearTimeout(timer));
  show();
}

export function renderTag(name) {
  const page = startPage(name);
  const count = h('p', { class: 'muted', id: 'tag-model-count' });
  const feedRoot = h('section', { class: 'feed-root', 'aria-label': `Models tagged ${name}` });
  app.append(h('div', { id: 'tag-page', class: 'page', dataset: { tag: name } },
    h('div', { class: 'page-intro tag-intro' },
      h('span', { class: 'filter-label' }, 'Tag'),
      h('h1', { class: 'tag-name' }, name),
      count,
      h('a', { class: 'all-tags', href: '/tags' }, '← All tags')),
    feedRoot));
  const feed = modelFeed(feedRoot, { tag: name }, { emptyText: `This node knows no models tagged ${name}.` });
  page.onClose(() => feed.destroy());

  // How many models have it: the tag itself comes first among those it
  // is a prefix of (tags by name). Without the count the page is whole.
  api(query('/api/v1/tags', { query: name, limit: 1 }), page.signal).then((data) => {
    const tag = Array.isArray(data.items) ? data.items[0] : null;
    const n = tag && String(tag.name).toLowerCase() === name.toLowerCase() ? Number(tag.modelCount) : NaN;
    if (Number.isFinite(n)) count.textContent = `${formatCount(n)} model${n === 1 ? '' : 's'}`;
  }).catch(() => {});
}
