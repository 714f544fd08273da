// Reactions and comments on a release, one of its sample images or an
// image post. Each is a record signed with the node's identity key, so the
// buttons and forms act only where the node signs (on its own machine,
// with a key). Comments are peers' Markdown: they reach the page through
// richText, names and dates as text.

import { api, isAbort, me, postJson, query } from './api.js';
import { actionsUnavailable, formatCount, formatDate, h, loadingBlock, noKeyNote, text, userPath } from './dom.js';
import { richText } from './markdown.js';

const HEX64 = /^[0-9a-f]{64}$/i;

// Civitai's four reactions, in its order; the name is what the API takes.
export const REACTIONS = [
  ['like', '👍', 'Like'],
  ['heart', '❤️', 'Heart'],
  ['laugh', '😂', 'Laugh'],
  ['cry', '😢', 'Cry'],
];

const COMMENTS_PAGE = 20;
// The node takes up to 100 comments a request; a reload after a change
// asks for as many as were shown, so the list does not shrink under the user.
const COMMENTS_MAX_PAGE = 100;
// The node's limit is in UTF-8 bytes; said here with the text's size,
// before anything is signed.
const MAX_COMMENT_BYTES = 8 * 1024;

// ------------------------------------------------------------------ subjects

// A model version, by its release id when it carries one.
export function releaseSubject(version) {
  const id = version && version.seedbank ? version.seedbank.releaseId : null;
  if (typeof id === 'string' && HEX64.test(id)) return { releaseId: id.toLowerCase() };
  return version && Number.isSafeInteger(version.id) ? { modelVersionId: version.id } : null;
}

// What an image's reactions and comments are about, from its `seedbank`
// block: a post by its record id, a sample image by its SHA-256 within
// its release. The same bytes in a post and as a sample image are two
// subjects, as they are two items of the image feed.
export function imageSubject(image) {
  const sb = image && image.seedbank && typeof image.seedbank === 'object' ? image.seedbank : null;
  if (!sb || typeof sb.releaseId !== 'string' || !HEX64.test(sb.releaseId)) return null;
  const releaseId = sb.releaseId.toLowerCase();
  if (typeof sb.post === 'string' && HEX64.test(sb.post)) return { releaseId, post: sb.post.toLowerCase() };
  if (typeof sb.sha256 === 'string' && HEX64.test(sb.sha256)) return { releaseId, image: sb.sha256.toLowerCase() };
  return null;
}

// ------------------------------------------------------------- who can act

// Whether this page can sign as the node's user; if not, the note that
// stands in for a form (the rating form's answers) and a short reason.
function signer(what) {
  return me().then(
    (mine) => (mine && mine.identity
      ? { ok: true }
      : { ok: false, note: () => noKeyNote(what), why: 'this node has no signing key yet (seedbank keygen)' }),
    (err) => ({ ok: false, note: () => actionsUnavailable(err), why: text(err && err.message) }));
}

// ---------------------------------------------------------------- reactions

function reactionCount(stats, kind) {
  return Number(stats && stats[`${kind}Count`]) || 0;
}

