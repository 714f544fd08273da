// A collection's page (/collections/:id): its name, creator, description,
// and its items as this node shows them: the models as cards, the images
// as tiles. A creator's collections, as links, for the creator's page.
// Adding to a collection is collect.js's.

import { api, isAbort, query } from '../api.js';
import { collectionPath } from '../collect.js';
import { errorBox, h, loadingBlock, text, userPath } from '../dom.js';
import { Feed } from '../feed.js';
import { imageKey, imageTile } from '../images.js';
import { modelFeed } from '../cards.js';
import { richText } from '../markdown.js';
import { app, startPage } from '../router.js';

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
    modelsTitle.hidden = imagesTitle.hidden = true;
    if (err.status === 404) {
      document.title = 'Collection not found · Seedbank';
      head.replaceChildren(h('div', { class: 'message' }, h('strong', null, 'No such collection here. '),
        'Its author may have deleted it, this node may not show it, or it has not reached this node yet.'));
      return;
    }
    head.replaceChildren(errorBox(err.message, () => renderCollection(id)));
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
    c.description ? richText(text(c.description)) : null,
    notesOf(items));
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

// What the author noted about items, each under the item's name.
function notesOf(items) {
  const noted = items.filter((i) => i && typeof i.note === 'string' && i.note.trim());
  if (!noted.length) return null;
  return h('ul', { class: 'collection-notes' }, noted.map((i) => h('li', null,
    h('a', { href: query(`/models/${encodeURIComponent(text(i.modelId))}`, { modelVersionId: text(i.modelVersionId) }) },
      text(i.modelName), text(i.versionName) && h('span', { class: 'muted' }, ` · ${text(i.versionName)}`)),
    i.type === 'image' ? h('span', { class: 'muted' }, ' (an image)') : null,
    ': ', text(i.note))));
}

// Every collection this node shows, newest first (by their latest version).
export function renderCollections() {
  const page = startPage('Collections');
  const root = h('section', { class: 'feed-root', 'aria-label': 'Collections' });
  app.append(h('div', { id: 'collections-page', class: 'page' },
    h('div', { class: 'page-intro' }, h('h1', null, 'Collections'),
      h('p', { class: 'muted' }, 'Lists of models and images people signed, newest first.')),
    root));
  const feed = new Feed({
    root,
    firstPath: query('/api/v1/collections', { limit: 50 }),
    gridClass: 'collection-grid',
    keyOf: (c) => c.id,
    emptyText: 'No collections yet. Start one with "Add to a collection" on a model page or in the image viewer, or from your favourites.',
    renderItem: collectionCard,
  });
  page.onClose(() => feed.destroy());
}

function collectionCard(c) {
  const user = c.user && typeof c.user === 'object' ? c.user : {};
  const sb = c.seedbank && typeof c.seedbank === 'object' ? c.seedbank : {};
  const count = Number(c.itemCount) || 0;
  const kind = c.type === 'Model' ? 'models' : c.type === 'Image' ? 'images' : 'items';
  return h('article', { class: 'collection-card', dataset: { collectionId: text(c.id) } },
    h('h3', { class: 'collection-card-name' }, h('a', { href: collectionPath(c.id) }, text(c.name) || 'Untitled')),
    h('p', { class: 'muted' }, `${count} ${count === 1 ? kind.replace(/s$/, '') : kind} · by `,
      h('a', { class: 'creator-link', href: userPath(text(sb.author) || text(user.username)) }, text(user.username))));
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
      h('span', { class: 'muted' }, ` · ${Number(c.itemCount) || 0} item${Number(c.itemCount) === 1 ? '' : 's'} listed`)))));
}
