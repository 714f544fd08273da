// Images: a frame that waits for an image the node may still be fetching
// from peers, image grids, and the lightbox with the generation data,
// reactions and comments.

import { api, isAbort, me } from './api.js';
import { addToCollection } from './collect.js';
import { copyButton, externalLink, h, safeHttpUrl, text } from './dom.js';
import { imageLevel, levelName, nsfwMode } from './nsfw.js';
import { commentsPanel, imageSubject, reactionBar, tileStats } from './social.js';

const THUMB_WIDTH = 450;
// A 503 means the node is fetching the image from peers; it usually lands
// within seconds, so poll at the server's Retry-After pace for a minute.
const IMAGE_RETRY_MS = 2000;
const IMAGE_RETRY_FOR_MS = 60000;

function thumbnailUrl(src) {
  const url = new URL(src, location.href);
  url.searchParams.set('width', String(THUMB_WIDTH));
  return url.href;
}

// An <img> (a <video> for a video) in a frame that shows a placeholder
// until it arrives. The node answers 503 while it fetches an image from
// peers, so a failed load is retried every 2 s for a minute; after that a
// click tries again. The mature content setting (nsfw.js) applies: a hidden
// level is never fetched, a blurred one shows when clicked. A video is its
// own thumbnail: muted, looping, played while the pointer is on it; with
// `thumb` false it plays at once, with controls.
export function netImage(image, { thumb = true, alt = '', hashAttr = true } = {}) {
  const frame = h('div', { class: 'img-frame pending' });
  const note = h('span', { class: 'img-note' }, 'Loading…');
  frame.append(note);
  const src = image && typeof image.url === 'string' && image.url ? image.url : null;
  if (!src) {
    frame.classList.replace('pending', 'empty');
    note.textContent = 'No image';
    return frame;
  }
  const isVideo = image.type === 'video';
  let url;
  try {
    url = thumb && !isVideo ? thumbnailUrl(src) : new URL(src, location.href).href;
  } catch {
    frame.classList.replace('pending', 'empty');
    note.textContent = 'No image';
    return frame;
  }
  const mode = nsfwMode(image);
  const rated = `Rated ${levelName(imageLevel(image))}`;
  frame.dataset.nsfw = mode;
  if (image.hash) frame.dataset.imageHash = text(image.hash);
  if (mode === 'hide') {
    frame.classList.replace('pending', 'nsfw-hidden');
    note.textContent = `Hidden: ${rated}`;
    frame.title = 'Your mature content setting hides this level; change it on the You page';
    return frame;
  }
  const img = isVideo
    ? h('video', { 'aria-label': alt || 'Video', preload: 'metadata', playsinline: true, loop: true, controls: !thumb })
    : h('img', { alt, loading: 'lazy', decoding: 'async' });
  if (isVideo) {
    img.muted = true;
    if (thumb) {
      frame.addEventListener('mouseenter', () => img.play().catch(() => {}));
      frame.addEventListener('mouseleave', () => img.pause());
    } else {
      img.autoplay = true;
    }
  }
  if (hashAttr && image.hash) img.dataset.hash = text(image.hash);
  if (mode === 'blur') {
    // The first click shows it, instead of opening what the frame is in.
    frame.classList.add('nsfw-blurred');
    const label = h('span', { class: 'nsfw-label' }, `${rated} · click to show`);
    frame.append(label);
    frame.addEventListener('click', (event) => {
      if (!frame.classList.contains('nsfw-blurred')) return;
      event.preventDefault();
      event.stopPropagation();
      frame.classList.remove('nsfw-blurred');
      frame.dataset.nsfw = 'shown';
      label.remove();
    }, { capture: true });
  }
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
  img.addEventListener(isVideo ? 'loadedmetadata' : 'load', () => {
    frame.classList.remove('pending', 'failed');
    note.remove();
  });
  // A video the node serves (200) that still fails is one this browser
  // cannot play (its codec): say so instead of waiting for it.
  // (A 503 gives the same error, so a video that has just arrived is
  // loaded once more before it is called unplayable.)
  let servedButFailed = 0;
  const unplayable = () => {
    frame.classList.replace('pending', 'failed');
    frame.classList.add('unplayable');
    const open = externalLink(url, 'Open it');
    open.addEventListener('click', (event) => event.stopPropagation()); // not the tile's viewer too
    note.replaceChildren('This browser cannot play this video. ', open);
  };
  img.addEventListener('error', () => {
    if (isVideo && img.error && img.error.code === 4) {
      fetch(url, { method: 'HEAD' }).then((response) => {
        if (!response.ok) onFailure();
        else if ((servedButFailed += 1) >= 2) unplayable();
        else retry();
      }, onFailure);
      return;
    }
    onFailure();
  });
  function onFailure() {
    if (frame.classList.contains('unplayable')) return;
    const now = Date.now();
    if (!firstFailure) firstFailure = now;
    if (now - firstFailure >= IMAGE_RETRY_FOR_MS) {
      frame.classList.replace('pending', 'failed');
      note.textContent = 'Image not available yet. Click to try again.';
      return;
    }
    note.textContent = 'Fetching from peers…';
    if (!timer) timer = setTimeout(retry, IMAGE_RETRY_MS);
  }
  frame.addEventListener('click', (event) => {
    if (!frame.classList.contains('failed') || frame.classList.contains('unplayable')) return;
    event.preventDefault();
    event.stopPropagation();
    frame.classList.replace('failed', 'pending');
    note.textContent = 'Loading…';
    firstFailure = 0;
    retry();
  });
  frame.prepend(img);
  if (isVideo && thumb && 'IntersectionObserver' in window) {
    // A grid of videos fetches each one only when it comes into view.
    const seen = new IntersectionObserver((entries) => {
      if (!entries.some((entry) => entry.isIntersecting)) return;
      seen.disconnect();
      img.src = url;
    });
    seen.observe(frame);
  } else {
    img.src = url;
  }
  return frame;
}

