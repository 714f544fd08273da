// A collection's page (/collections/:id): its name, creator, description,
// and its items as this node shows them: the models as cards, the images
// as tiles. A creator's collections, as links, for the creator's page.

import { api, isAbort, query } from '../api.js';
import { errorBox, h, loadingBlock, text, userPath } from '../dom.js';
import { Feed } from '../feed.js';
import { imageKey, imageTile } from '../images.js';
import { modelFeed } from '../cards.js';
import { richText } from '../markdown.js';
import { app, startPage } from '../router.js';

export function collectionPath(id) {
  return `/collections/${encodeURIComponent(text(id))}`;
}

export async function renderCollection(id) {
  const page = startPage('Collection');
  const head = h('section', { class: 'collection-head' }, loadingBlock('Loading collection…'));
  const models = h('section', { class: 'feed-root', 'aria-label': 'Models in this collection' });
  const images = h('section', { class: 'feed-root', 'aria-label': 'Images in this collection' });
  const modelsTitle = h('h2', { class: 'section-title' }, 'Models');
  const imagesTitle = h('h2', { class: 'section-title' }, 'Images');
  app.append(h('div', { id: 'collection-page', class: 'page', dataset: { collectionId: text(id) } },
    head, modelsTitle, models, imagesTitle, images));
  let c;
  try {
    c = await api(`/api/v1/collections/${encodeURIComponent(id)}`, page.signal);
  } catch (err) {
    if (isAbort(err)) return;
    head.replaceChildren(errorBox(err.message, () => renderCollection(id)));
    modelsTitle.hidden = imagesTitle.hidden = true;
    return;
  }
  document.title = `${text(c.name)} · Seedbank`;
  const user = c.user && typeof c.user === 'object' ? c.user : {};
  const sb = c.seedbank && typeof c.seedbank === 'object' ? c.seedbank : {};
  const items = Array.isArray(sb.items) ? sb.items : [];
  const count = (type) => items.filter((i) => i && i.type === type).length;
  head.replaceChildren(
    h('h1', { class: 'collection-name' }, text(c.name)),
    h('p', { class: 'muted' }, 'A collection by ',
      h('a', { class: 'creator-link', href: userPath(text(sb.author) || text(user.username)) }, text(user.username)),
      ` · ${items.length} item${items.length === 1 ? '' : 's'}`),
    c.description ? richText(text(c.description)) : null);
  modelsTitle.hidden = count('model') === 0;
  imagesTitle.hidden = count('image') === 0;
  const feeds = [];
  if (count('model')) {
    feeds.push(modelFeed(models, { collectionId: id }, { emptyText: 'This node shows none of its models.' }));
  }
  if (count('image')) {
    feeds.push(new Feed({
      root: images,
      firstPath: query('/api/v1/images', { collectionId: id, limit: 50 }),
      gridClass: 'image-grid',
      keyOf: imageKey,
      emptyText: 'This node shows none of its images.',
      renderItem: imageTile,
    }));
  }
  if (!items.length) head.append(h('p', { class: 'muted' }, 'Nothing in it that this node shows.'));
  page.onClose(() => feeds.forEach((f) => f.destroy()));
}

// A creator's collections as a list of links (empty: nothing shown).
export async function collectionList(root, username, signal) {
  let data;
  try {
    data = await api(query('/api/v1/collections', { username, limit: 100 }), signal);
  } catch (err) {
    if (!isAbort(err)) root.replaceChildren(h('p', { class: 'muted' }, `Collections could not be loaded: ${err.message}`));
    return;
  }
  const list = (Array.isArray(data.items) ? data.items : []).filter((c) => c && typeof c === 'object');
  if (!list.length) return;
  root.replaceChildren(h('h2', { class: 'section-title' }, 'Collections'),
    h('ul', { id: 'collection-list', class: 'own-list' }, list.map((c) => h('li', null,
      h('a', { href: collectionPath(c.id) }, text(c.name)),
      h('span', { class: 'muted' }, ` · ${Number(c.itemCount) || 0} item${Number(c.itemCount) === 1 ? '' : 's'}`)))));
}
