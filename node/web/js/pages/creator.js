// A creator's page: profile, follow button or the profile editor, and the
// creator's models.

import { SHAREABLE_TYPES, api, forgetMe, isAbort, me, postJson, query, uploadImage } from '../api.js';
import { modelFeed } from '../cards.js';
import { add, copyButton, errorBox, externalLink, h, loadingBlock, safeHttpUrl, text, toggleButton, userPath } from '../dom.js';
import { netImage } from '../images.js';
import { richText } from '../markdown.js';
import { collectionList } from './collection.js';
import { app, navigate, startPage } from '../router.js';

export async function renderCreator(username) {
  const page = startPage(username);
  const profile = h('section', { class: 'profile' }, loadingBlock('Loading profile…'));
  const feedRoot = h('section', { class: 'feed-root', 'aria-label': `Models by ${username}` });
  const collections = h('section', { class: 'creator-collections' });
  app.append(h('div', { id: 'creator-page', class: 'page', dataset: { username } },
    profile, collections, h('h2', { class: 'section-title' }, 'Models'), feedRoot));
  collectionList(collections, username, page.signal);

  const feed = modelFeed(feedRoot, { username }, { emptyText: `This node knows no models by ${username}.` });
  page.onClose(() => feed.destroy());

  let data;
  try {
    data = await api(query('/api/v1/creators', { query: username, limit: 20 }), page.signal);
  } catch (err) {
    if (isAbort(err)) return;
    profile.replaceChildren(h('h1', { class: 'creator-name' }, username), errorBox(err.message, () => renderCreator(username)));
    return;
  }
  const items = Array.isArray(data.items) ? data.items : [];
  // A key names one creator; a display name may be claimed by several
  // (and a stranger may take a key as display name): the key wins.
  const keyOf = (c) => (c && c.seedbank && typeof c.seedbank.key === 'string' ? c.seedbank.key : '');
  const creator = items.find((c) => keyOf(c) === username) || items.find((c) => c && c.username === username) ||
    items[0] || null;
  const actions = h('div', { class: 'profile-actions' });
  const editor = h('div', { class: 'profile-editor' });
  profile.replaceChildren();
  add(profile, [profileView(username, creator, actions), editor]);
  const sb = creator && creator.seedbank && typeof creator.seedbank === 'object' ? creator.seedbank : null;
  const key = sb && typeof sb.key === 'string' ? sb.key : '';
  if (!key) return;
  let mine;
  try {
    mine = await me();
  } catch {
    return; // a node without /api/seedbank/me: the page is whole without these
  }
  if (page.signal.aborted) return;
  // Releases of a rotated key show under the key it rotated to.
  if (mine.identity && (mine.identity === key || mine.identity === sb.rotatedTo)) {
    editor.append(profileForm(creator, username, mine.identity, page.signal));
    return;
  }
  actions.append(toggleButton('follow-button', (on) => (on ? 'Following' : 'Follow'),
    Array.isArray(mine.follows) && mine.follows.includes(key),
    async (on) => {
      const data = await postJson('/api/seedbank/follows', { creator: key, follow: on });
      forgetMe();
      return Array.isArray(data.follows) && data.follows.includes(key);
    }));
}

