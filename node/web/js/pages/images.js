// The Images page: the image feed, newest first or by most reactions or
// comments, over a period: releases' sample images and people's posts of
// what they made, each its own item. The choice is in the address
// (?sort=&period=), so a link shares it.

import { query } from '../api.js';
import { h } from '../dom.js';
import { Feed } from '../feed.js';
import { imageKey, imageTile } from '../images.js';
import { app, startPage } from '../router.js';

// Civitai's /api/v1/images names, as the API takes them.
const SORTS = [['Newest', 'Newest'], ['Most Reactions', 'Most reactions'], ['Most Comments', 'Most comments']];
const PERIODS = [['AllTime', 'All time'], ['Year', 'Past year'], ['Month', 'Past month'], ['Week', 'Past week'],
  ['Day', 'Past day']];

function choice(id, label, values, current) {
  const control = h('select', { id, name: id },
    values.map(([value, name]) => h('option', { value, selected: value === current }, name)));
  return { control, field: h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, label), control) };
}

export function renderImages() {
  const page = startPage('Images');
  const params = new URLSearchParams(location.search);
  const known = (values, value) => (values.some(([v]) => v === value) ? value : values[0][0]);
  const sort = choice('images-sort', 'Sort', SORTS, known(SORTS, params.get('sort')));
  const period = choice('images-period', 'Period', PERIODS, known(PERIODS, params.get('period')));
  const feedRoot = h('section', { class: 'feed-root', 'aria-label': 'Images' });
  app.append(h('div', { id: 'images-page', class: 'page' },
    h('div', { class: 'page-intro' }, h('h1', null, 'Images'),
      h('p', { class: 'muted' }, 'Sample images of new releases and what people made with them.')),
    h('div', { class: 'filter-bar' }, sort.field, period.field),
    feedRoot));
  let feed = null;
  const start = () => {
    if (feed) feed.destroy();
    feedRoot.replaceChildren();
    const chosen = { sort: sort.control.value, period: period.control.value };
    feed = new Feed({
      root: feedRoot,
      firstPath: query('/api/v1/images', {
        limit: 50,
        sort: chosen.sort === 'Newest' ? undefined : chosen.sort,
        period: chosen.period === 'AllTime' ? undefined : chosen.period,
      }),
      gridClass: 'image-grid',
      keyOf: imageKey,
      emptyText: chosen.period === 'AllTime' ? 'No images yet.' : 'No images in this period.',
      renderItem: imageTile,
    });
  };
  const choose = () => {
    const next = new URLSearchParams();
    if (sort.control.value !== 'Newest') next.set('sort', sort.control.value);
    if (period.control.value !== 'AllTime') next.set('period', period.control.value);
    const search = next.toString();
    history.replaceState(null, '', `/images${search ? `?${search}` : ''}`);
    start();
  };
  sort.control.addEventListener('change', choose);
  period.control.addEventListener('change', choose);
  start();
  page.onClose(() => {
    if (feed) feed.destroy();
  });
}
