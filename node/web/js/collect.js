// Collections a user signs: where a collection's page is, and "Add to a
// collection" for a version (model page) or an image (lightbox).

import { api, postJson, query } from './api.js';
import { h, text } from './dom.js';

export function collectionPath(id) {
  return `/collections/${encodeURIComponent(text(id))}`;
}

// "Add to a collection" for one item (a version: {modelVersionId}; an
// image: with image or post), signed with this node's key: one of the
// user's collections, or a new one by name.
export function addToCollection(item, identity, signal, id = 'add-to-collection') {
  const choose = h('select', { id: `${id}-choice`, name: 'collection' },
    h('option', { value: '' }, 'New collection…'));
  const name = h('input', { id: `${id}-name`, name: 'name', type: 'text', maxlength: 100, placeholder: 'Name',
    'aria-label': 'Name of the new collection' });
  const note = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Add');
  const form = h('form', { class: 'stack-form', id },
    h('label', { for: `${id}-choice` }, 'Collection'), choose, name, h('div', null, submit), note);
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
      body.create = true; // a new one, even when another has a name like it
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
        const slug = text(made.slug);
        if (![...choose.options].some((o) => o.value === slug)) choose.append(h('option', { value: slug }, label));
        choose.value = slug;
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
