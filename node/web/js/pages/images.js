// The Images page: the image feed, newest first: releases' sample images
// and people's posts of what they made, each its own item.

import { query } from '../api.js';
import { h, text } from '../dom.js';
import { Feed } from '../feed.js';
import { netImage, openLightbox } from '../images.js';
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
    // An image is an item of the record naming it: a post of the same
    // bytes as a sample image is another item.
    keyOf: (image) => [image.postId != null ? 'post' : 'version', text(image.postId ?? image.modelVersionId),
      text(image.hash).toLowerCase()].join(' '),
    emptyText: 'No images yet.',
    renderItem: (image, index, all) => h('button', {
      type: 'button',
      class: 'image-tile',
      dataset: image.postId != null ? { postId: text(image.postId) } : null,
      title: text(image.caption).slice(0, 200) || null,
      onclick: () => openLightbox(all, index),
    }, netImage(image, { alt: image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 120) : 'Image' }),
    image.username && h('span', { class: 'tile-user' }, text(image.username))),
  });
  page.onClose(() => feed.destroy());
}
