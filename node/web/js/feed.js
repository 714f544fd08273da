// Paged lists of models or images.

import { api, isAbort, nextPagePath } from './api.js';
import { errorBox, h, loadingBlock } from './dom.js';

export const PAGE_SIZE = 20;

// A paged list: fetches the first page, then the next one whenever the
// sentinel below the grid comes near the viewport, with a "Load more"
// button for when IntersectionObserver does not fire. `endText` closes a
// list of more than a page (null: nothing, for a list that is a selection).
export class Feed {
  constructor({ root, firstPath, renderItem, keyOf, emptyText, onItems, gridClass = 'card-grid',
    endText = 'That is everything this node knows.' }) {
    this.renderItem = renderItem;
    this.keyOf = keyOf;
    this.emptyText = emptyText;
    this.endText = endText;
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
    // (A page may come back empty while the cursor moves on: the node looks
    // at a bounded number of records a request, and policy may hide them.)
    this.emptyPages = fresh.length ? 0 : this.emptyPages + 1;
    if (this.next === path || this.emptyPages >= 20) this.next = null;
    this.loading = false;
    this.more.disabled = false;
    this.more.hidden = !this.next;
    if (!this.items.length && !this.next) {
      this.status.replaceChildren(h('div', { class: 'empty-state' }, this.emptyText));
    } else if (!this.next && this.items.length > PAGE_SIZE && this.endText) {
      this.status.replaceChildren(h('p', { class: 'feed-end' }, this.endText));
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
