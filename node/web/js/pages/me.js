// The You page: this node's identity, and the favourites and follows it
// keeps for its user alone.

import { api, forgetMe, isAbort, me, postJson, query } from '../api.js';
import { copyButton, errorBox, formatCount, formatDate, formatSize, h, loadingBlock, section, text, userPath } from '../dom.js';
import { Feed } from '../feed.js';
import { imageKey, imageTile } from '../images.js';
import { NSFW_LEVELS, NSFW_MODES, nsfwSettings, resetNsfwSettings, setNsfwMode } from '../nsfw.js';
import { app, navigate, startPage } from '../router.js';
import { collectionPath } from '../collect.js';

export async function renderMe() {
  const page = startPage('You');
  const root = h('div', { id: 'me-page', class: 'page' }, loadingBlock());
  app.append(root);
  let mine;
  try {
    mine = await me();
  } catch (err) {
    if (page.signal.aborted) return;
    root.replaceChildren(errorBox(err.message, () => renderMe()));
    return;
  }
  if (page.signal.aborted) return;
  const favorites = (Array.isArray(mine.favorites) ? mine.favorites : []).filter((f) => f && typeof f === 'object');
  const follows = (Array.isArray(mine.follows) ? mine.follows : []).filter((k) => typeof k === 'string' && k);
  root.replaceChildren(...[
    h('div', { class: 'page-intro' }, h('h1', null, 'You'),
      h('p', { class: 'muted' }, 'This node\'s identity, and the favourites and follows it keeps for you alone.')),
    h('div', { class: 'me-grid' },
      identityPanel(mine),
      section('Favourites', ownList('favorite-list', 'No favourites yet: use ☆ Favourite on a model page.',
        favorites.map((f) => favoriteItem(f, page.signal))),
      mine.identity && favorites.length ? publishFavorites(page.signal) : null),
      section('Following', ownList('follow-list', 'You follow no one yet: use Follow on a creator\'s page.',
        follows.map((key) => followItem(key, page.signal)))),
      nsfwPanel(),
      exportPanel()),
    mine.identity && dashboard(page),
    followingFeed(follows.length, page)].filter(Boolean));
}

function modelHref(item) {
  return `/models/${item.modelId}?modelVersionId=${item.modelVersionId}`;
}

// What this node holds of a release, from its BitTorrent session.
function thisNode(here) {
  if (!here || typeof here !== 'object') return h('span', { class: 'muted' }, 'Not here');
  const files = Number(here.files) || 0;
  const stored = Number(here.stored) || 0;
  const label = here.allStored ? 'Seeding' : `${stored} of ${files} files`;
  const uploaded = Number(here.uploaded) > 0 ? ` · ${formatSize(Number(here.uploaded) / 1024)} sent` : '';
  return h('span', { class: here.allStored ? 'seeding-here' : 'muted', title: text(here.state) }, `${label}${uploaded}`);
}

