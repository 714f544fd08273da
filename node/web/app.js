// Seedbank gallery: one page over this node's Civitai-compatible API.
// Plain ES2020 with no framework and no build step, because the node embeds
// this file as it is (node/embed_web.cmake). Everything from the API is
// untrusted text from peers: it reaches the DOM only through textContent or
// elements built here, never through innerHTML.
'use strict';

(() => {
  const MODEL_TYPES = ['Checkpoint', 'LORA', 'LoCon', 'DoRA', 'TextualInversion', 'Hypernetwork', 'Controlnet',
    'VAE', 'Upscaler', 'MotionModule', 'Workflows', 'Other'];
  const COMMON_BASE_MODELS = ['SD 1.5', 'SDXL 1.0', 'Pony', 'Flux.1 D'];
  const SORTS = ['Newest', 'Highest Rated', 'Most Downloaded'];
  const PAGE_SIZE = 20;
  const THUMB_WIDTH = 450;
  // A 503 means the node is fetching the image from peers; it usually lands
  // within seconds, so poll at the server's Retry-After pace for a minute.
  const IMAGE_RETRY_MS = 2000;
  const IMAGE_RETRY_FOR_MS = 60000;
  const HASH_ORDER = ['SHA256', 'AutoV1', 'AutoV2', 'AutoV3', 'CRC32', 'BLAKE3'];

  const app = document.getElementById('app');
  const searchForm = document.getElementById('search-form');
  const searchInput = document.getElementById('search');
  const globalError = document.getElementById('global-error');

  // ---------------------------------------------------------------- DOM helpers

  // h('a', {href: '/x', class: 'y'}, 'text', child): strings become text nodes.
  function h(tag, props, ...children) {
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

  function add(node, children) {
    for (const child of [children].flat(Infinity)) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function text(value) {
    return value == null ? '' : String(value);
  }

  // Only web links leave the page; anything else (javascript:, data:) is dropped.
  function safeHttpUrl(value) {
    if (typeof value !== 'string' || !value) return null;
    try {
      const url = new URL(value, location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch {
      return null;
    }
  }

  function externalLink(href, ...children) {
    return h('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, ...children);
  }

  function formatCount(value) {
    const n = Number(value) || 0;
    if (n < 1000) return String(n);
    if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
    return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
  }

  function formatDate(value) {
    const date = new Date(value);
    if (!value || Number.isNaN(date.getTime())) return '';
    return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  }

  // Civitai's sizeKB counts KiB.
  function formatSize(sizeKB) {
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

  function stars(rating, count, showCount = true) {
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

  function badge(label, extra) {
    return h('span', { class: `badge${extra ? ` ${extra}` : ''}` }, label);
  }

  function errorBox(message, retry) {
    return h('div', { class: 'message error', role: 'alert' },
      h('strong', null, 'Something went wrong'),
      h('p', null, message),
      retry && h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again'));
  }

  function loadingBlock(label = 'Loading…') {
    return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
  }

  function showGlobalError(message) {
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

  function copyButton(value, label = 'Copy', title) {
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

  // ------------------------------------------------------------------------- API

  class ApiError extends Error {}

  // GET a JSON endpoint; any failure becomes an ApiError whose message a
  // person can act on. AbortError passes through so callers can ignore it.
  async function api(path, signal) {
    let response;
    try {
      response = await fetch(path, { headers: { Accept: 'application/json' }, signal });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(`Could not reach this node for ${path} (${err.message}). Is it still running?`);
    }
    const body = await response.text();
    let data = null;
    try {
      data = body ? JSON.parse(body) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const reason = data && typeof data.error === 'string' && data.error
        ? data.error
        : `${response.status} ${response.statusText}`.trim();
      const error = new ApiError(`${path.split('?')[0]} answered ${response.status}: ${reason}`);
      error.status = response.status;
      throw error;
    }
    if (data === null || typeof data !== 'object') {
      throw new ApiError(`${path.split('?')[0]} answered with something that is not a JSON object`);
    }
    return data;
  }

  function isAbort(err) {
    return err && err.name === 'AbortError';
  }

  // POST to one of the routes that act for this node's user (sign, store,
  // remember); the node refuses them from other sites' pages. A refusal
  // becomes an ApiError carrying the node's {error}.
  async function post(path, body, contentType) {
    let response;
    try {
      response = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': contentType, Accept: 'application/json' },
        body,
      });
    } catch (err) {
      throw new ApiError(`Could not reach this node for ${path} (${err.message}). Is it still running?`);
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new ApiError(data && typeof data.error === 'string' && data.error ? data.error : `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data && typeof data === 'object' ? data : {};
  }

  function postJson(path, body) {
    return post(path, JSON.stringify(body), 'application/json');
  }

  const SHAREABLE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

  // The node's limit: the largest image that travels over gossip, from
  // /api/seedbank/me. Checked here too, because the node closes the
  // connection on a larger body and the browser then reports a network
  // error instead of its message.
  async function maxUploadBytes() {
    const mine = await me().catch(() => null);
    const limit = Number(mine && mine.limits && mine.limits.imageBytes);
    return Number.isFinite(limit) && limit > 0 ? limit : Infinity;
  }

  // Stores an image file on this node without publishing it; resolves to
  // {sha256, width, height, mimeType, meta}.
  async function uploadImage(file) {
    if (file.type && !SHAREABLE_TYPES.includes(file.type)) {
      throw new ApiError(`${file.name} is ${file.type}; choose a PNG, JPEG or WebP image`);
    }
    const limit = await maxUploadBytes();
    if (file.size > limit) {
      throw new ApiError(`${file.name} is ${formatSize(file.size / 1024)}; this node takes images up to ${formatSize(limit / 1024)}`);
    }
    return post('/api/seedbank/images', file, file.type || 'application/octet-stream');
  }

  // ------------------------------------------------------------- this node's user

  // {identity, username, favorites, follows}, fetched once per page load and
  // again after forgetMe(), which every change calls.
  let mePromise = null;

  function me() {
    if (!mePromise) {
      const asked = api('/api/seedbank/me').catch((err) => {
        if (mePromise === asked) mePromise = null; // the next caller asks again
        throw err;
      });
      mePromise = asked;
    }
    return mePromise;
  }

  function forgetMe() {
    mePromise = null;
  }

  function isFavorite(favorites, versionId) {
    return Array.isArray(favorites) && favorites.some((f) => f && String(f.modelVersionId) === String(versionId));
  }

  // In place of a form that needs the node's signing key, when it has none.
  // Why favourites, sharing and rating are missing: the node answers them
  // only on its own machine (or /api/seedbank/me failed otherwise).
  function actionsUnavailable(err) {
    return h('p', { class: 'muted no-key-note' },
      `Favourites, sharing and rating work in the gallery on the node's own machine (${text(err && err.message)}).`);
  }

  function noKeyNote(what) {
    return h('p', { class: 'muted no-key-note' }, `To ${what}, this node needs a signing key: run `,
      h('code', null, 'seedbank keygen'), ' on its data dir, then reload this page.');
  }

  // A button that stays pressed while something is on (a favourite, a
  // follow). `change(on)` asks the node and resolves to the state it saved;
  // `label(on)` gives the button's content.
  function toggleButton(id, label, pressed, change) {
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

  function query(path, params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value != null && value !== '') search.set(key, String(value));
    }
    const qs = search.toString();
    return qs ? `${path}?${qs}` : path;
  }

  // The next page's path: prefer nextCursor on the same request, else the
  // path of nextPage (its host is whatever the node thinks it is called,
  // which need not be the one this browser used).
  function nextPagePath(currentPath, metadata) {
    if (!metadata || typeof metadata !== 'object') return null;
    const cursor = metadata.nextCursor;
    if (cursor != null && cursor !== '') {
      const url = new URL(currentPath, location.origin);
      url.searchParams.set('cursor', String(cursor));
      url.searchParams.delete('page');
      return url.pathname + url.search;
    }
    if (typeof metadata.nextPage === 'string' && metadata.nextPage) {
      try {
        const url = new URL(metadata.nextPage, location.origin);
        return url.pathname + url.search;
      } catch {
        return null;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------------- images

  function thumbnailUrl(src) {
    const url = new URL(src, location.href);
    url.searchParams.set('width', String(THUMB_WIDTH));
    return url.href;
  }

  // An <img> in a frame that shows a placeholder until the image arrives. The
  // node answers 503 while it fetches an image from peers, so a failed load is
  // retried every 2 s for a minute; after that a click tries again.
  function netImage(image, { thumb = true, alt = '', hashAttr = true } = {}) {
    const frame = h('div', { class: 'img-frame pending' });
    const note = h('span', { class: 'img-note' }, 'Loading…');
    frame.append(note);
    const src = image && typeof image.url === 'string' && image.url ? image.url : null;
    if (!src) {
      frame.classList.replace('pending', 'empty');
      note.textContent = 'No image';
      return frame;
    }
    let url;
    try {
      url = thumb ? thumbnailUrl(src) : new URL(src, location.href).href;
    } catch {
      frame.classList.replace('pending', 'empty');
      note.textContent = 'No image';
      return frame;
    }
    const img = h('img', { alt, loading: 'lazy', decoding: 'async' });
    if (hashAttr && image.hash) img.dataset.hash = text(image.hash);
    if (image.width && image.height) {
      img.width = Number(image.width) || 0;
      img.height = Number(image.height) || 0;
    }
    let firstFailure = 0;
    let timer = 0;
    const retry = () => {
      timer = 0;
      if (!img.isConnected) return; // the page moved on
      // Assigning the same URL starts a new request: a 503 is never cached.
      img.src = url;
    };
    img.addEventListener('load', () => {
      frame.classList.remove('pending', 'failed');
      note.remove();
    });
    img.addEventListener('error', () => {
      const now = Date.now();
      if (!firstFailure) firstFailure = now;
      if (now - firstFailure >= IMAGE_RETRY_FOR_MS) {
        frame.classList.replace('pending', 'failed');
        note.textContent = 'Image not available yet. Click to try again.';
        return;
      }
      note.textContent = 'Fetching from peers…';
      if (!timer) timer = setTimeout(retry, IMAGE_RETRY_MS);
    });
    frame.addEventListener('click', (event) => {
      if (!frame.classList.contains('failed')) return;
      event.preventDefault();
      event.stopPropagation();
      frame.classList.replace('failed', 'pending');
      note.textContent = 'Loading…';
      firstFailure = 0;
      retry();
    });
    img.src = url;
    frame.prepend(img);
    return frame;
  }

  // ------------------------------------------------------------ rich text render

  const INLINE_RE = new RegExp([
    '`([^`\\n]+)`', // 1 code
    '\\[([^\\]\\n]+)\\]\\(\\s*(https?:\\/\\/[^\\s)]+)\\s*\\)', // 2 text, 3 url
    '\\*\\*(\\S(?:[^\\n]*?\\S)?)\\*\\*', // 4 bold
    '__(\\S(?:[^\\n]*?\\S)?)__', // 5 bold
    '\\*(\\S(?:[^*\\n]*?\\S)?)\\*', // 6 italic
    '(?<![\\w])_(\\S(?:[^_\\n]*?\\S)?)_(?![\\w])', // 7 italic
    '(https?:\\/\\/[^\\s<>"\'()]*[^\\s<>"\'().,;:!?])', // 8 bare url
  ].join('|'), 'g');

  function appendInline(parent, source, inLink = false) {
    let last = 0;
    for (const m of source.matchAll(INLINE_RE)) {
      if (m.index > last) parent.append(source.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] != null) {
        parent.append(h('code', null, m[1]));
      } else if (m[2] != null) {
        const href = safeHttpUrl(m[3]);
        if (inLink || !href) appendInline(parent, m[2], inLink);
        else parent.append(appendInline(externalLink(href), m[2], true));
      } else if (m[4] != null || m[5] != null) {
        parent.append(appendInline(h('strong'), m[4] != null ? m[4] : m[5], inLink));
      } else if (m[6] != null || m[7] != null) {
        parent.append(appendInline(h('em'), m[6] != null ? m[6] : m[7], inLink));
      } else if (m[8] != null) {
        const href = safeHttpUrl(m[8]);
        parent.append(inLink || !href ? m[8] : externalLink(href, m[8]));
      }
    }
    if (last < source.length) parent.append(source.slice(last));
    return parent;
  }

  const FENCE_RE = /^\s*```/;
  const HEADING_RE = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const LIST_RE = /^\s*([-*+]|\d{1,9}[.)])\s+/;
  const QUOTE_RE = /^\s{0,3}>\s?/;
  const RULE_RE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

  // The Markdown that model cards use: paragraphs, line breaks, headings,
  // lists, quotes, code, **bold**, *italic*, `code` and http(s) links.
  function renderMarkdown(source) {
    const out = document.createDocumentFragment();
    const lines = source.replace(/\r\n?/g, '\n').split('\n');
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) {
        i += 1;
      } else if (FENCE_RE.test(line)) {
        const body = [];
        i += 1;
        while (i < lines.length && !FENCE_RE.test(lines[i])) body.push(lines[i++]);
        i += 1;
        out.append(h('pre', null, h('code', null, body.join('\n'))));
      } else if (RULE_RE.test(line)) {
        out.append(h('hr'));
        i += 1;
      } else if ((m = line.match(HEADING_RE))) {
        // The page's own h1/h2 come first, so Markdown headings start at h3.
        out.append(appendInline(h(`h${Math.min(6, m[1].length + 2)}`), m[2]));
        i += 1;
      } else if (LIST_RE.test(line)) {
        const list = h(/^\s*\d/.test(line) ? 'ol' : 'ul');
        while (i < lines.length && LIST_RE.test(lines[i])) {
          list.append(appendInline(h('li'), lines[i].replace(LIST_RE, '')));
          i += 1;
        }
        out.append(list);
      } else if (QUOTE_RE.test(line)) {
        const quoted = [];
        while (i < lines.length && QUOTE_RE.test(lines[i])) quoted.push(lines[i++].replace(QUOTE_RE, ''));
        out.append(h('blockquote', null, renderMarkdown(quoted.join('\n'))));
      } else {
        const p = h('p');
        do {
          if (p.firstChild) p.append(h('br'));
          appendInline(p, lines[i].trim());
          i += 1;
        } while (i < lines.length && lines[i].trim() && !startsBlock(lines[i]));
        out.append(p);
      }
    }
    return out;
  }

  function startsBlock(line) {
    return FENCE_RE.test(line) || RULE_RE.test(line) || HEADING_RE.test(line) || LIST_RE.test(line) || QUOTE_RE.test(line);
  }

  // Descriptions imported from Civitai are HTML. Parsing in a DOMParser
  // document runs no script and loads nothing; only whitelisted elements are
  // rebuilt here, with no attributes but a checked link target.
  const KEPT_TAGS = new Set(['P', 'BR', 'STRONG', 'B', 'EM', 'I', 'U', 'S', 'DEL', 'CODE', 'PRE', 'UL', 'OL', 'LI',
    'BLOCKQUOTE', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'A', 'HR', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD']);
  const DROPPED_TAGS = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'IFRAME', 'OBJECT', 'EMBED', 'NOSCRIPT', 'SVG', 'MATH',
    'TEXTAREA', 'SELECT', 'BUTTON', 'HEAD', 'TITLE']);
  const HTML_HINT_RE = /<\/(p|div|h[1-6]|ul|ol|li|strong|em|b|i|a|span|blockquote|pre|code)>|<br\s*\/?>/i;

  function renderSanitizedHtml(source) {
    const doc = new DOMParser().parseFromString(source, 'text/html');
    const out = document.createDocumentFragment();
    const copy = (from, to) => {
      for (const node of from.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) {
          to.append(node.data);
        } else if (node.nodeType === Node.ELEMENT_NODE && !DROPPED_TAGS.has(node.tagName)) {
          const tag = node.tagName;
          let el;
          if (!KEPT_TAGS.has(tag)) {
            el = null; // unwrap: keep the text, lose the element
          } else if (/^H[1-6]$/.test(tag)) {
            el = h(`h${Math.min(6, Number(tag[1]) + 2)}`);
          } else if (tag === 'A') {
            const href = safeHttpUrl(node.getAttribute('href'));
            el = href ? externalLink(href) : h('span');
          } else {
            el = h(tag.toLowerCase());
          }
          copy(node, el || to);
          if (el) to.append(el);
        }
      }
    };
    copy(doc.body, out);
    return out;
  }

  function richText(source, className = 'rich-text') {
    const box = h('div', { class: className });
    const value = text(source);
    box.append(HTML_HINT_RE.test(value) ? renderSanitizedHtml(value) : renderMarkdown(value));
    return box;
  }

  // ------------------------------------------------------------------ navigation

  const APP_PATH_RE = /^\/(?:|index\.html|images\/?|me|models\/[^/]+(?:\/[^/]*)?\/?|user\/[^/]+\/?)$/;

  function navigate(path, { replace = false } = {}) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    render();
    window.scrollTo(0, 0);
  }

  // In-app links change the page without reloading it.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest('a[href]');
    if (!link || link.target || link.hasAttribute('download')) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !APP_PATH_RE.test(url.pathname)) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });

  window.addEventListener('popstate', () => render());

  // One page at a time: leaving it aborts its requests and stops its observers,
  // so a slow answer for the previous page never lands on the next one.
  let currentPage = null;

  function startPage(title) {
    if (currentPage) currentPage.close();
    const controller = new AbortController();
    const cleanups = [];
    currentPage = {
      signal: controller.signal,
      onClose: (fn) => cleanups.push(fn),
      close: () => {
        controller.abort();
        for (const fn of cleanups.splice(0)) fn();
      },
    };
    document.title = title ? `${title} · Seedbank` : 'Seedbank';
    closeLightbox();
    app.replaceChildren();
    globalError.hidden = true;
    return currentPage;
  }

  function render() {
    const path = location.pathname;
    let m;
    if (path === '/' || path === '/index.html') return renderHome();
    if (/^\/images\/?$/.test(path)) return renderImages();
    if (path === '/me') return renderMe();
    // A non-numeric id still goes to the API, whose error says what is wrong.
    if ((m = path.match(/^\/models\/([^/]+)(?:\/[^/]*)?\/?$/))) return renderModel(decodeSegment(m[1]));
    if ((m = path.match(/^\/user\/([^/]+)\/?$/))) return renderCreator(decodeSegment(m[1]));
    return renderNotFound();
  }

  function decodeSegment(segment) {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment; // a stray % is just a character
    }
  }

  function renderNotFound() {
    startPage('Not found');
    app.append(h('div', { class: 'page' },
      h('div', { class: 'message' }, h('strong', null, 'No such page. '), 'Go back to ', h('a', { href: '/' }, 'the models'), '.')));
  }

  // ----------------------------------------------------------------------- feeds

  // A paged list: fetches the first page, then the next one whenever the
  // sentinel below the grid comes near the viewport, with a "Load more"
  // button for when IntersectionObserver does not fire.
  class Feed {
    constructor({ root, firstPath, renderItem, keyOf, emptyText, onItems, gridClass = 'card-grid' }) {
      this.renderItem = renderItem;
      this.keyOf = keyOf;
      this.emptyText = emptyText;
      this.onItems = onItems;
      this.next = firstPath;
      this.items = [];
      this.seen = new Set();
      this.loading = false;
      this.emptyPages = 0;
      this.controller = new AbortController();
      this.grid = h('div', { class: gridClass });
      this.status = h('div', { class: 'feed-status', 'aria-live': 'polite' });
      this.more = h('button', { type: 'button', class: 'btn load-more', hidden: true, onclick: () => this.load() }, 'Load more');
      this.sentinel = h('div', { class: 'feed-sentinel', 'aria-hidden': 'true' });
      this.element = h('div', { class: 'feed' }, this.grid, this.status, h('div', { class: 'feed-more' }, this.more), this.sentinel);
      root.append(this.element);
      if ('IntersectionObserver' in window) {
        this.observer = new IntersectionObserver((entries) => {
          if (entries.some((e) => e.isIntersecting)) this.load();
        }, { rootMargin: '0px 0px 800px 0px' });
        this.observer.observe(this.sentinel);
      }
      this.load();
    }

    destroy() {
      this.controller.abort();
      if (this.observer) this.observer.disconnect();
      this.next = null;
    }

    async load() {
      if (this.loading || !this.next) return;
      this.loading = true;
      this.more.disabled = true;
      this.status.replaceChildren(loadingBlock());
      const path = this.next;
      let page;
      try {
        page = await api(path, this.controller.signal);
      } catch (err) {
        if (isAbort(err)) return;
        this.loading = false;
        this.more.disabled = false;
        this.more.hidden = true;
        this.status.replaceChildren(errorBox(err.message, () => this.load()));
        return;
      }
      const fresh = [];
      for (const item of Array.isArray(page.items) ? page.items : []) {
        if (!item || typeof item !== 'object') continue;
        const key = this.keyOf(item);
        if (key != null && this.seen.has(key)) continue;
        if (key != null) this.seen.add(key);
        const index = this.items.push(item) - 1;
        fresh.push(item);
        this.grid.append(this.renderItem(item, index, this.items));
      }
      this.next = nextPagePath(path, page.metadata);
      // A cursor that does not move, or pages that keep coming back empty,
      // would otherwise be fetched forever.
      this.emptyPages = fresh.length ? 0 : this.emptyPages + 1;
      if (this.next === path || this.emptyPages >= 3) this.next = null;
      this.loading = false;
      this.more.disabled = false;
      this.more.hidden = !this.next;
      if (!this.items.length && !this.next) {
        this.status.replaceChildren(h('div', { class: 'empty-state' }, this.emptyText));
      } else if (!this.next && this.items.length > PAGE_SIZE) {
        this.status.replaceChildren(h('p', { class: 'feed-end' }, 'That is everything this node knows.'));
      } else {
        this.status.replaceChildren();
      }
      if (this.onItems && fresh.length) this.onItems(fresh);
      // The observer only fires on a change; if the sentinel is still in
      // view after this page (a tall screen), fetch on.
      if (this.next) {
        requestAnimationFrame(() => {
          const box = this.sentinel.getBoundingClientRect();
          if (this.sentinel.isConnected && box.top < window.innerHeight + 800) this.load();
        });
      }
    }
  }

  // ------------------------------------------------------------------ model card

  function firstImageOf(model) {
    for (const version of Array.isArray(model.modelVersions) ? model.modelVersions : []) {
      const images = Array.isArray(version && version.images) ? version.images : [];
      if (images.length) return images[0];
    }
    return null;
  }

  function creatorName(model) {
    return model.creator && model.creator.username ? text(model.creator.username) : '';
  }

  // A creator's page. Display names are not unique (any key can claim
  // any name), so links name the key whenever it is known.
  function userPath(username) {
    return `/user/${encodeURIComponent(username)}`;
  }

  function creatorKey(model) {
    const sb = model && model.seedbank && typeof model.seedbank === 'object' ? model.seedbank : {};
    if (typeof sb.creator === 'string' && sb.creator) return sb.creator;
    const first = Array.isArray(model && model.modelVersions) ? model.modelVersions[0] : null;
    return first && first.seedbank && typeof first.seedbank.creator === 'string' ? first.seedbank.creator : '';
  }

  function modelCard(model) {
    const href = `/models/${encodeURIComponent(text(model.id))}`;
    const version = (Array.isArray(model.modelVersions) && model.modelVersions[0]) || {};
    const image = firstImageOf(model);
    const stats = model.stats || {};
    const username = creatorName(model);
    const media = h('a', { class: 'card-media', href, tabindex: '-1', 'aria-hidden': 'true' },
      netImage(image, { alt: text(model.name) }),
      h('span', { class: 'card-badges' }, badge(text(model.type), 'badge-type'), model.nsfw && badge('NSFW', 'badge-nsfw')));
    if (image && image.nsfw) media.classList.add('nsfw');
    const card = h('article', {
      class: 'model-card',
      dataset: { modelId: text(model.id), type: text(model.type) },
    },
    media,
    h('div', { class: 'card-body' },
      h('h3', { class: 'model-name' }, h('a', { href }, text(model.name) || 'Untitled model')),
      h('div', { class: 'card-meta' },
        version.baseModel && h('span', { class: 'base-model' }, text(version.baseModel)),
        stars(stats.rating, stats.ratingCount),
        h('span', { class: 'downloads', title: 'Downloads' }, `↓ ${formatCount(stats.downloadCount)}`)),
      username && h('div', { class: 'card-creator' },
        h('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' }, username.slice(0, 1).toUpperCase()),
        h('a', { class: 'creator-link', href: userPath(creatorKey(model) || username) }, username))));
    // The whole card opens the model, except its own links and buttons.
    card.addEventListener('click', (event) => {
      if (event.defaultPrevented || event.target.closest('a, button')) return;
      navigate(href);
    });
    return card;
  }

  // ------------------------------------------------------------------------ home

  function readFilters() {
    const params = new URLSearchParams(location.search);
    return {
      query: params.get('query') || '',
      types: params.get('types') || '',
      baseModels: params.get('baseModels') || '',
      tag: params.get('tag') || '',
      sort: params.get('sort') || '',
    };
  }

  function filtersPath(filters) {
    return query('/', {
      query: filters.query,
      types: filters.types,
      baseModels: filters.baseModels,
      tag: filters.tag,
      sort: filters.sort === 'Newest' ? '' : filters.sort,
    });
  }

  function select(id, label, values, current, allLabel) {
    const options = allLabel ? [h('option', { value: '' }, allLabel)] : [];
    const list = [...values];
    if (current && !list.includes(current)) list.push(current); // keep a value from the URL visible
    for (const value of list) options.push(h('option', { value }, value));
    const control = h('select', { id, name: id }, options);
    control.value = current || (allLabel ? '' : values[0]);
    return h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, label), control);
  }

  function renderHome() {
    const page = startPage(null);
    const filters = readFilters();
    searchInput.value = filters.query;

    const typeField = select('filter-type', 'Type', MODEL_TYPES, filters.types, 'All types');
    const baseField = select('filter-base', 'Base model', COMMON_BASE_MODELS, filters.baseModels, 'All base models');
    const sortField = select('filter-sort', 'Sort', SORTS, filters.sort || 'Newest');
    const tagInput = h('input', { id: 'filter-tag', name: 'tag', type: 'text', placeholder: 'any tag', maxlength: '200', value: filters.tag });
    const tagField = h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Tag'), tagInput);
    const clear = h('button', { type: 'button', class: 'btn btn-ghost filter-clear' }, 'Clear filters');
    const bar = h('form', { class: 'filter-bar', role: 'search', 'aria-label': 'Filter models', onsubmit: (e) => e.preventDefault() },
      typeField, baseField, tagField, sortField, clear);
    const heading = h('div', { class: 'page-intro' },
      h('h1', null, 'Models'),
      h('p', { class: 'muted' }, 'Shared on the Seedbank network and served by this node.'));
    const feedRoot = h('section', { class: 'feed-root', 'aria-label': 'Models' });
    app.append(h('div', { id: 'home-page', class: 'page' }, heading, bar, feedRoot));

    const typeSelect = typeField.querySelector('select');
    const baseSelect = baseField.querySelector('select');
    const sortSelect = sortField.querySelector('select');

    // Base models seen in the results join the select's options.
    const addBaseModels = (models) => {
      const known = new Set([...baseSelect.options].map((o) => o.value));
      for (const model of models) {
        for (const version of Array.isArray(model.modelVersions) ? model.modelVersions : []) {
          const base = version && typeof version.baseModel === 'string' ? version.baseModel : '';
          if (base && !known.has(base)) {
            known.add(base);
            baseSelect.append(h('option', { value: base }, base));
          }
        }
      }
    };

    let feed = null;
    const startFeed = () => {
      if (feed) {
        feed.destroy();
        feed.element.remove();
      }
      const f = readFilters();
      clear.hidden = !(f.query || f.types || f.baseModels || f.tag || (f.sort && f.sort !== 'Newest'));
      feed = new Feed({
        root: feedRoot,
        firstPath: query('/api/v1/models', { limit: PAGE_SIZE, ...f }),
        renderItem: modelCard,
        keyOf: (model) => model.id,
        emptyText: clear.hidden
          ? 'No models yet. Publish one with `seedbank publish`, or wait for peers to gossip theirs.'
          : 'No models match these filters.',
        onItems: addBaseModels,
      });
    };
    page.onClose(() => feed && feed.destroy());

    // Filters live in the URL so a reload or a shared link shows the same list.
    const apply = ({ replace }) => {
      const next = {
        query: searchInput.value.trim(),
        types: typeSelect.value,
        baseModels: baseSelect.value,
        tag: tagInput.value.trim(),
        sort: sortSelect.value,
      };
      const path = filtersPath(next);
      if (path === location.pathname + location.search) return;
      if (replace) history.replaceState(null, '', path);
      else history.pushState(null, '', path);
      startFeed();
    };

    for (const control of [typeSelect, baseSelect, sortSelect]) control.addEventListener('change', () => apply({ replace: false }));
    let tagTimer = 0;
    tagInput.addEventListener('input', () => {
      clearTimeout(tagTimer);
      tagTimer = setTimeout(() => apply({ replace: true }), 400);
    });
    tagInput.addEventListener('change', () => {
      clearTimeout(tagTimer);
      apply({ replace: true });
    });
    page.onClose(() => clearTimeout(tagTimer));
    clear.addEventListener('click', () => {
      searchInput.value = '';
      tagInput.value = '';
      typeSelect.value = '';
      baseSelect.value = '';
      sortSelect.value = 'Newest';
      apply({ replace: false });
    });
    homeSearch = apply;
    page.onClose(() => { homeSearch = null; });
    startFeed();
  }

  // The header's search box: live on the home page, a jump to it elsewhere.
  let homeSearch = null;
  let searchTimer = 0;
  searchInput.addEventListener('input', () => {
    if (!homeSearch) return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => homeSearch && homeSearch({ replace: true }), 350);
  });
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    if (homeSearch) homeSearch({ replace: false });
    else navigate(query('/', { query: searchInput.value.trim() }));
  });

  // ---------------------------------------------------------------- model page

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

  function section(title, ...children) {
    return h('section', { class: 'panel' }, title && h('h2', { class: 'panel-title' }, title), ...children);
  }

  async function renderModel(id) {
    const page = startPage('Model');
    const root = h('div', { id: 'model-page', class: 'page', dataset: { modelId: id } }, loadingBlock('Loading model…'));
    app.append(root);
    let model;
    try {
      model = await api(`/api/v1/models/${encodeURIComponent(id)}`, page.signal);
    } catch (err) {
      if (isAbort(err)) return;
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
        stars(stats.rating, stats.ratingCount),
        h('span', { class: 'muted', title: 'Downloads' }, `↓ ${formatCount(stats.downloadCount)} downloads`)),
      tags.length > 0 && h('div', { class: 'tags' },
        tags.map((tag) => h('a', { class: 'tag', href: query('/', { tag }) }, tag))));

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
      body.replaceChildren(versionView(model, version, versionPage.signal));
    };
    page.onClose(() => versionPage && versionPage.abort());

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

  function versionView(model, version, signal) {
    const main = h('div', { class: 'model-main' });
    const side = h('aside', { class: 'model-side' });

    // Sample images first, as on Civitai; community images follow.
    const images = (Array.isArray(version.images) ? version.images : []).filter((i) => i && typeof i === 'object');
    const gallery = imageGrid(images, 'gallery');
    main.append(section('Images', images.length ? gallery : h('p', { class: 'muted' }, 'This version has no sample images.')));
    main.append(communitySection(version, images, signal));

    if (text(version.description).trim()) main.append(section('About this version', richText(version.description)));
    if (text(model.description).trim()) main.append(section('About this model', richText(model.description)));
    main.append(filesSection(version));
    const reviews = h('div');
    main.append(reviews);
    loadReviews(version, reviews, signal);

    const mirror = mirrorPanel(version);
    if (mirror) side.append(mirror);
    side.append(detailsPanel(version, favoriteSlot(version, signal)), licensePanel(model, version));
    const magnet = magnetPanel(version, signal);
    if (magnet) side.append(magnet);
    const resolve = resolvePanel(version);
    if (resolve) side.append(resolve);
    side.append(retractSlot(model, version, signal));
    return h('div', { class: 'model-layout', dataset: { versionId: text(version.id) } }, main, side);
  }

  // Favourites are this node's own list, so they need no signing key.
  function favoriteSlot(version, signal) {
    const slot = h('div', { class: 'version-actions' });
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
    }, (err) => {
      if (!signal.aborted) slot.append(actionsUnavailable(err));
    });
    return slot;
  }

  // Only the author's key can retract a release, so the button shows only
  // on a node whose identity signed this one.
  function retractSlot(model, version, signal) {
    const slot = h('div');
    const creator = version.seedbank && typeof version.seedbank.creator === 'string' ? version.seedbank.creator : '';
    me().then((mine) => {
      if (signal.aborted || !creator || mine.identity !== creator) return;
      const note = h('p', { class: 'muted', role: 'status' });
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
        h('p', { class: 'muted' }, 'Retracting asks every node to stop listing and seeding it.'), button, note));
    }, () => {});
    return slot;
  }

  function detailsPanel(version, actions) {
    const stats = version.stats || {};
    const file = primaryFile(version);
    const download = safeHttpUrl((file && file.downloadUrl) || version.downloadUrl);
    const words = (Array.isArray(version.trainedWords) ? version.trainedWords : []).filter((w) => typeof w === 'string' && w);
    const rows = [
      ['Version', text(version.name)],
      ['Base model', text(version.baseModel)],
      ['Created', formatDate(version.createdAt)],
      ['Downloads', formatCount(stats.downloadCount)],
      ['Rating', stars(stats.rating, stats.ratingCount)],
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

  function imageGrid(images, className, showUser = false) {
    const grid = h('div', { class: `image-grid ${className}` });
    images.forEach((image, index) => {
      grid.append(h('button', {
        type: 'button',
        class: 'image-tile',
        title: image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 200) : 'Show image details',
        onclick: () => openLightbox(images, index),
      },
      netImage(image, { alt: image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 120) : 'Sample image' }),
      showUser && image.username && h('span', { class: 'tile-user' }, text(image.username))));
    });
    return grid;
  }

  // Users' images made with this version, and the form to add one.
  function communitySection(version, samples, signal) {
    const images = h('div', { class: 'community-images' }, loadingBlock('Loading community images…'));
    const share = h('div', { class: 'community-share' });
    const reload = () => loadCommunityImages(version, samples, images, signal);
    me().then((mine) => {
      if (!signal.aborted) share.replaceChildren(mine.identity ? postForm(version, reload) : noKeyNote('share images'));
    }, () => {});
    reload();
    const box = section('Community images', images, share);
    box.id = 'community-images';
    return box;
  }

  async function loadCommunityImages(version, samples, box, signal) {
    // A sample image reposted by someone is shown once, as a sample.
    const known = new Set(samples.map((i) => text(i.hash).toLowerCase()).filter(Boolean));
    let data;
    try {
      data = await api(query('/api/v1/images', { modelVersionId: version.id, limit: 50 }), signal);
    } catch (err) {
      if (isAbort(err)) return;
      box.replaceChildren(h('p', { class: 'message error' }, err.message));
      return;
    }
    const extra = [];
    for (const image of Array.isArray(data.items) ? data.items : []) {
      if (!image || typeof image !== 'object') continue;
      const hash = text(image.hash).toLowerCase();
      if (hash && known.has(hash)) continue;
      if (hash) known.add(hash);
      extra.push(image);
    }
    box.replaceChildren(extra.length
      ? imageGrid(extra, 'community', true)
      : h('p', { class: 'muted' }, 'No one has shared an image made with this version yet.'));
  }

  // Share an image made with this version, signed with this node's key: the
  // file goes to the node first, then a signed post names it by its hash.
  function postForm(version, shared) {
    const file = h('input', { id: 'post-file', name: 'image', type: 'file', accept: SHAREABLE_TYPES.join(','), required: true });
    const caption = h('textarea', { id: 'post-caption', name: 'caption', rows: 2, maxlength: 16000 });
    const nsfw = h('input', { id: 'post-nsfw', name: 'nsfw', type: 'checkbox' });
    const note = h('p', { class: 'muted', role: 'status' });
    const limitNote = h('span', { class: 'muted' }, '(PNG, JPEG or WebP)');
    maxUploadBytes().then((limit) => {
      if (Number.isFinite(limit)) limitNote.textContent = `(PNG, JPEG or WebP, up to ${formatSize(limit / 1024)})`;
    });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign and share');
    const form = h('form', { class: 'stack-form', id: 'post-form' },
      h('h3', null, 'Share an image you made'),
      h('label', { for: 'post-file' }, 'Image ', limitNote), file,
      h('label', { for: 'post-caption' }, 'Caption ', h('span', { class: 'muted' }, '(optional)')), caption,
      h('label', { class: 'check', for: 'post-nsfw' }, nsfw, 'Not safe for work'),
      h('div', null, submit), note);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const chosen = file.files && file.files[0];
      if (!chosen) {
        note.textContent = 'Choose an image file first.';
        return;
      }
      submit.disabled = true;
      try {
        note.textContent = 'Uploading…';
        const image = await uploadImage(chosen);
        note.textContent = 'Signing…';
        await postJson('/api/seedbank/posts',
          { modelVersionId: version.id, image: image.sha256, caption: caption.value, nsfw: nsfw.checked });
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

  async function loadReviews(version, box, signal) {
    let data;
    try {
      data = await api(query('/api/seedbank/reviews', { modelVersionId: version.id }), signal);
    } catch (err) {
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
        text(r.review).trim() && h('p', { class: 'review-text' }, text(r.review)));
    }));
    const mine = await me().catch(() => null);
    box.replaceChildren(section('Ratings and reviews',
      h('div', { class: 'review-summary' }, stars(mean, count)),
      items.length ? list : h('p', { class: 'muted' }, 'No reviews of this version yet.'),
      mine && !mine.identity ? noKeyNote('rate this version') : rateForm(version, box, signal)));
  }

  // Rate with this node's identity key (the node signs; one rating per key,
  // a new one replaces it). The node refuses requests from other sites.
  function rateForm(version, box, signal) {
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
        await loadReviews(version, box, signal);
      } catch (err) {
        note.textContent = `Not rated: ${err.message}`;
        submit.disabled = false;
      }
    });
    return form;
  }

  // -------------------------------------------------------------------- lightbox

  const META_LABELS = {
    prompt: 'Prompt',
    negativePrompt: 'Negative prompt',
    sampler: 'Sampler',
    cfgScale: 'CFG scale',
    steps: 'Steps',
    seed: 'Seed',
    Size: 'Size',
    'Model hash': 'Model hash',
  };
  const META_ORDER = Object.keys(META_LABELS);

  let lightbox = null;

  function buildLightbox() {
    const dialog = h('dialog', { id: 'lightbox', class: 'lightbox', 'aria-label': 'Image details' });
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close(); // the backdrop
    });
    dialog.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowLeft') lightbox.step(-1);
      else if (event.key === 'ArrowRight') lightbox.step(1);
    });
    document.body.append(dialog);
    return {
      dialog,
      images: [],
      index: 0,
      step(delta) {
        if (this.images.length < 2) return;
        this.index = (this.index + delta + this.images.length) % this.images.length;
        showLightboxImage();
      },
    };
  }

  function openLightbox(images, index) {
    if (!lightbox) lightbox = buildLightbox();
    lightbox.images = images;
    lightbox.index = index;
    showLightboxImage();
    if (!lightbox.dialog.open) lightbox.dialog.showModal();
  }

  function closeLightbox() {
    if (lightbox && lightbox.dialog.open) lightbox.dialog.close();
  }

  function metaValue(value) {
    if (value != null && typeof value === 'object') return h('code', { class: 'meta-json' }, JSON.stringify(value, null, 1));
    return text(value);
  }

  function showLightboxImage() {
    const { dialog, images, index } = lightbox;
    const image = images[index];
    const meta = image.meta && typeof image.meta === 'object' ? image.meta : null;
    const keys = meta ? Object.keys(meta).filter((k) => meta[k] != null && meta[k] !== '') : [];
    keys.sort((a, b) => {
      const ra = META_ORDER.indexOf(a);
      const rb = META_ORDER.indexOf(b);
      return (ra < 0 ? META_ORDER.length : ra) - (rb < 0 ? META_ORDER.length : rb);
    });
    const prompt = meta && meta.prompt != null ? text(meta.prompt) : '';
    const full = safeHttpUrl(image.url);
    const many = images.length > 1;
    dialog.replaceChildren(
      h('div', { class: 'lightbox-inner' },
        h('div', { class: 'lightbox-stage' },
          netImage(image, { thumb: false, alt: prompt.slice(0, 120) || 'Image', hashAttr: false }),
          many && h('button', { type: 'button', class: 'lightbox-nav prev', 'aria-label': 'Previous image', onclick: () => lightbox.step(-1) }, '‹'),
          many && h('button', { type: 'button', class: 'lightbox-nav next', 'aria-label': 'Next image', onclick: () => lightbox.step(1) }, '›')),
        h('div', { class: 'lightbox-info' },
          h('div', { class: 'lightbox-top' },
            h('h2', null, 'Generation data'),
            h('button', { type: 'button', class: 'btn btn-ghost btn-small lightbox-close', 'aria-label': 'Close', onclick: () => dialog.close() }, '✕')),
          h('p', { class: 'muted' },
            [image.width && image.height ? `${image.width}×${image.height}` : '',
              image.username ? `posted by ${text(image.username)}` : '',
              many ? `${index + 1} of ${images.length}` : ''].filter(Boolean).join(' · ')),
          h('div', { class: 'lightbox-actions' },
            prompt && copyButton(prompt, 'Copy prompt'),
            full && externalLink(full, 'Open full image')),
          keys.length
            ? h('dl', { class: 'meta' }, keys.map((key) => h('div', { class: 'meta-row', dataset: { metaKey: key } },
              h('dt', null, META_LABELS[key] || key),
              h('dd', { class: key === 'prompt' || key === 'negativePrompt' ? 'meta-prompt' : '' }, metaValue(meta[key])))))
            : h('p', { class: 'muted' }, 'No generation data came with this image.'))));
  }

  // ------------------------------------------------------------------ creator

  async function renderCreator(username) {
    const page = startPage(username);
    const profile = h('section', { class: 'profile' }, loadingBlock('Loading profile…'));
    const feedRoot = h('section', { class: 'feed-root', 'aria-label': `Models by ${username}` });
    app.append(h('div', { id: 'creator-page', class: 'page', dataset: { username } },
      profile, h('h2', { class: 'section-title' }, 'Models'), feedRoot));

    const feed = new Feed({
      root: feedRoot,
      firstPath: query('/api/v1/models', { username, limit: PAGE_SIZE }),
      renderItem: modelCard,
      keyOf: (model) => model.id,
      emptyText: `This node knows no models by ${username}.`,
    });
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

  // ------------------------------------------------------------------- images

  function renderImages() {
    const page = startPage('Images');
    const feedRoot = h('section', { class: 'feed-root', 'aria-label': 'Images' });
    app.append(h('div', { id: 'images-page', class: 'page' },
      h('div', { class: 'page-intro' }, h('h1', null, 'Images'),
        h('p', { class: 'muted' }, 'Sample and community images of the models this node knows.')),
      feedRoot));
    const feed = new Feed({
      root: feedRoot,
      firstPath: query('/api/v1/images', { limit: 50 }),
      gridClass: 'image-grid',
      keyOf: (image) => (image.hash ? text(image.hash).toLowerCase() : null),
      emptyText: 'No images yet.',
      renderItem: (image, index, all) => h('button', {
        type: 'button',
        class: 'image-tile',
        onclick: () => openLightbox(all, index),
      }, netImage(image, { alt: image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 120) : 'Image' }),
      image.username && h('span', { class: 'tile-user' }, text(image.username))),
    });
    page.onClose(() => feed.destroy());
  }

  // ------------------------------------------------------------------------ me

  async function renderMe() {
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
    root.replaceChildren(
      h('div', { class: 'page-intro' }, h('h1', null, 'You'),
        h('p', { class: 'muted' }, 'This node\'s identity, and the favourites and follows it keeps for you alone.')),
      h('div', { class: 'me-grid' },
        identityPanel(mine),
        section('Favourites', ownList('favorite-list', 'No favourites yet: use ☆ Favourite on a model page.',
          favorites.map((f) => favoriteItem(f, page.signal)))),
        section('Following', ownList('follow-list', 'You follow no one yet: use Follow on a creator\'s page.',
          follows.map((key) => followItem(key, page.signal)))),
        exportPanel()));
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

  // --------------------------------------------------------------------- start

  // A bug here must still leave something readable on the page.
  window.addEventListener('error', (event) => {
    if (event.error) showGlobalError(event.error.message || String(event.error));
  });
  window.addEventListener('unhandledrejection', (event) => {
    if (!isAbort(event.reason)) showGlobalError(event.reason && event.reason.message ? event.reason.message : String(event.reason));
  });

  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  render();
})();