// The four reactions with their counts. The user's own one shows pressed
// and a second click withdraws it ("none"): one reaction per key, a new
// one replaces the old. `stats` (an image item's) shows at once; the
// node's answer then says which one is this user's.
export function reactionBar(subject, { id, stats = null, signal } = {}) {
  const buttons = REACTIONS.map(([kind, icon, label]) => h('button', {
    type: 'button',
    class: 'btn btn-small reaction-btn',
    dataset: { reaction: kind },
    title: label,
    'aria-pressed': 'false',
    disabled: true,
  }, h('span', { class: 'reaction-icon', 'aria-hidden': 'true' }, icon),
  h('span', { class: 'sr-only' }, `${label}: `),
  h('span', { class: 'reaction-count' }, '0')));
  const note = h('span', { class: 'toggle-note', role: 'status' });
  const bar = h('div', { id, class: 'reactions', role: 'group', 'aria-label': 'Reactions' }, buttons, note);
  let counts = stats;
  let mine = null;
  let canReact = false;
  let busy = false;
  const show = () => {
    for (const button of buttons) {
      const kind = button.dataset.reaction;
      button.querySelector('.reaction-count').textContent = formatCount(reactionCount(counts, kind));
      button.setAttribute('aria-pressed', String(mine === kind));
      button.classList.toggle('on', mine === kind);
      button.disabled = !canReact || busy;
    }
  };
  show();
  if (!subject) return bar;

  Promise.all([api(query('/api/seedbank/reactions', subject), signal), signer('react')]).then(([data, who]) => {
    if (signal && signal.aborted) return;
    mine = REACTIONS.some(([kind]) => kind === data.mine) ? data.mine : null;
    if (data.stats && typeof data.stats === 'object') counts = data.stats;
    canReact = who.ok;
    if (!who.ok) {
      for (const button of buttons) button.title = `${button.title}: reacting needs the node's key here (${who.why})`;
    }
    show();
  }, (err) => {
    // The counts are extra: the page is whole without them.
    if (!isAbort(err)) note.textContent = `Reactions not loaded: ${err.message}`;
  });

  for (const button of buttons) {
    button.addEventListener('click', async () => {
      const kind = button.dataset.reaction;
      busy = true;
      note.textContent = '';
      show();
      try {
        const answer = await postJson('/api/seedbank/reactions', { ...subject, reaction: mine === kind ? 'none' : kind });
        mine = REACTIONS.some(([k]) => k === answer.reaction) ? answer.reaction : null;
        if (answer.stats && typeof answer.stats === 'object') counts = answer.stats;
      } catch (err) {
        note.textContent = `Not saved: ${err.message}`;
      }
      busy = false;
      show();
    });
  }
  return bar;
}

// An image tile's small line of counts, only when someone reacted or
// commented.
export function tileStats(stats) {
  if (!stats || typeof stats !== 'object') return null;
  const parts = [
    ...REACTIONS.map(([kind, icon, label]) => [reactionCount(stats, kind), icon, label]),
    [Number(stats.commentCount) || 0, '💬', 'Comments'],
  ].filter(([n]) => n > 0);
  if (!parts.length) return null;
  return h('span', { class: 'tile-stats', title: parts.map(([n, , label]) => `${label}: ${n}`).join(', ') },
    parts.map(([n, icon]) => h('span', { class: 'tile-stat' }, `${icon} ${formatCount(n)}`)));
}

// ----------------------------------------------------------------- comments

// A text box with its submit button; `send(text)` signs it. On success the
// box empties (the forms under a comment go away with the list's reload).
function textForm({ className, label, value = '', submitLabel, rows, send, cancel }) {
  const area = h('textarea', { name: 'text', rows, 'aria-label': label, placeholder: label, required: true });
  area.value = value;
  const note = h('p', { class: 'muted', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, submitLabel);
  const form = h('form', { class: `stack-form comment-form ${className}` },
    area,
    h('div', { class: 'btn-row' }, submit,
      cancel && h('button', { type: 'button', class: 'btn btn-ghost btn-small comment-cancel', onclick: cancel }, 'Cancel')),
    note);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = area.value;
    if (!value.trim()) {
      note.textContent = 'Write something first.';
      return;
    }
    const bytes = new TextEncoder().encode(value).length;
    if (bytes > MAX_COMMENT_BYTES) {
      note.textContent = `A comment holds at most 8 KiB (8,192 bytes); this one is ${bytes.toLocaleString()} bytes.`;
      return;
    }
    submit.disabled = true;
    note.textContent = 'Signing…';
    try {
      await send(value);
      area.value = '';
      note.textContent = 'Signed and shared.';
    } catch (err) {
      note.textContent = `Not saved: ${err.message}`;
    }
    submit.disabled = false;
  });
  return form;
}

