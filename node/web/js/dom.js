// DOM helpers every page uses. Everything from the API is untrusted text
// from peers: it reaches the DOM only through textContent or elements built
// here (h, add), never through innerHTML.

const globalError = document.getElementById('global-error');

// h('a', {href: '/x', class: 'y'}, 'text', child): strings become text nodes.
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  return add(node, children);
}

export function add(node, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function text(value) {
  return value == null ? '' : String(value);
}

// Only web links leave the page; anything else (javascript:, data:) is dropped.
export function safeHttpUrl(value) {
  if (typeof value !== 'string' || !value) return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export function externalLink(href, ...children) {
  return h('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, ...children);
}

// A creator's page. Display names are not unique (any key can claim
// any name), so links name the key whenever it is known.
export function userPath(username) {
  return `/user/${encodeURIComponent(username)}`;
}

// A tag's page. "." and ".." cannot be a path segment (the browser resolves
// them away, encoded or not), so those two go to the home page's tag filter.
export function tagPath(name) {
  const tag = text(name);
  return tag === '.' || tag === '..' ? `/?tag=${encodeURIComponent(tag)}` : `/tag/${encodeURIComponent(tag)}`;
}

export function formatCount(value) {
  const n = Number(value) || 0;
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
}

export function formatDate(value) {
  const date = new Date(value);
  if (!value || Number.isNaN(date.getTime())) return '';
  return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

// Civitai's sizeKB counts KiB.
export function formatSize(sizeKB) {
  let n = Number(sizeKB) * 1024;
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u += 1;
  }
  const digits = u === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${n.toFixed(digits)} ${units[u]}`;
}

export function stars(rating, count, showCount = true) {
  const n = Number(count) || 0;
  // No ratings means no stars, whatever the average field holds.
  const value = n ? Math.max(0, Math.min(5, Number(rating) || 0)) : 0;
  const fill = h('span', { class: 'stars-fill' });
  fill.style.width = `${(value / 5) * 100}%`;
  const label = n ? `${value.toFixed(1)} out of 5 from ${n} rating${n === 1 ? '' : 's'}` : 'No ratings yet';
  return h('span', { class: 'rating', title: label },
    h('span', { class: 'stars', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'sr-only' }, label),
    showCount && h('span', { class: 'rating-count', 'aria-hidden': 'true' }, n ? `${value.toFixed(1)} (${n})` : '(0)'));
}

export function badge(label, extra) {
  return h('span', { class: `badge${extra ? ` ${extra}` : ''}` }, label);
}

export function errorBox(message, retry) {
  return h('div', { class: 'message error', role: 'alert' },
    h('strong', null, 'Something went wrong'),
    h('p', null, message),
    retry && h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again'));
}

export function loadingBlock(label = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

export function hideGlobalError() {
  globalError.hidden = true;
}

export function showGlobalError(message) {
  globalError.replaceChildren(h('strong', null, 'Something went wrong: '), message,
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => { globalError.hidden = true; } }, 'Dismiss'));
  globalError.hidden = false;
}

// ------------------------------------------------------------------- clipboard

async function copyText(value) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(value);
      return true;
    } catch {
      // Permission refused or no focus: the textarea route below still works.
    }
  }
  // An open modal dialog makes the rest of the page inert, so the textarea
  // has to live inside it to be selectable.
  const host = document.querySelector('dialog[open]') || document.body;
  const area = h('textarea', { class: 'clipboard-proxy', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  area.value = value;
  host.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function copyButton(value, label = 'Copy', title) {
  const button = h('button', { type: 'button', class: 'btn btn-small copy-btn', title: title || `Copy ${label === 'Copy' ? '' : label}`.trim() }, label);
  let timer = 0;
  button.addEventListener('click', async (event) => {
    event.preventDefault();
    event.stopPropagation();
    const ok = await copyText(typeof value === 'function' ? value() : text(value));
    button.textContent = ok ? 'Copied' : 'Copy failed';
    button.classList.toggle('copied', ok);
    clearTimeout(timer);
    timer = setTimeout(() => {
      button.textContent = label;
      button.classList.remove('copied');
    }, 1600);
  });
  return button;
}


// In place of a form that needs the node's signing key, when it has none.
// Why favourites, sharing, rating, reactions and comments are missing: the
// node answers them only on its own machine (or /api/seedbank/me failed
// otherwise).
export function actionsUnavailable(err) {
  return h('p', { class: 'muted no-key-note' },
    `Favourites, sharing, rating, reactions and comments work in the gallery on the node's own machine (${text(err && err.message)}).`);
}

export function noKeyNote(what) {
  return h('p', { class: 'muted no-key-note' }, `To ${what}, this node needs a signing key: run `,
    h('code', null, 'seedbank keygen'), ' on its data dir, then reload this page.');
}

// A button that stays pressed while something is on (a favourite, a
// follow). `change(on)` asks the node and resolves to the state it saved;
// `label(on)` gives the button's content.
export function toggleButton(id, label, pressed, change) {
  const button = h('button', { type: 'button', id, class: 'btn toggle-btn' });
  const note = h('span', { class: 'toggle-note', role: 'status' });
  const show = (on) => {
    button.setAttribute('aria-pressed', String(on));
    button.classList.toggle('on', on);
    button.replaceChildren(...[label(on)].flat());
  };
  show(pressed);
  button.addEventListener('click', async () => {
    button.disabled = true;
    note.textContent = '';
    try {
      show(await change(button.getAttribute('aria-pressed') !== 'true'));
    } catch (err) {
      note.textContent = `Not saved: ${err.message}`;
    }
    button.disabled = false;
  });
  return h('span', { class: 'toggle' }, button, note);
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, title && h('h2', { class: 'panel-title' }, title), ...children);
}
