// A model's page: its versions as tabs, each with images, community
// images, description, files, reviews, comments and the panels to
// download, resolve, react to or act on it; for its author, the form that
// edits what the page shows.

import { SHAREABLE_TYPES, SHAREABLE_VIDEO_TYPES, api, forgetMe, isAbort, isFavorite, maxUploadBytes, me, postJson, query, uploadImage } from '../api.js';
import { creatorKey, creatorName, seedingCount } from '../cards.js';
import { actionsUnavailable, add, badge, copyButton, errorBox, formatDate, formatSize, h, loadingBlock, noKeyNote, safeHttpUrl, section, stars, tagPath, text, toggleButton, userPath } from '../dom.js';
import { imageGrid, netImage } from '../images.js';
import { richText } from '../markdown.js';
import { addToCollection } from '../collect.js';
import { NSFW_LEVELS, imageLevel } from '../nsfw.js';
import { app, navigate, startPage } from '../router.js';
import { commentsPanel, reactionBar, releaseSubject } from '../social.js';

const HASH_ORDER = ['SHA256', 'AutoV1', 'AutoV2', 'AutoV3', 'CRC32', 'BLAKE3'];
const SHA256_HEX = /^[0-9a-f]{64}$/;

function sortedVersions(model) {
  const versions = (Array.isArray(model.modelVersions) ? model.modelVersions : []).filter((v) => v && typeof v === 'object');
  const time = (v) => {
    const t = Date.parse(v.createdAt);
    return Number.isNaN(t) ? -Infinity : t;
  };
  // Newest first; Array.prototype.sort is stable, so undated versions keep the API's order.
  return versions.slice().sort((a, b) => time(b) - time(a));
}

function primaryFile(version) {
  const files = Array.isArray(version.files) ? version.files : [];
  return files.find((f) => f && f.primary) || files[0] || null;
}

function orderedHashes(hashes) {
  if (!hashes || typeof hashes !== 'object') return [];
  const keys = Object.keys(hashes).filter((k) => hashes[k] != null && hashes[k] !== '');
  const rank = (k) => {
    const i = HASH_ORDER.indexOf(k);
    return i < 0 ? HASH_ORDER.length : i;
  };
  return keys.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((k) => [k, text(hashes[k])]);
}

