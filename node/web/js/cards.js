// A model as a card in a grid, a paged grid of them, and the helpers pages
// share to name its creator.

import { query } from './api.js';
import { badge, formatCount, h, stars, text, userPath } from './dom.js';
import { Feed, PAGE_SIZE } from './feed.js';
import { netImage } from './images.js';
import { navigate } from './router.js';

function firstImageOf(model) {
  for (const version of Array.isArray(model.modelVersions) ? model.modelVersions : []) {
    const images = Array.isArray(version && version.images) ? version.images : [];
    if (images.length) return images[0];
  }
  return null;
}

export function creatorName(model) {
  return model.creator && model.creator.username ? text(model.creator.username) : '';
}

export function creatorKey(model) {
  const sb = model && model.seedbank && typeof model.seedbank === 'object' ? model.seedbank : {};
  if (typeof sb.creator === 'string' && sb.creator) return sb.creator;
  const first = Array.isArray(model && model.modelVersions) ? model.modelVersions[0] : null;
  return first && first.seedbank && typeof first.seedbank.creator === 'string' ? first.seedbank.creator : '';
}

export function modelCard(model) {
  const href = `/models/${encodeURIComponent(text(model.id))}`;
  const version = (Array.isArray(model.modelVersions) && model.modelVersions[0]) || {};
  const image = firstImageOf(model);
  const stats = model.stats || {};
  const username = creatorName(model);
  const media = h('a', { class: 'card-media', href, tabindex: '-1', 'aria-hidden': 'true' },
    netImage(image, { alt: text(model.name) }),
    h('span', { class: 'card-badges' }, badge(text(model.type), 'badge-type'), model.nsfw && badge('NSFW', 'badge-nsfw')));
  const card = h('article', {
    class: 'model-card',
    dataset: { modelId: text(model.id), type: text(model.type) },
  },
  media,
  h('div', { class: 'card-body' },
    h('h3', { class: 'model-name' }, h('a', { href }, text(model.name) || 'Untitled model')),
    h('div', { class: 'card-meta' },
      version.baseModel && h('span', { class: 'base-model' }, text(version.baseModel)),
      stars(stats.rating, stats.ratingCount),
      seedingCount(stats.downloadCount)),
    username && h('div', { class: 'card-creator' },
      h('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' }, username.slice(0, 1).toUpperCase()),
      h('a', { class: 'creator-link', href: userPath(creatorKey(model) || username) }, username))));
  // The whole card opens the model, except its own links and buttons.
  card.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.target.closest('a, button')) return;
    navigate(href);
  });
  return card;
}

// The models /api/v1/models lists for `params` (filters: query, tag,
// username, …), as cards that load page after page. `options`: Feed's
// emptyText and onItems.
export function modelFeed(root, params, options) {
  return new Feed({
    root,
    firstPath: query('/api/v1/models', { limit: PAGE_SIZE, ...params }),
    renderItem: modelCard,
    keyOf: (model) => model.id,
    ...options,
  });
}

// The API's downloadCount: nodes known to seed the release completely
// (this one and its gossip peers). No node sees downloads, so the gallery
// does not call it that.
export function seedingCount(value, long = true) {
  const n = Number(value) || 0;
  return h('span', { class: 'seeding', title: 'Nodes known to seed it completely: this node and its peers' },
    long ? `${formatCount(n)} seeding` : formatCount(n));
}
