// Seedbank gallery: pages over this node's Civitai-compatible API, as ES
// modules with no framework and no build step: the node embeds node/web/
// as it is (node/embed_web.cmake), or serves it from disk with
// `seedbank node --web-dir` while the gallery is being worked on.

import { isAbort } from './api.js';
import { showGlobalError } from './dom.js';
import { renderCollection, renderCollections } from './pages/collection.js';
import { renderCreator } from './pages/creator.js';
import { renderHome, wireSearch } from './pages/home.js';
import { renderImages } from './pages/images.js';
import { renderMe } from './pages/me.js';
import { renderModel } from './pages/model.js';
import { renderPublish } from './pages/publish.js';
import { renderTag, renderTags } from './pages/tags.js';
import { renderTrends } from './pages/trends.js';
import { decodeSegment, render, setRoutes } from './router.js';

// A bug here must still leave something readable on the page.
window.addEventListener('error', (event) => {
  if (event.error) showGlobalError(event.error.message || String(event.error));
});
window.addEventListener('unhandledrejection', (event) => {
  if (!isAbort(event.reason)) showGlobalError(event.reason && event.reason.message ? event.reason.message : String(event.reason));
});

// A non-numeric model id still goes to the API, whose error says what is wrong.
setRoutes([
  [/^\/(?:index\.html)?$/, () => renderHome()],
  [/^\/images\/?$/, () => renderImages()],
  [/^\/me$/, () => renderMe()],
  [/^\/models\/([^/]+)(?:\/[^/]*)?\/?$/, (m) => renderModel(decodeSegment(m[1]))],
  [/^\/user\/([^/]+)\/?$/, (m) => renderCreator(decodeSegment(m[1]))],
  [/^\/collections\/?$/, () => renderCollections()],
  [/^\/collections\/([^/]+)\/?$/, (m) => renderCollection(decodeSegment(m[1]))],
  [/^\/tags\/?$/, () => renderTags()],
  [/^\/tag\/([^/]+)\/?$/, (m) => renderTag(decodeSegment(m[1]))],
  [/^\/trends\/?$/, () => renderTrends()],
  [/^\/publish\/?$/, () => renderPublish(new URLSearchParams(location.search))],
]);
wireSearch();
if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
render();