export async function renderModel(id) {
  const page = startPage('Model');
  const root = h('div', { id: 'model-page', class: 'page', dataset: { modelId: id } }, loadingBlock('Loading model…'));
  app.append(root);
  let model;
  try {
    model = await api(`/api/v1/models/${encodeURIComponent(id)}`, page.signal);
  } catch (err) {
    if (isAbort(err)) return;
    if (err.status === 404) {
      // Unknown here: never published, retracted, hidden by this node's
      // policy, or not yet arrived from peers.
      document.title = 'Model not found · Seedbank';
      root.replaceChildren(h('div', { class: 'message not-found', id: 'not-found' },
        h('h1', null, 'Model not found'),
        h('p', null, `This node lists no model ${id}. It may have been retracted, be hidden by this node's policy, ` +
          'or not have reached this node yet.'),
        h('p', null, h('a', { href: '/' }, '← All models'))));
      return;
    }
    root.replaceChildren(errorBox(err.message, () => renderModel(id)), h('p', null, h('a', { href: '/' }, '← All models')));
    return;
  }
  document.title = `${text(model.name) || 'Model'} · Seedbank`;

  const versions = sortedVersions(model);
  const wanted = new URLSearchParams(location.search).get('modelVersionId');
  let current = versions.find((v) => String(v.id) === wanted) || versions[0] || null;
  const username = creatorName(model);
  const stats = model.stats || {};
  const tags = Array.isArray(model.tags) ? model.tags.filter((t) => typeof t === 'string' && t) : [];

  const header = h('header', { class: 'model-header' },
    h('h1', { class: 'model-name' }, text(model.name) || 'Untitled model'),
    h('div', { class: 'model-byline' },
      badge(text(model.type), 'badge-type'),
      model.nsfw && badge('NSFW', 'badge-nsfw'),
      username && h('span', { class: 'byline-creator' }, 'by ',
        h('a', { class: 'creator-link', href: userPath(creatorKey(model) || username) }, username)),
      h('span', { class: 'model-rating' }, stars(stats.rating, stats.ratingCount)),
      seedingCount(stats.downloadCount)),
    tags.length > 0 && h('div', { class: 'tags' },
      tags.map((tag) => h('a', { class: 'tag', href: tagPath(tag), dataset: { tag } }, tag))));

  const tabs = h('div', { class: 'version-tabs', role: 'tablist', 'aria-label': 'Versions' });
  const body = h('div', { class: 'model-body' });
  root.replaceChildren(header, tabs, body);

  let versionPage = null;
  const showVersion = (version) => {
    current = version;
    for (const tab of tabs.children) {
      const on = tab.dataset.versionId === String(version.id);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.classList.toggle('active', on);
    }
    if (versionPage) versionPage.abort();
    versionPage = new AbortController();
    body.replaceChildren(versionView(model, version, versionPage.signal, refreshRatings));
  };
  page.onClose(() => versionPage && versionPage.abort());

  // After a rating from this page: the model's and the version's figures
  // as the node now counts them, without a reload.
  const refreshRatings = async () => {
    let fresh;
    try {
      fresh = await api(`/api/v1/models/${encodeURIComponent(id)}`, page.signal);
    } catch {
      return; // the figures stay as they were; a reload shows them
    }
    const s = fresh.stats || {};
    for (const slot of header.querySelectorAll('.model-rating')) slot.replaceChildren(stars(s.rating, s.ratingCount));
    const v = (Array.isArray(fresh.modelVersions) ? fresh.modelVersions : []).find((x) => x && String(x.id) === String(current.id));
    const vs = (v && v.stats) || {};
    for (const slot of body.querySelectorAll('.version-rating')) slot.replaceChildren(stars(vs.rating, vs.ratingCount));
  };

  for (const version of versions) {
    tabs.append(h('button', {
      type: 'button',
      role: 'tab',
      class: 'version-tab',
      dataset: { versionId: text(version.id) },
      onclick: () => {
        if (current === version) return;
        // The version is part of the address, so a link shares it.
        const url = new URL(location.href);
        url.searchParams.set('modelVersionId', text(version.id));
        history.replaceState(null, '', url.pathname + url.search);
        showVersion(version);
      },
    }, text(version.name) || `Version ${text(version.id)}`));
  }
  tabs.hidden = versions.length === 0;
  if (current) showVersion(current);
  else add(body, [h('div', { class: 'message' }, 'This model has no versions on this node.'),
    text(model.description).trim() && section('About this model', richText(model.description))]);
}

function versionView(model, version, signal, rated) {
  // The author's form to edit the page opens here, above what it changes.
  const editor = h('div', { class: 'page-editor' });
  const main = h('div', { class: 'model-main' }, editor);
  const side = h('aside', { class: 'model-side' });

  // Sample images first, as on Civitai; community images follow. A sample
  // image names its release only through the version, and the viewer needs
  // both for the image's reactions and comments.
  const releaseId = version.seedbank && version.seedbank.releaseId;
  const images = (Array.isArray(version.images) ? version.images : []).filter((i) => i && typeof i === 'object')
    .map((image) => ({ seedbank: { releaseId, sha256: image.hash, post: null }, ...image }));
  const gallery = imageGrid(images, 'gallery');
  main.append(section('Images', images.length ? gallery : h('p', { class: 'muted' }, 'This version has no sample images.')));
  main.append(communitySection(version, signal));

  const notes = text(version.description).trim();
  const about = text(model.description).trim();
  // A release made before model descriptions gives its notes as the
  // model's too: once is enough.
  if (about && about !== notes) main.append(section('About this model', richText(model.description)));
  if (notes) main.append(section('About this version', richText(version.description)));
  main.append(filesSection(version));
  const reviews = h('div');
  main.append(reviews);
  loadReviews(version, reviews, signal, rated);
  main.append(section('Comments', commentsPanel(releaseSubject(version), { id: 'version-comments', signal })));

  const mirror = mirrorPanel(version);
  if (mirror) side.append(mirror);
  const actions = h('div', { class: 'version-actions' }, favoriteSlot(version, signal),
    reactionBar(releaseSubject(version), { id: 'version-reactions', signal }));
  side.append(detailsPanel(version, actions), licensePanel(model, version));
  const magnet = magnetPanel(version, signal);
  if (magnet) side.append(magnet);
  const resolve = resolvePanel(version);
  if (resolve) side.append(resolve);
  side.append(authorSlot(model, version, signal, editor));
  return h('div', { class: 'model-layout', dataset: { versionId: text(version.id) } }, main, side);
}