// The sha256 an image URL of this node names (…/api/images/<sha256>).
function imageSha(url) {
  const m = typeof url === 'string' ? url.match(/\/api\/images\/([0-9a-f]{64})(?:[?#]|$)/i) : null;
  return m ? m[1].toLowerCase() : null;
}

// Edits this node's own profile: a new signed profile replaces the old
// one on every node.
function profileForm(creator, username, identity, signal) {
  const sb = creator.seedbank;
  const name = h('input', { id: 'profile-name', name: 'displayName', type: 'text', required: true, maxlength: 100,
    value: text(sb.displayName) });
  const bio = h('textarea', { id: 'profile-bio', name: 'bio', rows: 4, maxlength: 16000 });
  bio.value = text(sb.bio);
  const links = h('textarea', { id: 'profile-links', name: 'links', rows: 3, placeholder: 'https://…' });
  links.value = (Array.isArray(sb.links) ? sb.links : []).map(text).join('\n');
  const avatarFile = h('input', { id: 'profile-avatar', name: 'avatar', type: 'file', accept: SHAREABLE_TYPES.join(',') });
  const currentAvatar = imageSha(creator.image);
  const dropAvatar = currentAvatar ? h('input', { id: 'profile-avatar-remove', type: 'checkbox' }) : null;
  if (dropAvatar) {  // a new avatar and "remove it" exclude each other
    dropAvatar.addEventListener('change', () => { avatarFile.disabled = dropAvatar.checked; });
    avatarFile.addEventListener('change', () => { dropAvatar.disabled = avatarFile.files.length > 0; });
  }
  const note = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign and publish');
  const form = h('form', { class: 'stack-form', id: 'profile-form' },
    h('label', { for: 'profile-name' }, 'Display name'), name,
    h('label', { for: 'profile-bio' }, 'Bio ', h('span', { class: 'muted' }, '(Markdown)')), bio,
    h('label', { for: 'profile-links' }, 'Links ', h('span', { class: 'muted' }, '(one http(s) address a line, at most 20)')), links,
    h('label', { for: 'profile-avatar' }, currentAvatar ? 'New avatar ' : 'Avatar ',
      h('span', { class: 'muted' }, '(PNG, JPEG or WebP; optional)')), avatarFile,
    dropAvatar && h('label', { class: 'check', for: 'profile-avatar-remove' }, dropAvatar, 'Remove the current avatar'),
    h('div', null, submit), note);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const displayName = name.value.trim();
    const lines = links.value.split('\n').map((l) => l.trim()).filter(Boolean);
    const bad = lines.find((l) => !/^https?:\/\//i.test(l) || !safeHttpUrl(l));
    if (!displayName) {
      note.textContent = 'Not published: give a display name.';
      return;
    }
    if (bad) {
      note.textContent = `Not published: "${bad.slice(0, 100)}" is not a web address; give one http:// or https:// link a line.`;
      return;
    }
    if (lines.length > 20) {
      note.textContent = `Not published: ${lines.length} links; a profile holds at most 20.`;
      return;
    }
    submit.disabled = true;
    try {
      // Without a new file the current avatar stays: a profile replaces
      // the old one whole.
      let avatar = dropAvatar && dropAvatar.checked ? null : currentAvatar;
      const chosen = avatarFile.files && avatarFile.files[0];
      if (chosen) {
        note.textContent = 'Uploading the avatar…';
        avatar = (await uploadImage(chosen)).sha256;
      }
      note.textContent = 'Signing…';
      await postJson('/api/seedbank/profile', { displayName, bio: bio.value, links: lines, avatar });
      forgetMe();
      if (signal.aborted) return; // the user went elsewhere meanwhile
      // The key names this profile for sure; a display name may be shared.
      if (userPath(identity) !== location.pathname) navigate(userPath(identity));
      else renderCreator(username);
    } catch (err) {
      note.textContent = `Not published: ${err.message}`;
      submit.disabled = false;
    }
  });
  return h('details', { class: 'profile-edit' }, h('summary', null, 'Edit profile'),
    h('p', { class: 'muted' }, 'This is your node\'s identity. A new profile, signed with its key, replaces the old one on every node.'),
    form);
}

function profileView(username, creator, actions) {
  if (!creator || typeof creator !== 'object') {
    return [h('div', { class: 'profile-head' }, avatar(username, null),
      h('div', null, h('h1', { class: 'creator-name' }, username),
        h('p', { class: 'muted' }, 'This node has no profile for this creator yet.')))];
  }
  const sb = creator.seedbank && typeof creator.seedbank === 'object' ? creator.seedbank : {};
  const name = text(creator.username) || username;
  const links = (Array.isArray(sb.links) ? sb.links : []).map(safeHttpUrl).filter(Boolean);
  const count = Number(creator.modelCount);
  return [
    h('div', { class: 'profile-head' },
      avatar(name, creator.image),
      h('div', { class: 'profile-text' },
        h('h1', { class: 'creator-name' }, name),
        h('p', { class: 'muted' }, Number.isFinite(count) ? `${count} model${count === 1 ? '' : 's'}` : ''),
        sb.key && h('div', { class: 'copy-row creator-key' },
          h('span', { class: 'muted' }, 'Key'), h('code', { title: text(sb.key) }, text(sb.key)), copyButton(text(sb.key)))),
      actions),
    text(sb.bio).trim() && richText(sb.bio, 'rich-text profile-bio'),
    links.length > 0 && h('ul', { class: 'profile-links' }, links.map((href) => h('li', null, externalLink(href, href)))),
  ];
}

function avatar(name, image) {
  const initial = h('span', { class: 'avatar avatar-large', 'aria-hidden': 'true' }, text(name).slice(0, 1).toUpperCase() || '?');
  if (typeof image !== 'string' || !image) return initial;
  const frame = netImage({ url: image }, { alt: '', hashAttr: false });
  frame.classList.add('avatar-image');
  return h('div', { class: 'avatar-wrap' }, initial, frame);
}
