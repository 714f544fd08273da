// One page at a time, chosen by the address: in-app links change the page
// without reloading it, and leaving a page aborts its requests.

import { h, hideGlobalError } from './dom.js';
import { closeLightbox } from './images.js';

export const app = document.getElementById('app');
let routes = [];

// [[pattern, (match) => render], ...]: the first pattern the path matches
// renders the page; none gives the not-found page.
export function setRoutes(table) {
  routes = table;
}

export function navigate(path, { replace = false } = {}) {
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
  if (url.origin !== location.origin || !routes.some(([pattern]) => pattern.test(url.pathname))) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render());

// One page at a time: leaving it aborts its requests and stops its observers,
// so a slow answer for the previous page never lands on the next one.
let currentPage = null;

export function startPage(title) {
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
  hideGlobalError();
  return currentPage;
}

export function render() {
  const path = location.pathname;
  for (const [pattern, show] of routes) {
    const m = path.match(pattern);
    if (m) return show(m);
  }
  return renderNotFound();
}

export function decodeSegment(segment) {
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