export function imageGrid(images, className, showUser = false) {
  const grid = h('div', { class: `image-grid ${className}` });
  images.forEach((image, index) => {
    grid.append(h('button', {
      type: 'button',
      class: 'image-tile',
      title: nsfwMode(image) !== 'hide' && image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 200) : 'Show image details',
      onclick: () => openLightbox(images, index),
    },
    netImage(image, { alt: image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 120) : 'Sample image' }),
    tileStats(image.stats),
    showUser && image.username && h('span', { class: 'tile-user' }, text(image.username))));
  });
  return grid;
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
    // Arrows move the caret in a comment being written, not the image.
    if (event.target.closest('textarea, input, select')) return;
    if (event.key === 'ArrowLeft') lightbox.step(-1);
    else if (event.key === 'ArrowRight') lightbox.step(1);
  });
  // An image's reactions and comments stop loading when it goes.
  dialog.addEventListener('close', () => lightbox.social && lightbox.social.abort());
  document.body.append(dialog);
  return {
    dialog,
    images: [],
    index: 0,
    social: null,
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

export function closeLightbox() {
  if (lightbox && lightbox.dialog.open) lightbox.dialog.close();
}

// The generation data as AUTOMATIC1111 writes it into a PNG ("parameters"),
// which its PNG Info tab and Civitai's "Copy generation data" read back:
// the prompt, "Negative prompt: ...", then "Key: value" pairs on one line.
// ComfyUI's graphs (objects) stay out: they are not part of that text.
function a1111Parameters(meta) {
  if (!meta || typeof meta !== 'object') return '';
  const lines = [];
  if (meta.prompt != null && text(meta.prompt)) lines.push(text(meta.prompt));
  if (meta.negativePrompt != null && text(meta.negativePrompt)) lines.push(`Negative prompt: ${text(meta.negativePrompt)}`);
  const named = new Map([['steps', 'Steps'], ['sampler', 'Sampler'], ['cfgScale', 'CFG scale'], ['seed', 'Seed']]);
  const skip = new Set(['prompt', 'negativePrompt', 'comfy', 'workflow', 'resources', 'hashes', 'civitaiResources']);
  const pairs = [];
  for (const [key, value] of Object.entries(meta)) {
    if (skip.has(key) || value == null || value === '' || typeof value === 'object') continue;
    let v = text(value);
    // A1111 quotes a value that holds its separators.
    if (/[,:\n]/.test(v) && !/^".*"$/.test(v)) v = JSON.stringify(v);
    pairs.push(`${named.get(key) || key}: ${v}`);
  }
  if (pairs.length) lines.push(pairs.join(', '));
  return lines.join('\n');
}

// An image is an item of the record naming it (a release or a post): a
// post of the same bytes as a sample image is another item.
export function imageKey(image) {
  return [image.postId != null ? 'post' : 'version', text(image.postId ?? image.modelVersionId),
    text(image.hash).toLowerCase()].join(' ');
}

// One image of a feed (the Images page, the You page): a tile that opens
// the viewer on the feed's images, with the poster's name, and the caption
// as its title.
export function imageTile(image, index, all) {
  const hidden = nsfwMode(image) === 'hide';
  return h('button', {
    type: 'button',
    class: 'image-tile',
    dataset: image.postId != null ? { postId: text(image.postId) } : null,
    title: (!hidden && text(image.caption).slice(0, 200)) || null,
    onclick: () => openLightbox(all, index),
  }, netImage(image, { alt: !hidden && image.meta && image.meta.prompt ? text(image.meta.prompt).slice(0, 120) : 'Image' }),
  tileStats(image.stats),
  image.username && h('span', { class: 'tile-user' }, text(image.username)));
}

const RESOURCE_TYPES = { model: 'Checkpoint', lora: 'LoRA', embed: 'Embedding', vae: 'VAE', hypernet: 'Hypernetwork' };

// The models, LoRAs, embeddings and VAEs the generation data names by hash
// (meta.resources), each looked up on the network by that hash: a link to
// its model page when a release has it, else its name and hash.
function resourcesList(resources, signal) {
  const list = h('ul', { class: 'resources', id: 'lightbox-resources' });
  for (const resource of resources.slice(0, 32)) {
    if (!resource || typeof resource !== 'object') continue;
    const hash = text(resource.hash).toLowerCase();
    if (!/^[0-9a-f]{8,64}$/.test(hash)) continue;
    const name = h('span', { class: 'resource-name' }, text(resource.name) || hash);
    const status = h('span', { class: 'muted resource-status' }, 'Looking it up…');
    list.append(h('li', { class: 'resource', dataset: { hash } },
      h('span', { class: 'resource-type' }, (Object.hasOwn(RESOURCE_TYPES, resource.type) ? RESOURCE_TYPES[resource.type] : text(resource.type)) || 'Resource'),
      name,
      typeof resource.weight === 'number' && Number.isFinite(resource.weight) && h('span', { class: 'muted' }, `weight ${resource.weight}`),
      status));
    api(`/api/v1/model-versions/by-hash/${hash}`, signal).then((version) => {
      if (!Number.isSafeInteger(version.modelId) || !Number.isSafeInteger(version.id)) throw new Error('no ids');
      const model = version.model && typeof version.model === 'object' ? text(version.model.name) : '';
      name.replaceWith(h('a', {
        class: 'resource-name',
        href: `/models/${version.modelId}?modelVersionId=${version.id}`,
        title: hash,
        onclick: () => closeLightbox(),
      }, [model, text(version.name)].filter(Boolean).join(' · ') || hash));
      status.remove();
    }, (err) => {
      if (isAbort(err)) return;
      status.textContent = err.status === 404 ? `${hash}: no release on this network has it` : `${hash}: could not look it up`;
    });
  }
  return list;
}

function metaValue(value) {
  if (value != null && typeof value === 'object') return h('code', { class: 'meta-json' }, JSON.stringify(value, null, 1));
  return text(value);
}

// "Add to a collection" for the image shown, once the node says it has a
// key to sign with (collections are signed).
function collectSlot(subject, signal) {
  const slot = h('div', { class: 'lightbox-collect' });
  me().then((mine) => {
    if (!signal.aborted && mine.identity) slot.append(addToCollection(subject, mine.identity, signal, 'lightbox-collection'));
  }, () => {});
  return slot;
}

function showLightboxImage() {
  const { dialog, images, index } = lightbox;
  const image = images[index];
  // A level the mature content setting hides shows nothing of the image:
  // no prompt, no caption, no link to the file.
  const hidden = nsfwMode(image) === 'hide';
  const meta = !hidden && image.meta && typeof image.meta === 'object' ? image.meta : null;
  const keys = meta ? Object.keys(meta).filter((k) => meta[k] != null && meta[k] !== '' && k !== 'resources') : [];
  const resources = meta && Array.isArray(meta.resources) ? meta.resources : [];
  keys.sort((a, b) => {
    const ra = META_ORDER.indexOf(a);
    const rb = META_ORDER.indexOf(b);
    return (ra < 0 ? META_ORDER.length : ra) - (rb < 0 ? META_ORDER.length : rb);
  });
  const prompt = meta && meta.prompt != null ? text(meta.prompt) : '';
  const full = hidden ? null : safeHttpUrl(image.url);
  const many = images.length > 1;
  const parameters = a1111Parameters(meta);
  // The model the image belongs to, unless this is its page already.
  const modelId = Number.isSafeInteger(image.modelId) ? image.modelId : null;
  const modelHref = modelId == null ? null
    : `/models/${modelId}${Number.isSafeInteger(image.modelVersionId) ? `?modelVersionId=${image.modelVersionId}` : ''}`;
  const onModelPage = modelId != null && location.pathname.split('/')[2] === String(modelId);
  if (lightbox.social) lightbox.social.abort();
  lightbox.social = new AbortController();
  const { signal } = lightbox.social;
  // What people think of it, unless the mature content setting hides it:
  // comments can say what the image shows.
  const subject = hidden ? null : imageSubject(image);
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
        !hidden && text(image.caption).trim() && h('p', { class: 'lightbox-caption' }, text(image.caption)),
        subject && reactionBar(subject, { id: 'lightbox-reactions', stats: image.stats, signal }),
        subject && collectSlot(subject, signal),
        h('div', { class: 'lightbox-actions' },
          prompt && copyButton(prompt, 'Copy prompt'),
          parameters && copyButton(parameters, 'Copy generation data', 'Copy the prompt and settings as AUTOMATIC1111 writes them'),
          modelHref && !onModelPage && h('a', { class: 'btn btn-ghost btn-small lightbox-model', href: modelHref,
            onclick: () => closeLightbox() }, 'Open model'),
          full && externalLink(full, image.type === 'video' ? 'Open full video' : 'Open full image')),
        resources.length > 0 && h('div', { class: 'lightbox-resources' },
          h('h3', null, 'Resources used'),
          resourcesList(resources, signal)),
        keys.length
          ? h('dl', { class: 'meta' }, keys.map((key) => h('div', { class: 'meta-row', dataset: { metaKey: key } },
            h('dt', null, Object.hasOwn(META_LABELS, key) ? META_LABELS[key] : key),
            h('dd', { class: key === 'prompt' || key === 'negativePrompt' ? 'meta-prompt' : '' }, metaValue(meta[key])))))
          : h('p', { class: 'muted' }, hidden
            ? `Hidden: your mature content setting hides ${levelName(imageLevel(image))} images (change it on the You page).`
            : 'No generation data came with this image.'),
        subject && h('div', { class: 'lightbox-social' },
          h('h3', null, 'Comments'),
          commentsPanel(subject, { id: 'lightbox-comments', signal, compact: true })))));
}