// Favourites are this node's own list, so they need no signing key.
function favoriteSlot(version, signal) {
  const slot = h('div', { class: 'favorite-slot' });
  me().then((mine) => {
    if (signal.aborted) return;
    slot.append(toggleButton('favorite-button',
      (on) => [h('span', { class: 'toggle-icon', 'aria-hidden': 'true' }, on ? '★' : '☆'), on ? ' Favourited' : ' Favourite'],
      isFavorite(mine.favorites, version.id),
      async (on) => {
        const data = await postJson('/api/seedbank/favorites', { modelVersionId: version.id, favorite: on });
        forgetMe();
        return isFavorite(data.favorites, version.id);
      }));
    // Collections are signed: only with the node's key.
    if (mine.identity) slot.append(addToCollection({ modelVersionId: version.id }, mine.identity, signal));
  }, (err) => {
    if (!signal.aborted) slot.append(actionsUnavailable(err));
  });
  return slot;
}

// Only the author's key can edit a release's page or retract it, so the
// buttons show only on a node whose identity signed this one. The form to
// edit the page opens in `editor`.
function authorSlot(model, version, signal, editor) {
  const slot = h('div');
  const creator = version.seedbank && typeof version.seedbank.creator === 'string' ? version.seedbank.creator : '';
  me().then((mine) => {
    if (signal.aborted || !creator || mine.identity !== creator) return;
    const note = h('p', { class: 'muted', role: 'status' });
    const edit = h('button', { type: 'button', id: 'edit-page-button', class: 'btn' }, 'Edit this page');
    edit.addEventListener('click', () => {
      if (!editor.firstChild) {
        editor.append(section('Edit this page', editForm(model, version, signal, () => editor.replaceChildren())));
      }
      editor.scrollIntoView({ block: 'start' });
      editor.querySelector('textarea').focus({ preventScroll: true });
    });
    const addVersion = h('a', { href: `/publish?version=${encodeURIComponent(text(version.id))}`, id: 'add-version-link', class: 'btn' },
      'Add a version');
    const button = h('button', { type: 'button', id: 'retract-button', class: 'btn btn-danger' }, 'Retract this version');
    button.addEventListener('click', async () => {
      const label = [text(model.name), text(version.name)].filter(Boolean).join(' · ') || `version ${text(version.id)}`;
      if (!window.confirm(`Retract "${label}"? Every node stops listing and seeding it. This cannot be undone.`)) return;
      const reason = window.prompt('Why do you retract it? (optional; other people see this)', '');
      if (reason === null) return;
      button.disabled = true;
      note.textContent = 'Signing…';
      try {
        await postJson('/api/seedbank/retractions', { modelVersionId: version.id, reason: reason.trim() });
        if (signal.aborted) return; // the user went elsewhere meanwhile
        navigate('/');
      } catch (err) {
        note.textContent = `Not retracted: ${err.message}`;
        button.disabled = false;
      }
    });
    slot.replaceChildren(section('You published this version',
      h('p', { class: 'muted' }, 'Editing changes what this page shows on every node, never the files or names. ' +
        'A new version carries new files, and this one stays listed under it. ' +
        'Retracting asks every node to stop listing and seeding it.'),
      h('div', { class: 'btn-row' }, edit, addVersion, button), note));
  }, () => {});
  return slot;
}

