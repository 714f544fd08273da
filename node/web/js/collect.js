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
  // An option a collection: its name, and its slug when two share a name.
  const addOption = (slug, label) => {
    if ([...choose.options].some((o) => o.value === slug)) return;
    const same = [...choose.options].find((o) => o.value && o.dataset.name === label);
    if (same) same.textContent = `${label} (${same.value})`;
    choose.append(h('option', { value: slug, dataset: { name: label } }, same ? `${label} (${slug})` : label));
  };
  api(query('/api/v1/collections', { username: identity, limit: 100 }), signal).then((data) => {
    for (const c of Array.isArray(data.items) ? data.items : []) {
      const slug = c && c.seedbank && typeof c.seedbank.slug === 'string' ? c.seedbank.slug : '';
      if (slug) addOption(slug, text(c.name));
    }
  }, () => {}); // without the list, a new collection still works
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // What was chosen when the button was pressed, whatever changes meanwhile.
    const slug = choose.value;
    const label = slug ? choose.selectedOptions[0].dataset.name || choose.selectedOptions[0].textContent : name.value.trim();
    const body = { add: [item] };
    if (slug) {
      body.slug = slug;
    } else if (label) {
      body.name = label;
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
      note.replaceChildren('Added to ', h('a', { href: collectionPath(made.collectionId) }, label), '.');
      if (!slug) {
        addOption(text(made.slug), label);
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
