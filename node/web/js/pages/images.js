// The Images page: the image feed, newest first: releases' sample images
// and people's posts of what they made, each its own item.

import { query } from '../api.js';
import { h } from '../dom.js';
import { Feed } from '../feed.js';
import { imageKey, imageTile } from '../images.js';
import { app, startPage } from '../router.js';

export function renderImages() {
  const page = startPage('Images');
  const feedRoot = h('section', { class: 'feed-root', 'aria-label': 'Images' });
  app.append(h('div', { id: 'images-page', class: 'page' },
    h('div', { class: 'page-intro' }, h('h1', null, 'Images'),
      h('p', { class: 'muted' }, 'Sample images of new releases and what people made with them, newest first.')),
    feedRoot));
  const feed = new Feed({
    root: feedRoot,
    firstPath: query('/api/v1/images', { limit: 50 }),
    gridClass: 'image-grid',
    keyOf: imageKey,
    emptyText: 'No images yet.',
    renderItem: imageTile,
  });
  page.onClose(() => feed.destroy());
}