// What a release's page shows, as its author changes it: the node signs
// an update that carries only what the form changed (the rest stays as
// shown). The release's own sample images can be hidden, shown again or
// rated anew; a hidden one is no longer served, so it goes by its hash.
function editForm(model, version, signal, close) {
  const seed = version.seedbank || {};
  const strings = (list) => (Array.isArray(list) ? list : []).filter((s) => typeof s === 'string' && s);
  // The version's own model description, else the one the page shows (a
  // newer or older version's; not the newest version's notes standing in
  // for one): saved unchanged, it stays where it is.
  const newest = sortedVersions(model)[0];
  const inherited = text(model.description) !== text(newest && newest.description) ? text(model.description) : '';
  const modelDescription = h('textarea', { id: 'edit-model-description', name: 'modelDescription', rows: 6 },
    text(seed.modelDescription) || inherited);
  const description = h('textarea', { id: 'edit-description', name: 'description', rows: 6 }, text(version.description));
  // The version's own tags and flag (the model shows its newest version's).
  const tags = h('input', { id: 'edit-tags', name: 'tags', type: 'text',
    value: strings(Array.isArray(seed.tags) ? seed.tags : model.tags).join(', ') });
  // One per line: a trigger phrase may hold commas ("1girl, red hair").
  const words = h('textarea', { id: 'edit-trained-words', name: 'trainedWords', rows: 3 },
    strings(version.trainedWords).join('\n'));
  const nsfw = h('input', { id: 'edit-nsfw', name: 'nsfw', type: 'checkbox',
    checked: (typeof seed.nsfw === 'boolean' ? seed.nsfw : model.nsfw) === true });
  const shown = (Array.isArray(version.images) ? version.images : [])
    .filter((image) => image && typeof image.hash === 'string' && SHA256_HEX.test(image.hash));
  const hidden = strings(seed.hiddenImages).filter((sha) => SHA256_HEX.test(sha));
  const images = [...shown.map((image) => imageControls(image.hash, image)), ...hidden.map((sha) => imageControls(sha, null))];
  const note = h('p', { class: 'muted', role: 'status' });
  const save = h('button', { type: 'submit', id: 'edit-page-save', class: 'btn btn-primary' }, 'Save');
  const form = h('form', { class: 'stack-form edit-page-form', id: 'edit-page-form' },
    h('p', { class: 'muted' }, 'Your key signs the change, and every node shows the page as you leave it here.'),
    h('label', { for: 'edit-model-description' }, 'About this model ', h('span', { class: 'muted' }, '(Markdown)')),
    modelDescription,
    h('label', { for: 'edit-description' }, 'About this version ', h('span', { class: 'muted' }, '(Markdown)')), description,
    h('label', { for: 'edit-tags' }, 'Tags ', h('span', { class: 'muted' }, '(comma-separated)')), tags,
    h('label', { for: 'edit-trained-words' }, 'Trigger words ', h('span', { class: 'muted' }, '(one per line)')), words,
    h('label', { class: 'check', for: 'edit-nsfw' }, nsfw, 'Mature content (NSFW)'),
    images.length > 0 && h('fieldset', { class: 'edit-images' }, h('legend', null, 'Sample images'),
      h('ul', { class: 'edit-image-list' }, images.map((i) => i.row))),
    h('div', { class: 'btn-row' }, save, h('button', { type: 'button', class: 'btn btn-ghost', onclick: close }, 'Cancel')),
    note);

  const list = (value, separator) => value.split(separator).map((s) => s.trim()).filter(Boolean);
  const state = () => ({
    modelDescription: modelDescription.value,
    description: description.value,
    tags: list(tags.value, ','),
    trainedWords: list(words.value, '\n'),
    nsfw: nsfw.checked,
    images: images.map((i) => ({ sha: i.sha, show: i.show.checked, level: i.level.value })),
  });
  const before = state();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const changes = changedFields(before, state());
    if (!Object.keys(changes).length) {
      note.textContent = 'Nothing changed: edit a field, then save.';
      return;
    }
    save.disabled = true;
    note.textContent = 'Signing…';
    try {
      await postJson('/api/seedbank/updates', { modelVersionId: version.id, ...changes });
      if (signal.aborted) return; // the user went elsewhere meanwhile
      // The page again, on this version, as the node now shows it.
      const url = new URL(location.href);
      url.searchParams.set('modelVersionId', text(version.id));
      navigate(url.pathname + url.search, { replace: true });
    } catch (err) {
      note.textContent = `Not saved: ${err.message}`;
      save.disabled = false;
    }
  });
  return form;
}

// One of the release's sample images in the edit form: shown or not, and
// its rating. A hidden image's level is not served, so it keeps the one
// it was published with unless another is chosen.
function imageControls(sha, image) {
  const show = h('input', { type: 'checkbox', checked: !!image, dataset: { imageShow: sha } });
  const level = h('select', { dataset: { imageLevel: sha }, disabled: !image, 'aria-label': 'Rating' },
    !image && h('option', { value: '' }, 'As published'),
    NSFW_LEVELS.map(([value, name]) => h('option', { value, selected: !!image && value === imageLevel(image) }, name)));
  show.addEventListener('change', () => { level.disabled = !show.checked; });
  const thumb = image
    ? netImage({ url: `/api/images/${sha}`, nsfwLevel: image.nsfwLevel, type: image.type }, { alt: 'Sample image' })
    : h('code', { title: sha }, `${sha.slice(0, 12)}…`);
  const row = h('li', { class: 'edit-image' }, h('div', { class: 'edit-image-thumb' }, thumb),
    h('label', { class: 'check' }, show, image ? 'Show' : 'Show (hidden now)'), level);
  return { sha, show, level, row };
}