// The creator dashboard: this key's releases with their seeders,
// reactions, ratings and comments, what this node seeds of them, and the
// comments that await a reply (GET /api/seedbank/dashboard).
function dashboard(page) {
  const body = h('div', { id: 'dashboard' }, loadingBlock('Loading your releases…'));
  const box = section('Your releases',
    h('div', { class: 'btn-row' }, h('a', { href: '/publish', class: 'btn btn-primary', id: 'publish-link' }, 'Publish a model')), body);
  box.classList.add('dashboard');
  api('/api/seedbank/dashboard', page.signal).then((data) => {
    const releases = (Array.isArray(data.releases) ? data.releases : []).filter((r) => r && typeof r === 'object' &&
      Number.isSafeInteger(r.modelId) && Number.isSafeInteger(r.modelVersionId));
    if (!releases.length) {
      body.replaceChildren(h('p', { class: 'muted' }, 'You have published nothing from this key yet: ',
        'Publish a model here, or with ', h('code', null, 'seedbank publish'), '.'));
      return;
    }
    const totals = data.totals && typeof data.totals === 'object' ? data.totals : {};
    const rows = releases.map((r) => {
      const stats = r.stats && typeof r.stats === 'object' ? r.stats : {};
      const reactions = ['likeCount', 'heartCount', 'laughCount', 'cryCount', 'imageReactionCount']
        .reduce((sum, k) => sum + (Number(stats[k]) || 0), 0);
      const ratingCount = Number(stats.ratingCount) || 0;
      return h('tr', { dataset: { releaseId: text(r.releaseId) } },
        h('td', null, h('a', { href: modelHref(r) }, text(r.modelName)), h('div', { class: 'muted' }, text(r.versionName))),
        h('td', { class: 'num', dataset: { col: 'seeders' } }, formatCount(Number(r.seeders) || 0)),
        h('td', { dataset: { col: 'here' } }, thisNode(r.thisNode)),
        h('td', { class: 'num', dataset: { col: 'reactions' } }, formatCount(reactions)),
        h('td', { class: 'num', dataset: { col: 'rating' } },
          ratingCount ? `${(Number(stats.rating) || 0).toFixed(1)} (${ratingCount})` : '–'),
        h('td', { class: 'num', dataset: { col: 'comments' } }, formatCount(Number(stats.commentCount) || 0)),
        h('td', { class: 'num', dataset: { col: 'awaiting' } }, formatCount(Number(r.awaitingReply) || 0)));
    });
    const awaiting = (Array.isArray(data.awaitingReply) ? data.awaitingReply : []).filter((c) => c && typeof c === 'object' &&
      Number.isSafeInteger(c.modelId) && Number.isSafeInteger(c.modelVersionId));
    const count = Number(totals.releases) || releases.length;
    body.replaceChildren(...[
      h('p', { class: 'muted' },
        `${formatCount(count)} ${count === 1 ? 'release' : 'releases'}, ${formatCount(Number(totals.seededHere) || 0)} ` +
        `seeded by this node, ${formatCount(Number(totals.reactions) || 0)} reactions, ` +
        `${formatCount(Number(totals.awaitingReply) || 0)} comments awaiting your reply.`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'files dashboard-table' },
        h('thead', null, h('tr', null, ['Release', 'Seeders', 'This node', 'Reactions', 'Rating', 'Comments', 'Awaiting reply']
          .map((label) => h('th', null, label)))),
        h('tbody', null, rows))),
      h('h3', null, 'Comments awaiting your reply'),
      awaiting.length
        ? h('ul', { class: 'own-list', id: 'awaiting-reply' }, awaiting.map((c) => h('li', { class: 'awaiting', dataset: { commentId: text(c.id) } },
          h('div', null, h('a', { href: userPath(text(c.creator) || text(c.username)) }, text(c.username) || 'Someone'),
            ' on ', h('a', { href: modelHref(c) }, `${text(c.modelName)} ${text(c.versionName)}`),
            c.image ? ' (a sample image)' : '', h('span', { class: 'muted' }, ` · ${formatDate(c.createdAt)}`)),
          h('p', { class: 'awaiting-text' }, text(c.text)))))
        : h('p', { class: 'muted' }, 'None: you have answered everyone.'),
      data.complete === false && h('p', { class: 'muted' }, 'Only your newest releases and comments are counted here.'),
    ].filter(Boolean));
  }, (err) => {
    if (isAbort(err)) return;
    body.replaceChildren(errorBox(err.message));
  });
  return box;
}

function identityPanel(mine) {
  if (!mine.identity) {
    return section('Your identity', h('p', null, 'This node has no signing key, so it cannot rate, share images, publish ' +
      'a profile or retract releases. Run ', h('code', null, 'seedbank keygen'), ' on the node\'s data dir, then reload this page.'));
  }
  const key = text(mine.identity);
  const named = mine.username && mine.username !== key;
  return section('Your identity',
    h('div', { class: 'copy-row', id: 'identity-key' },
      h('span', { class: 'muted' }, 'Key'), h('code', { title: key }, key), copyButton(key)),
    h('p', null, h('a', { id: 'profile-link', href: userPath(key) }, named ? `Your profile: ${text(mine.username)}` : 'Your profile'),
      !named && h('span', { class: 'muted' }, ' (none published yet; edit it there)')));
}

