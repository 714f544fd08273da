// The node's API as the gallery uses it: GET and POST with errors a person
// can act on, this node's user (/api/seedbank/me), and the names the node
// knows (/api/v1/enums), each fetched once per page load.

import { formatSize } from './dom.js';

class ApiError extends Error {}

// GET a JSON endpoint; any failure becomes an ApiError whose message a
// person can act on. AbortError passes through so callers can ignore it.
export async function api(path, signal) {
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

export function isAbort(err) {
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

export function postJson(path, body) {
  return post(path, JSON.stringify(body), 'application/json');
}

export const SHAREABLE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
// Short videos: what a post may be besides an image, within the same limit.
export const SHAREABLE_VIDEO_TYPES = ['video/mp4', 'video/webm'];

// The node's limit: the largest image that travels over gossip, from
// /api/seedbank/me. Checked here too, because the node closes the
// connection on a larger body and the browser then reports a network
// error instead of its message.
export async function maxUploadBytes() {
  const mine = await me().catch(() => null);
  const limit = Number(mine && mine.limits && mine.limits.imageBytes);
  return Number.isFinite(limit) && limit > 0 ? limit : Infinity;
}

// Stores an image file (or with `videos`, a short video) on this node
// without publishing it; resolves to {sha256, width, height, mimeType, meta}.
export async function uploadImage(file, { videos = false } = {}) {
  const types = videos ? [...SHAREABLE_TYPES, ...SHAREABLE_VIDEO_TYPES] : SHAREABLE_TYPES;
  if (file.type && !types.includes(file.type)) {
    throw new ApiError(`${file.name} is ${file.type}; choose a PNG, JPEG or WebP image${videos ? ', or an MP4 or WebM video' : ''}`);
  }
  const limit = await maxUploadBytes();
  if (file.size > limit) {
    throw new ApiError(`${file.name} is ${formatSize(file.size / 1024)}; this node takes images and videos up to ${formatSize(limit / 1024)}`);
  }
  return post('/api/seedbank/images', file, file.type || 'application/octet-stream');
}

// ------------------------------------------------------------- this node's user

// {identity, username, favorites, follows}, fetched once per page load and
// again after forgetMe(), which every change calls.
let mePromise = null;

export function me() {
  if (!mePromise) {
    const asked = api('/api/seedbank/me').catch((err) => {
      if (mePromise === asked) mePromise = null; // the next caller asks again
      throw err;
    });
    mePromise = asked;
  }
  return mePromise;
}

export function forgetMe() {
  mePromise = null;
}

// The names this node knows ({types, baseModels}), as Civitai spells them,
// from /api/v1/enums: the filters and forms offer what the node takes
// rather than a copy of its lists.
let namesPromise = null;

export function names() {
  if (!namesPromise) {
    const asked = api('/api/v1/enums').then((data) => {
      const list = (value) => (Array.isArray(value) ? value.filter((v) => typeof v === 'string' && v) : []);
      return { types: list(data.ModelType), baseModels: list(data.BaseModel) };
    });
    asked.catch(() => {
      if (namesPromise === asked) namesPromise = null; // the next caller asks again
    });
    namesPromise = asked;
  }
  return namesPromise;
}

export function isFavorite(favorites, versionId) {
  return Array.isArray(favorites) && favorites.some((f) => f && String(f.modelVersionId) === String(versionId));
}

export function query(path, params) {
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
export function nextPagePath(currentPath, metadata) {
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