// The update's fields: those whose value differs from `before`.
function changedFields(before, now) {
  const changes = {};
  for (const key of ['modelDescription', 'description', 'nsfw']) {
    if (now[key] !== before[key]) changes[key] = now[key];
  }
  for (const key of ['tags', 'trainedWords']) {
    if (now[key].join('\n') !== before[key].join('\n')) changes[key] = now[key];
  }
  const hide = [];
  const show = [];
  const levels = {};
  now.images.forEach((image, i) => {
    const was = before.images[i];
    if (was.show && !image.show) hide.push(image.sha);
    if (!was.show && image.show) show.push(image.sha);
    if (image.show && image.level !== '' && image.level !== was.level) levels[image.sha] = Number(image.level);
  });
  if (hide.length) changes.hideImages = hide;
  if (show.length) changes.showImages = show;
  if (Object.keys(levels).length) changes.imageLevels = levels;
  return changes;
}

function detailsPanel(version, actions) {
  const stats = version.stats || {};
  const file = primaryFile(version);
  const download = safeHttpUrl((file && file.downloadUrl) || version.downloadUrl);
  const words = (Array.isArray(version.trainedWords) ? version.trainedWords : []).filter((w) => typeof w === 'string' && w);
  const update = version.seedbank && version.seedbank.update;
  const rows = [
    ['Version', text(version.name)],
    ['Base model', text(version.baseModel)],
    ['Created', formatDate(version.createdAt)],
    // The author signed a change to what this page shows.
    ['Updated by author', update && typeof update === 'object' ? formatDate(update.updatedAt) : ''],
    ['Seeding nodes', seedingCount(stats.downloadCount, false)],
    ['Rating', h('span', { class: 'version-rating' }, stars(stats.rating, stats.ratingCount))],
  ];
  return section(null,
    download && h('a', { class: 'btn btn-primary btn-block', href: download, download: '' },
      `Download${file && file.sizeKB ? ` (${formatSize(file.sizeKB)})` : ''}`),
    actions,
    h('dl', { class: 'details' }, rows.filter(([, v]) => v !== '').map(([k, v]) =>
      h('div', { class: 'details-row' }, h('dt', null, k), h('dd', null, v)))),
    words.length > 0 && h('div', { class: 'trained-words' },
      h('h3', null, 'Trigger words'),
      h('ul', { class: 'word-list' }, words.map((word) =>
        h('li', { class: 'word' }, h('code', null, word), copyButton(word, 'Copy', `Copy "${word}"`))))));
}

// Civitai's permission names, as questions a user asks.
const COMMERCIAL_USES = [
  ['Image', 'Sell images they generate'],
  ['Rent', 'Run on services that generate images for money'],
  ['RentCivit', 'Run on Civitai'],
  ['Sell', 'Sell this model or merges of it'],
];

function licensePanel(model, version) {
  let uses = model.allowCommercialUse;
  if (typeof uses === 'string') uses = uses === 'None' ? [] : [uses]; // older exports used one string
  if (!Array.isArray(uses)) uses = [];
  const items = [
    [model.allowNoCredit === true, 'Use the model without crediting the creator'],
    ...COMMERCIAL_USES.map(([key, label]) => [uses.includes(key), label]),
    [model.allowDerivatives === true, 'Share merges using this model'],
    [model.allowDifferentLicense === true, 'Share merges under different permissions'],
  ];
  const license = version.seedbank && version.seedbank.license ? text(version.seedbank.license) : '';
  return section('License',
    h('p', { class: 'license-name' }, license || 'No license named'),
    h('ul', { class: 'permissions' }, items.map(([allowed, label]) =>
      h('li', { class: allowed ? 'allowed' : 'denied', dataset: { allowed: String(allowed) } },
        h('span', { class: 'mark', 'aria-hidden': 'true' }, allowed ? '✓' : '✗'),
        h('span', { class: 'sr-only' }, allowed ? 'Allowed: ' : 'Not allowed: '),
        label))));
}