// A list whose items remove themselves; the empty text shows when the last goes.
function ownList(id, emptyText, items) {
  const list = h('ul', { id, class: 'own-list' }, items);
  const empty = h('p', { class: 'muted' }, emptyText);
  const update = () => {
    empty.hidden = list.children.length > 0;
  };
  new MutationObserver(update).observe(list, { childList: true });
  update();
  return [list, empty];
}

function removeButton(label, remove) {
  const button = h('button', { type: 'button', class: 'btn btn-small btn-ghost remove-btn', 'aria-label': label }, 'Remove');
  button.addEventListener('click', async () => {
    const item = button.closest('li');
    button.disabled = true;
    try {
      await remove();
      forgetMe();
      item.remove();
    } catch (err) {
      button.disabled = false;
      const note = item.querySelector('.own-note') || item.appendChild(h('span', { class: 'own-note', role: 'status' }));
      note.textContent = `Not removed: ${err.message}`;
    }
  });
  return button;
}

// A favourite that this node no longer lists (retracted, or hidden by its
// policy) is left out.
function favoriteItem(favorite, signal) {
  const id = text(favorite.modelVersionId);
  const remove = () => postJson('/api/seedbank/favorites', { modelVersionId: favorite.modelVersionId, favorite: false });
  const item = h('li', { class: 'own-item', dataset: { versionId: id } }, h('span', { class: 'muted' }, `Version ${id}…`));
  api(`/api/v1/model-versions/${encodeURIComponent(id)}`, signal).then((version) => {
    const modelName = version.model && version.model.name ? text(version.model.name) : '';
    const href = query(`/models/${encodeURIComponent(text(version.modelId))}`, { modelVersionId: text(version.id) });
    item.replaceChildren(
      h('a', { class: 'own-link', href }, modelName || 'Untitled model',
        text(version.name) && h('span', { class: 'muted' }, ` · ${text(version.name)}`)),
      removeButton(`Remove ${modelName || 'this version'} from favourites`, remove));
  }, (err) => {
    if (isAbort(err)) return;
    if (err.status === 404) {
      item.remove();
      return;
    }
    item.replaceChildren(h('span', null, `Version ${id} `, h('span', { class: 'muted' }, `(${err.message})`)),
      removeButton(`Remove version ${id} from favourites`, remove));
  });
  return item;
}

// Favourites are this node's own; a collection of them, signed with its
// key, shows on every node (on the creator's page). Publishing again adds
// new favourites to it.
function publishFavorites(signal) {
  const name = h('input', { id: 'collection-name', name: 'name', type: 'text', required: true, maxlength: 100,
    value: 'Favourites' });
  const note = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Publish as a collection');
  const form = h('form', { class: 'stack-form', id: 'publish-favorites' },
    h('label', { for: 'collection-name' }, 'Collection name'), name, h('div', null, submit), note);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      note.textContent = 'Not published: give the collection a name.';
      return;
    }
    submit.disabled = true;
    note.textContent = 'Signing…';
    try {
      // One collection of favourites (slug "favourites"): publishing again
      // adds the new ones and takes the name given.
      const made = await postJson('/api/seedbank/collections',
        { slug: 'favourites', name: name.value.trim(), fromFavorites: true });
      if (signal.aborted) return;
      navigate(collectionPath(made.collectionId));
    } catch (err) {
      // Published before and nothing new: the collection stays as it is.
      note.textContent = `Not published: ${err.message}`;
      submit.disabled = false;
    }
  });
  return h('details', { class: 'profile-edit' }, h('summary', null, 'Publish these as a collection'),
    h('p', { class: 'muted' }, 'A collection is signed with this node\'s key and shows on every node, on your page.'),
    form);
}

