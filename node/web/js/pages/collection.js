// A collection's page (/collections/:id): its name, creator, description,
// and its items as this node shows them: the models as cards, the images
// as tiles. A creator's collections, as links, for the creator's page.

import { api, isAbort, postJson, query } from '../api.js';
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
    modelsTitle.hidden = imagesTitle.hidden = true;
    if (err.status === 404) {
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

// "Add to a collection" for one item (a version: {modelVersionId}; an
// image: with image or post), signed with this node's key: one of the
// user's collections, or a new one by name.
export function addToCollection(item, identity, signal) {
  const choose = h('select', { id: 'collection-choice', name: 'collection' },
    h('option', { value: '' }, 'New collection…'));
  const name = h('input', { id: 'collection-new-name', name: 'name', type: 'text', maxlength: 100, placeholder: 'Name' });
  const note = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Add');
  const form = h('form', { class: 'stack-form', id: 'add-to-collection' },
    h('label', { for: 'collection-choice' }, 'Collection'), choose, name, h('div', null, submit), note);
  choose.addEventListener('change', () => { name.hidden = choose.value !== ''; });
  api(query('/api/v1/collections', { username: identity, limit: 100 }), signal).then((data) => {
    for (const c of Array.isArray(data.items) ? data.items : []) {
      const slug = c && c.seedbank && typeof c.seedbank.slug === 'string' ? c.seedbank.slug : '';
      if (slug) choose.append(h('option', { value: slug }, text(c.name)));
    }
  }, () => {}); // without the list, a new collection still works
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { add: [item] };
    if (choose.value) {
      body.slug = choose.value;
    } else if (name.value.trim()) {
      body.name = name.value.trim();
    } else {
      note.textContent = 'Not added: choose a collection or name a new one.';
      return;
    }
    submit.disabled = true;
    note.textContent = 'Signing…';
    try {
      const made = await postJson('/api/seedbank/collections', body);
      if (signal.aborted) return;
      const label = choose.value ? choose.selectedOptions[0].textContent : body.name;
      note.replaceChildren('Added to ', h('a', { href: collectionPath(made.collectionId) }, label), '.');
      if (!choose.value) {
        choose.append(h('option', { value: text(made.slug) }, label));
        choose.value = text(made.slug);
        name.hidden = true;
        name.value = '';
      }
    } catch (err) {
      note.textContent = `Not added: ${err.message}`;
    }
    submit.disabled = false;
  });
  return h('details', { class: 'add-collection' }, h('summary', null, 'Add to a collection'), form);
}