// A mirror: files first published elsewhere (Civitai), signed by whoever
// mirrored them and never by the creator named there.
function mirrorPanel(version) {
  const m = version.seedbank && version.seedbank.mirror;
  if (!m || typeof m !== 'object') return null;
  const site = text(m.site) === 'civitai' ? 'Civitai' : text(m.site);
  const signer = text(m.signedByName) || `${text(m.signedBy).slice(0, 16)}…`;
  const creator = text(m.creator);
  const url = text(m.url);
  const agreeing = Number.isSafeInteger(m.agreeing) ? m.agreeing : 0;
  return h('section', { class: 'panel mirror-note', dataset: { mirror: 'true' } },
    h('h2', { class: 'panel-title' }, 'Mirror'),
    h('p', {}, `Mirrored by ${signer} from ${site}${creator ? ` (creator ${creator})` : ''}; not signed by the creator.`),
    agreeing ? h('p', { class: 'muted' },
      `${agreeing} other ${agreeing === 1 ? 'mirror agrees' : 'mirrors agree'} on where it came from.`) : null,
    // Only Civitai's own pages: a peer chooses this text.
    /^https:\/\/civitai\.com\//.test(url)
      ? h('p', {}, h('a', { href: url, rel: 'noopener noreferrer nofollow', target: '_blank' }, 'Original page'))
      : null);
}

// Two magnets: the hybrid one (qBittorrent 4.4+, libtorrent 2, Deluge 2.1)
// and the plain v1 form of the same files for clients without BitTorrent
// v2 (aria2 1.36, Transmission 3), each also as a .torrent file. The v1
// form comes from the single-version answer, fetched when the page shows.
function magnetPanel(version, signal) {
  const seed = version.seedbank || {};
  const magnet = typeof seed.magnet === 'string' ? seed.magnet : '';
  if (!magnet.startsWith('magnet:?')) return null;
  const release = typeof seed.releaseId === 'string' && /^[0-9a-f]{64}$/.test(seed.releaseId) ? seed.releaseId : '';
  const magnetRow = (link) => h('div', { class: 'copy-row' },
    h('code', { class: 'magnet', title: link }, link),
    copyButton(link));
  const compatSlot = h('div', { class: 'magnet-compat' });
  const panel = section('Magnet link',
    h('p', { class: 'muted' }, 'qBittorrent 4.4+, Deluge 2.1 and other clients with BitTorrent v2:'),
    magnetRow(magnet),
    h('div', { class: 'btn-row' },
      h('a', { class: 'btn btn-ghost btn-small', href: magnet }, 'Open in torrent client'),
      release ? h('a', { class: 'btn btn-ghost btn-small', href: `/api/seedbank/torrents/${release}.torrent`,
        download: '' }, '.torrent') : null),
    compatSlot);
  const showCompat = (compat) => {
    if (typeof compat !== 'string' || !compat.startsWith('magnet:?')) return;
    compatSlot.replaceChildren(
      h('p', { class: 'muted' }, 'Clients without BitTorrent v2 (aria2 1.36, Transmission 3): the same files as plain v1:'),
      magnetRow(compat),
      h('div', { class: 'btn-row' },
        h('a', { class: 'btn btn-ghost btn-small', href: compat }, 'Open in torrent client'),
        release ? h('a', { class: 'btn btn-ghost btn-small',
          href: `/api/seedbank/torrents/${release}.torrent?v1Compat=true`, download: '' }, 'v1 .torrent') : null));
  };
  if (typeof seed.magnetV1Compat === 'string') {
    showCompat(seed.magnetV1Compat);
  } else if (Number.isSafeInteger(version.id)) {
    api(`/api/v1/model-versions/${version.id}`, signal)
      .then((full) => showCompat(full && full.seedbank && full.seedbank.magnetV1Compat))
      .catch(() => {});  // the hybrid magnet is still there
  }
  return panel;
}

function resolvePanel(version) {
  const file = primaryFile(version);
  const sha = file && file.hashes && file.hashes.SHA256 ? text(file.hashes.SHA256) : '';
  if (!sha) return null;
  const commands = [
    ['AUTOMATIC1111 / Forge', `seedbank resolve ${sha} --layout a1111 --models-dir ~/stable-diffusion-webui/models`],
    ['ComfyUI', `seedbank resolve ${sha} --layout comfyui --models-dir ~/ComfyUI/models`],
  ];
  return section('Resolve into my models folder',
    h('p', { class: 'muted' }, 'Fetches the file from peers, checks its hash and puts it where your UI looks for it.'),
    commands.map(([label, command]) => h('div', { class: 'command' },
      h('div', { class: 'command-label' }, label),
      h('div', { class: 'copy-row' }, h('code', { class: 'command-text' }, command), copyButton(command)))));
}