function followItem(key, signal) {
  const link = h('a', { class: 'own-link', href: userPath(key) }, h('code', null, key));
  const item = h('li', { class: 'own-item', dataset: { creator: key } }, link,
    removeButton('Stop following this creator', () => postJson('/api/seedbank/follows', { creator: key, follow: false })));
  // The creator's name, once known; the key alone still works.
  api(query('/api/v1/creators', { query: key, limit: 1 }), signal).then((data) => {
    const creator = (Array.isArray(data.items) ? data.items : []).find((c) => c && c.seedbank && c.seedbank.key === key);
    const name = creator ? text(creator.username) : '';
    if (name && name !== key) link.replaceChildren(name, ' ', h('code', { class: 'muted' }, key));
  }, () => {});
  return item;
}

// The same JSON as `seedbank favorite list --json` and `follow list
// --json`, so `seedbank favorite import` and `follow import` take it.
function exportPanel() {
  const note = h('p', { class: 'muted', role: 'status' });
  const button = h('button', { type: 'button', id: 'export-button', class: 'btn' }, 'Download as JSON');
  button.addEventListener('click', async () => {
    let mine;
    try {
      mine = await me();
    } catch (err) {
      note.textContent = `Not exported: ${err.message}`;
      return;
    }
    const lists = {
      favorites: (Array.isArray(mine.favorites) ? mine.favorites : []).map((f) => f && f.releaseId).filter(Boolean),
      follows: Array.isArray(mine.follows) ? mine.follows : [],
    };
    const url = URL.createObjectURL(new Blob([`${JSON.stringify(lists, null, 2)}\n`], { type: 'application/json' }));
    const link = h('a', { href: url, download: 'seedbank-favorites-follows.json', hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    note.textContent = `Exported ${lists.favorites.length} favourite${lists.favorites.length === 1 ? '' : 's'} and ` +
      `${lists.follows.length} followed creator${lists.follows.length === 1 ? '' : 's'}.`;
  });
  return section('Export',
    h('p', { class: 'muted' }, 'Take your favourites and follows to another node: ',
      h('code', null, 'seedbank favorite import FILE'), ' and ', h('code', null, 'seedbank follow import FILE'), '.'),
    button, note);
}

// What this browser shows of each NSFW level, everywhere an image appears.
function nsfwPanel() {
  const note = h('p', { class: 'muted', role: 'status' });
  const controls = new Map();
  const show = (settings) => {
    for (const [level, control] of controls) control.value = settings[level];
  };
  const rows = NSFW_LEVELS.map(([level, name]) => {
    const control = h('select', { id: `nsfw-${level}`, name: `nsfw-${level}` },
      NSFW_MODES.map(([mode, label]) => h('option', { value: mode }, label)));
    control.addEventListener('change', () => {
      setNsfwMode(level, control.value);
      note.textContent = `${name}: ${control.options[control.selectedIndex].text.toLowerCase()}, from now on.`;
    });
    controls.set(level, control);
    return h('div', { class: 'nsfw-row' }, h('label', { for: `nsfw-${level}` }, name), control);
  });
  show(nsfwSettings());
  const reset = h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: 'nsfw-reset' }, 'Defaults');
  reset.addEventListener('click', () => {
    show(resetNsfwSettings());
    note.textContent = 'Back to the defaults: PG and PG-13 shown, R blurred, X and XXX hidden.';
  });
  const box = section('Mature content',
    h('p', { class: 'muted' }, 'What this browser shows of each level, on every page. Creators and posters set an image\'s level.'),
    h('div', { class: 'nsfw-settings', id: 'nsfw-settings' }, rows), reset, note);
  return box;
}

// New releases' sample images and posts from the creators this node's user
// follows, newest first.
function followingFeed(following, page) {
  const root = h('div', { id: 'following-feed' });
  const box = section('From creators you follow',
    h('p', { class: 'muted' }, 'Their new releases and the images they post, newest first.'), root);
  if (!following) {
    root.append(h('p', { class: 'muted' }, 'Follow creators to see their new work here.'));
    return box;
  }
  const feed = new Feed({
    root,
    firstPath: query('/api/v1/images', { followed: 'true', limit: 30 }),
    gridClass: 'image-grid',
    keyOf: imageKey,
    emptyText: 'Nothing from them yet.',
    renderItem: (image, index, all) => imageTile(image, index, all),
  });
  page.onClose(() => feed.destroy());
  return box;
}