// Comments on one subject: newest first, each with its replies (one level,
// oldest first), "Load more" while the node has more, and the forms to
// write, reply, edit and delete where this page can sign. `id` names the
// panel (the model page's and the image viewer's can both be open).
export function commentsPanel(subject, { id, signal, compact = false } = {}) {
  const count = h('p', { class: 'muted comment-count' });
  const list = h('ol', { class: 'comment-list' });
  const status = h('div', { class: 'comments-status' }, loadingBlock('Loading comments…'));
  const more = h('button', { type: 'button', class: 'btn btn-small load-more comments-more', hidden: true }, 'Load more');
  const compose = h('div', { class: 'comment-compose' });
  const root = h('div', { id, class: `comments${compact ? ' compact' : ''}` },
    count, list, status, h('div', { class: 'comments-more-row' }, more), compose);
  if (!subject) {
    status.replaceChildren(h('p', { class: 'muted' }, 'Comments need a release to be about.'));
    return root;
  }
  const rows = compact ? 2 : 3;
  const signing = signer('comment');
  let who = { ok: false };
  let cursor = null;
  let shown = 0; // top-level comments on the list
  let generation = 0; // a reload outdates answers still on their way
  const seen = new Set();

  const post = (body) => postJson('/api/seedbank/comments', body);
  const reload = () => load(true);

  const commentItem = (c, topLevel) => {
    const name = text(c.username);
    const creator = text(c.creator);
    const body = c.deleted
      ? h('p', { class: 'muted comment-deleted' }, '[deleted]')
      : richText(c.text, 'rich-text comment-text');
    const head = h('div', { class: 'comment-head' },
      name || creator
        ? h('a', { class: 'comment-user', href: userPath(creator || name), title: creator || null }, name || `${creator.slice(0, 12)}…`)
        : h('span', null, 'Someone'),
      h('span', { class: 'muted comment-date', title: text(c.createdAt) }, formatDate(c.createdAt)),
      c.editedAt && h('span', { class: 'muted comment-edited', title: `Edited ${formatDate(c.editedAt)}` }, 'edited'));
    const note = h('p', { class: 'comment-note', role: 'status' });
    const actions = h('div', { class: 'comment-actions' });
    const slot = h('div', { class: 'comment-form-slot' });
    const item = h('li', { class: topLevel ? 'comment' : 'comment reply', dataset: { commentId: text(c.id) } },
      head, body, actions, note);

    const closeForm = () => {
      slot.replaceChildren();
      body.hidden = false;
      actions.hidden = false;
    };
    if (who.ok && !c.deleted && topLevel) {
      actions.append(h('button', {
        type: 'button',
        class: 'btn btn-ghost btn-small comment-reply',
        onclick: () => {
          slot.replaceChildren(textForm({
            className: 'reply-form', label: 'Your reply (Markdown)', submitLabel: 'Sign and reply', rows,
            send: async (value) => {
              await post({ ...subject, text: value, parent: c.id });
              await reload();
            },
            cancel: closeForm,
          }));
          slot.querySelector('textarea').focus();
        },
      }, 'Reply'));
    }
    // Only the node's own user's comments, and only where it can sign.
    if (who.ok && !c.deleted && c.mine === true) {
      actions.append(
        h('button', {
          type: 'button',
          class: 'btn btn-ghost btn-small comment-edit',
          onclick: () => {
            body.hidden = true;
            actions.hidden = true;
            slot.replaceChildren(textForm({
              className: 'edit-form', label: 'Your comment (Markdown)', value: text(c.text), submitLabel: 'Sign and save', rows,
              send: async (value) => {
                await post({ edits: c.id, text: value });
                await reload();
              },
              cancel: closeForm,
            }));
            slot.querySelector('textarea').focus();
          },
        }, 'Edit'),
        h('button', {
          type: 'button',
          class: 'btn btn-ghost btn-small btn-danger comment-delete',
          onclick: async (event) => {
            const button = event.currentTarget;
            if (!window.confirm('Delete this comment? Other nodes stop showing it.')) return;
            button.disabled = true;
            note.textContent = 'Signing…';
            try {
              await post({ edits: c.id, delete: true });
              await reload();
            } catch (err) {
              note.textContent = `Not deleted: ${err.message}`;
              button.disabled = false;
            }
          },
        }, 'Delete'));
    }
    if (!actions.childElementCount) actions.hidden = true;
    // The reply box goes under the replies, where the next reply lands.
    const replies = topLevel && Array.isArray(c.replies)
      ? c.replies.filter((r) => r && typeof r === 'object') : [];
    const replyList = h('ol', { class: 'comment-replies' }, replies.map((r) => commentItem(r, false)));
    if (replies.length) item.append(replyList);
    // A page carries a comment's first replies; the rest come on request.
    if (c.moreReplies === true) {
      const seenReplies = new Set(replies.map((r) => r.id));
      let replyCursor = null;
      const moreReplies = h('button', { type: 'button', class: 'btn btn-ghost btn-small more-replies' }, 'More replies');
      moreReplies.addEventListener('click', async () => {
        moreReplies.disabled = true;
        try {
          const data = await api(query('/api/seedbank/comments',
            { ...subject, parent: c.id, limit: COMMENTS_MAX_PAGE, cursor: replyCursor }), signal);
          for (const r of Array.isArray(data.items) ? data.items : []) {
            if (!r || typeof r !== 'object' || seenReplies.has(r.id)) continue;
            seenReplies.add(r.id);
            replyList.append(commentItem(r, false));
          }
          if (replyList.childElementCount && !replyList.isConnected) item.insertBefore(replyList, moreReplies);
          const next = data.metadata && data.metadata.nextCursor;
          replyCursor = typeof next === 'string' && next && next !== replyCursor ? next : null;
          moreReplies.hidden = !replyCursor;
        } catch (err) {
          if (!isAbort(err)) note.textContent = `Replies not loaded: ${err.message}`;
        }
        moreReplies.disabled = false;
      });
      item.append(moreReplies);
    }
    item.append(slot);
    return item;
  };

  const showCount = (stats) => {
    const n = Number(stats && stats.commentCount) || 0;
    count.textContent = n ? `${formatCount(n)} comment${n === 1 ? '' : 's'}` : '';
    count.hidden = !n;
  };

  async function load(reset) {
    const mine = reset ? ++generation : generation;
    more.disabled = true;
    const limit = reset ? Math.min(COMMENTS_MAX_PAGE, Math.max(COMMENTS_PAGE, shown + 1)) : COMMENTS_PAGE;
    let data;
    try {
      [data, who] = await Promise.all([
        api(query('/api/seedbank/comments', { ...subject, limit, cursor: reset ? null : cursor }), signal),
        signing,
      ]);
    } catch (err) {
      if (isAbort(err) || mine !== generation) return;
      status.replaceChildren(h('p', { class: 'message error' }, `Comments not loaded: ${err.message}`));
      more.disabled = false;
      return;
    }
    if (mine !== generation || (signal && signal.aborted)) return;
    if (reset) {
      list.replaceChildren();
      seen.clear();
      shown = 0;
    }
    for (const c of Array.isArray(data.items) ? data.items : []) {
      if (!c || typeof c !== 'object' || seen.has(c.id)) continue;
      seen.add(c.id);
      shown += 1;
      list.append(commentItem(c, true));
    }
    const next = data.metadata && data.metadata.nextCursor;
    cursor = typeof next === 'string' && next && next !== cursor ? next : null;
    more.hidden = !cursor;
    more.disabled = false;
    if (shown) status.replaceChildren();
    else if (cursor) status.replaceChildren(h('p', { class: 'muted' }, 'Hidden or deleted comments were skipped; load more to look further.'));
    else status.replaceChildren(h('p', { class: 'muted' }, 'No comments yet.'));
    showCount(data.stats);
  }

  more.addEventListener('click', () => load(false));
  signing.then((can) => {
    if (signal && signal.aborted) return;
    compose.replaceChildren(can.ok
      ? textForm({
        className: 'new-comment-form', label: 'Write a comment (Markdown)', submitLabel: 'Sign and comment', rows,
        send: async (value) => {
          await post({ ...subject, text: value });
          await reload();
        },
      })
      : can.note());
  });
  reload();
  return root;
}