function filesSection(version) {
  const files = (Array.isArray(version.files) ? version.files : []).filter((f) => f && typeof f === 'object');
  if (!files.length) return section('Files', h('p', { class: 'muted' }, 'This version lists no files.'));
  const rows = files.map((file) => {
    const meta = file.metadata || {};
    const format = [meta.format, meta.fp, meta.size].filter(Boolean).map(text).join(' · ');
    const download = safeHttpUrl(file.downloadUrl);
    return h('tr', { class: 'file-row', dataset: { primary: String(file.primary === true) } },
      h('td', { class: 'file-name', 'data-label': 'File' },
        h('span', null, text(file.name) || 'unnamed'), file.primary && badge('Primary', 'badge-primary')),
      h('td', { 'data-label': 'Size' }, formatSize(file.sizeKB)),
      h('td', { 'data-label': 'Type' }, text(file.type)),
      h('td', { 'data-label': 'Format' }, format),
      h('td', { class: 'file-hashes', 'data-label': 'Hashes' },
        h('dl', { class: 'hashes' }, orderedHashes(file.hashes).map(([type, value]) =>
          h('div', { class: 'hash-row' },
            h('dt', { class: 'hash-label' }, type),
            h('dd', null, h('code', { class: 'hash-value', dataset: { hashType: type } }, value),
              copyButton(value, 'Copy', `Copy ${type}`)))))),
      h('td', { class: 'file-download', 'data-label': '' },
        download && h('a', { class: 'btn btn-primary btn-small', href: download, download: '' }, 'Download')));
  });
  return section('Files',
    h('div', { class: 'table-wrap' },
      h('table', { class: 'files' },
        h('thead', null, h('tr', null, ['File', 'Size', 'Type', 'Format', 'Hashes', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, rows))));
}

// Users' images made with this version, and the form to add one.
function communitySection(version, signal) {
  const images = h('div', { class: 'community-images' }, loadingBlock('Loading community images…'));
  const share = h('div', { class: 'community-share' });
  const reload = () => loadCommunityImages(version, images, signal);
  me().then((mine) => {
    if (!signal.aborted) share.replaceChildren(mine.identity ? postForm(version, reload) : noKeyNote('share images'));
  }, () => {});
  reload();
  const box = section('Community images', images, share);
  box.id = 'community-images';
  return box;
}

async function loadCommunityImages(version, box, signal) {
  let data;
  try {
    data = await api(query('/api/v1/images', { modelVersionId: version.id, limit: 50 }), signal);
  } catch (err) {
    if (isAbort(err)) return;
    box.replaceChildren(h('p', { class: 'message error' }, err.message));
    return;
  }
  // Users' posts (the version's sample images come first in the answer).
  // A post of the same bytes as a sample image is its own item: someone
  // else's, with their caption.
  const extra = (Array.isArray(data.items) ? data.items : [])
    .filter((image) => image && typeof image === 'object' && image.postId != null);
  box.replaceChildren(extra.length
    ? imageGrid(extra, 'community', true)
    : h('p', { class: 'muted' }, 'No one has shared an image made with this version yet.'));
}

// Share an image made with this version, signed with this node's key: the
// file goes to the node first, then a signed post names it by its hash.
function postForm(version, shared) {
  const file = h('input', { id: 'post-file', name: 'image', type: 'file',
    accept: [...SHAREABLE_TYPES, ...SHAREABLE_VIDEO_TYPES].join(','), required: true });
  const caption = h('textarea', { id: 'post-caption', name: 'caption', rows: 2, maxlength: 16000 });
  const level = h('select', { id: 'post-nsfw-level', name: 'nsfwLevel' },
    NSFW_LEVELS.map(([value, name]) => h('option', { value }, name)));
  const note = h('p', { class: 'muted', role: 'status' });
  const limitNote = h('span', { class: 'muted' }, '(PNG, JPEG or WebP; a short MP4 or WebM video)');
  maxUploadBytes().then((limit) => {
    if (Number.isFinite(limit)) limitNote.textContent = `(PNG, JPEG or WebP; a short MP4 or WebM video; up to ${formatSize(limit / 1024)})`;
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign and share');
  const form = h('form', { class: 'stack-form', id: 'post-form' },
    h('h3', null, 'Share an image or video you made'),
    h('label', { for: 'post-file' }, 'Image or video ', limitNote), file,
    h('label', { for: 'post-caption' }, 'Caption ', h('span', { class: 'muted' }, '(optional)')), caption,
    h('label', { for: 'post-nsfw-level' }, 'Rating ', h('span', { class: 'muted' }, '(PG: safe for work; R, X, XXX: mature)')), level,
    h('div', null, submit), note);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = file.files && file.files[0];
    if (!chosen) {
      note.textContent = 'Choose an image or video file first.';
      return;
    }
    submit.disabled = true;
    try {
      note.textContent = 'Uploading…';
      const image = await uploadImage(chosen, { videos: true });
      note.textContent = 'Signing…';
      await postJson('/api/seedbank/posts',
        { modelVersionId: version.id, image: image.sha256, caption: caption.value, nsfwLevel: Number(level.value) });
      form.reset();
      note.textContent = image.meta ? 'Signed and shared, with the generation data in the file.' : 'Signed and shared.';
      shared();
    } catch (err) {
      note.textContent = `Not shared: ${err.message}`;
    }
    submit.disabled = false;
  });
  return form;
}

async function loadReviews(version, box, signal, rated) {
  let data;
  try {
    data = await api(query('/api/seedbank/reviews', { modelVersionId: version.id }), signal);
  } catch {
    // Reviews are extra: without them the page is still whole.
    return;
  }
  const items = (Array.isArray(data.items) ? data.items : []).filter((r) => r && typeof r === 'object');
  const count = Number.isFinite(data.ratingCount) ? data.ratingCount : items.length;
  const mean = Number.isFinite(data.rating)
    ? data.rating
    : items.length ? items.reduce((sum, r) => sum + (Number(r.stars) || 0), 0) / items.length : 0;
  const list = h('ol', { class: 'reviews' }, items.map((r) => {
    const name = text(r.username);
    return h('li', { class: 'review' },
      h('div', { class: 'review-head' },
        name ? h('a', { class: 'review-user', href: userPath(text(r.creator) || name), title: text(r.creator) }, name) : h('span', null, 'Someone'),
        stars(r.stars, 1, false),
        h('span', { class: 'muted' }, formatDate(r.createdAt))),
      text(r.review).trim() && richText(r.review, 'rich-text review-text'));
  }));
  const mine = await me().catch(() => null);
  if (signal.aborted) return;
  // Ratings say what others think: the node refuses one from the key that
  // published the release, so its creator gets no form.
  const creator = version.seedbank && typeof version.seedbank.creator === 'string' ? version.seedbank.creator : '';
  let rate;
  if (mine && !mine.identity) rate = noKeyNote('rate this version');
  else if (mine && creator && mine.identity === creator) rate = h('p', { class: 'muted own-release-note' }, 'You published this version, so you cannot rate it.');
  else rate = rateForm(version, box, signal, rated);
  box.replaceChildren(section('Ratings and reviews',
    h('div', { class: 'review-summary' }, stars(mean, count)),
    items.length ? list : h('p', { class: 'muted' }, 'No reviews of this version yet.'),
    rate));
}

// Rate with this node's identity key (the node signs; one rating per key,
// a new one replaces it). The node refuses requests from other sites.
function rateForm(version, box, signal, rated) {
  const choice = h('select', { id: 'rate-stars', 'aria-label': 'Stars' },
    [5, 4, 3, 2, 1].map((n) => h('option', { value: n }, `${'★'.repeat(n)} ${n}`)));
  const review = h('textarea', { id: 'rate-review', rows: 3, placeholder: 'A review (optional)', maxlength: 16000 });
  const note = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign and share my rating');
  const form = h('form', { class: 'rate-form', id: 'rate-form' },
    h('h3', null, 'Rate this version'), choice, review, submit, note);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    note.textContent = 'Signing…';
    try {
      await postJson('/api/seedbank/ratings', { modelVersionId: version.id, stars: Number(choice.value), review: review.value });
      note.textContent = 'Signed and shared.';
      await loadReviews(version, box, signal, rated);
      if (rated && !signal.aborted) await rated();
    } catch (err) {
      note.textContent = `Not rated: ${err.message}`;
      submit.disabled = false;
    }
  });
  return form;
}
