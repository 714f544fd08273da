// Publish from the gallery (/publish, or /publish?version=ID for a new
// version of one of your models): model files uploaded in chunks that
// resume after a dropped connection, or named by their path on this
// machine; sample images with the generation data read from them; every
// field `seedbank publish` takes, filled in from the files' own metadata
// and an optional .civitai.info. The node signs what the form sends with
// the same code as the command (POST /api/seedbank/releases).

import { api, me, names, postJson } from '../api.js';
import { errorBox, formatSize, h, loadingBlock, section, text } from '../dom.js';
import { app, navigate, startPage } from '../router.js';

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
const USES = ['Image', 'RentCivit', 'Rent', 'Sell'];
const USE_LABELS = { Image: 'Sell images made with it', RentCivit: 'Run it on Civitai', Rent: 'Run it on paid services', Sell: 'Sell it or merges of it' };
const RETRIES = 3; // a chunk that fails is sent again this many times before the page waits for Resume
const POLL_MS = 400;

function mib(bytes) {
  return formatSize(Number(bytes) / 1024);
}

function sleep(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

// Sends a chunk; resolves to the node's view of the upload. A refusal
// carries the node's {error, received}.
async function sendChunk(id, offset, blob) {
  const response = await fetch(`/api/seedbank/uploads/${encodeURIComponent(id)}?offset=${offset}`, {
    method: 'POST', headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json' }, body: blob,
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data && typeof data.error === 'string' ? data.error : `HTTP ${response.status}`);
    error.status = response.status;
    error.received = data && Number.isFinite(data.received) ? data.received : null;
    throw error;
  }
  return data;
}

// One file of the release: uploaded from this browser (`file`) or named
// by its path on the node's machine (`path`).
class Entry {
  constructor({ file = null, path = '', kind, onChange }) {
    this.file = file;
    this.path = path;
    this.kind = kind; // 'model', 'image' or 'info'
    this.name = file ? file.name : path.split('/').pop();
    this.size = file ? file.size : 0;
    this.id = '';
    this.received = 0;
    this.state = path ? 'ready' : 'waiting'; // waiting, uploading, stopped, ready
    this.error = '';
    this.meta = null; // an image's generation data, from the node's preview
    this.onChange = onChange;
    this.progress = h('progress', { max: String(Math.max(1, this.size)), value: '0' });
    this.status = h('span', { class: 'muted upload-status', role: 'status' });
    this.resume = h('button', { type: 'button', class: 'btn btn-small upload-resume', hidden: true }, 'Resume');
    this.resume.addEventListener('click', () => this.upload());
    this.remove = h('button', { type: 'button', class: 'btn btn-small btn-ghost' }, 'Remove');
    this.details = h('div', { class: 'upload-details' });
    this.row = h('li', { class: 'upload-row', dataset: { kind, name: this.name } },
      h('div', { class: 'upload-head' },
        kind === 'image' && file ? h('img', { src: URL.createObjectURL(file), alt: '', class: 'upload-thumb' }) : null,
        h('strong', { class: 'upload-name' }, this.name),
        h('span', { class: 'muted' }, file ? mib(this.size) : `on this machine: ${path}`),
        this.remove),
      file ? this.progress : null, h('div', { class: 'btn-row' }, this.status, this.resume), this.details);
    this.show();
  }

  body() {
    return this.file ? { upload: this.id } : { path: this.path };
  }

  show() {
    this.progress.value = String(this.received);
    this.resume.hidden = this.state !== 'stopped';
    const percent = this.size ? Math.floor((this.received * 100) / this.size) : 100;
    this.row.dataset.state = this.state;
    this.status.textContent = {
      waiting: 'Waiting to upload…',
      uploading: `Uploading: ${mib(this.received)} of ${mib(this.size)} (${percent}%)`,
      stopped: `Upload stopped at ${percent}%: ${this.error}`,
      ready: this.file ? 'Uploaded' : 'Read by the node when you publish',
    }[this.state];
    this.onChange();
  }

  // Uploads what the node does not have yet, a chunk at a time, from where
  // the node says it is: after a dropped connection, a reload of the page
  // (an unfinished upload of the same file is taken up) or a restart of
  // the node.
  async upload() {
    if (!this.file || !['waiting', 'stopped'].includes(this.state)) return;
    this.state = 'uploading';
    this.error = '';
    this.show();
    let chunk = 16 << 20;
    try {
      if (!this.id) {
        const pending = await api('/api/seedbank/uploads');
        const same = (pending.items || []).find((u) => u.name === this.file.name && u.size === this.file.size &&
          u.modified === this.file.lastModified && !u.publishing);
        const made = same || await postJson('/api/seedbank/uploads',
          { name: this.file.name, size: this.file.size, modified: this.file.lastModified });
        this.id = made.id;
        if (this.state === 'removed') { // removed while the node made it
          await this.cancel();
          return;
        }
        this.received = Number(made.received) || 0;
        if (Number(pending.chunkBytes) > 0) chunk = Number(pending.chunkBytes);
      } else {
        this.received = Number((await api(`/api/seedbank/uploads/${encodeURIComponent(this.id)}`)).received) || 0;
      }
      let failures = 0;
      while (this.received < this.size && this.state === 'uploading') {
        const end = Math.min(this.size, this.received + chunk);
        try {
          const now = await sendChunk(this.id, this.received, this.file.slice(this.received, end));
          this.received = Number(now.received);
          failures = 0;
        } catch (err) {
          if (err.status && err.status !== 409) throw err; // refused: the node says why
          failures += 1;
          if (failures > RETRIES) throw err;
          if (err.received != null) {
            this.received = err.received;
          } else {
            await sleep(500 * failures);
            // The chunk may have arrived with its answer lost: ask.
            const state = await api(`/api/seedbank/uploads/${encodeURIComponent(this.id)}`).catch(() => null);
            if (state) this.received = Number(state.received) || 0;
          }
        }
        this.show();
      }
      if (this.state !== 'uploading') return; // removed, or the page was left
      this.state = 'ready';
    } catch (err) {
      this.state = 'stopped';
      this.error = err.message;
      if (err.status === 404) this.id = ''; // gone from the node: Resume starts again
    }
    this.show();
  }

  async cancel() {
    this.state = 'removed';
    if (this.id) await fetch(`/api/seedbank/uploads/${encodeURIComponent(this.id)}`, { method: 'DELETE' }).catch(() => {});
    if (this.file && this.kind === 'image') {
      const img = this.row.querySelector('img');
      if (img) URL.revokeObjectURL(img.src);
    }
  }
}

function field(id, label, input, hint) {
  return [h('label', { for: id }, label, hint ? h('span', { class: 'muted' }, ` (${hint})`) : null), input];
}

export async function renderPublish(params) {
  const page = startPage('Publish');
  const root = h('div', { id: 'publish-page', class: 'page' }, loadingBlock());
  app.append(root);
  let mine;
  let known;
  let previous = null;
  const versionId = params.get('version');
  try {
    [mine, known] = await Promise.all([me(), names()]);
    if (versionId) previous = await api(`/api/v1/model-versions/${encodeURIComponent(versionId)}`, page.signal);
  } catch (err) {
    if (page.signal.aborted) return;
    root.replaceChildren(errorBox(err.message, () => renderPublish(params)));
    return;
  }
  if (page.signal.aborted) return;
  if (!mine.identity) {
    root.replaceChildren(h('div', { class: 'page-intro' }, h('h1', null, 'Publish'),
      h('p', { class: 'muted' }, 'To publish, this node needs a signing key: run ', h('code', null, 'seedbank keygen'),
        ' on its data dir, then reload this page.')));
    return;
  }
  const entries = [];
  const inputs = {};
  const touched = new Set(); // fields the user changed: a preview never overwrites them
  const text1 = (id, value = '') => {
    inputs[id] = h('input', { id: `publish-${id}`, name: id, type: 'text', value });
    return inputs[id];
  };
  const area = (id, rows) => {
    inputs[id] = h('textarea', { id: `publish-${id}`, name: id, rows: String(rows) });
    return inputs[id];
  };
  const check = (id, label, checked) => {
    inputs[id] = h('input', { id: `publish-${id}`, name: id, type: 'checkbox', checked });
    return h('label', { class: 'check', for: `publish-${id}` }, inputs[id], label);
  };
  inputs.type = h('select', { id: 'publish-type', name: 'type' }, h('option', { value: '' }, 'From the file'),
    known.types.map((t) => h('option', { value: t }, t)));
  const baseList = h('datalist', { id: 'publish-base-models' }, known.baseModels.map((b) => h('option', { value: b })));
  inputs.nsfwLevel = h('select', { id: 'publish-nsfwLevel', name: 'nsfwLevel' }, h('option', { value: '' }, 'PG (or R with NSFW)'),
    [['1', 'PG'], ['2', 'PG-13'], ['4', 'R'], ['8', 'X'], ['16', 'XXX']].map(([v, l]) => h('option', { value: v }, l)));
  const uses = USES.map((u) => check(`use-${u}`, USE_LABELS[u], false));

  const modelList = h('ul', { class: 'upload-list', id: 'publish-files' });
  const imageList = h('ul', { class: 'upload-list', id: 'publish-images' });
  const infoList = h('ul', { class: 'upload-list', id: 'publish-info' });
  const preview = h('div', { class: 'publish-preview', role: 'status' });
  const note = h('p', { class: 'muted', role: 'status', id: 'publish-note' });
  const bar = h('progress', { id: 'publish-progress', max: '1', value: '0', hidden: true });
  const submit = h('button', { type: 'submit', id: 'publish-submit', class: 'btn btn-primary' }, versionId ? 'Publish this version' : 'Publish');

  let previewAsked = 0;
  let previewed = false; // the permissions shown are the preview's (or the user's), not the page's defaults
  const refresh = () => {
    const busy = entries.some((e) => e.state !== 'ready');
    submit.disabled = busy || !entries.some((e) => e.kind === 'model');
  };
  // What the node would sign for these files: fills the fields the user
  // has not changed, and shows the images' generation data.
  const askPreview = async () => {
    const models = entries.filter((e) => e.kind === 'model' && e.state === 'ready');
    if (!models.length) return;
    const asked = ++previewAsked;
    try {
      const typed = {};
      for (const id of ['name', 'version', 'baseModel']) if (touched.has(id) && inputs[id].value.trim()) typed[id] = inputs[id].value.trim();
      if (inputs.type.value) typed.type = inputs.type.value;
      if (inputs.allowUnsafe.checked) typed.allowUnsafe = true;
      const data = await postJson('/api/seedbank/releases', { ...filesBody(true), ...typed, dryRun: true,
        ...(versionId ? { supersedes: Number(versionId), name: text(previous.model && previous.model.name) } : {}) });
      if (asked !== previewAsked || page.signal.aborted) return;
      const fill = (id, value) => {
        if (!touched.has(id) && inputs[id]) inputs[id].value = value;
      };
      previewed = true;
      fill('name', text(data.name));
      fill('version', text(data.version));
      fill('type', text(data.type));
      fill('baseModel', text(data.baseModel));
      fill('description', text(data.description));
      fill('modelDescription', text(data.modelDescription));
      fill('tags', (data.tags || []).join(', '));
      fill('trainedWords', (data.trainedWords || []).join('\n'));
      fill('license', text(data.license));
      for (const [id, key] of [['allowDerivatives', 'allowDerivatives'], ['allowNoCredit', 'allowNoCredit'],
        ['allowDifferentLicense', 'allowDifferentLicense'], ['nsfw', 'nsfw']]) {
        if (!touched.has(id)) inputs[id].checked = data[key] === true;
      }
      for (const u of USES) if (!touched.has(`use-${u}`)) inputs[`use-${u}`].checked = (data.allowCommercialUse || []).includes(u);
      const images = (data.files || []).filter((f) => f.kind === 'image');
      entries.filter((e) => e.kind === 'image').forEach((e, i) => showMeta(e, images[i]));
      const sup = data.supersedes;
      preview.replaceChildren(...[
        sup && h('p', { id: 'publish-supersedes' }, 'A new version of ', h('strong', null, `${text(sup.model)} ${text(sup.version)}`), '.'),
        ...(data.warnings || []).map((w) => h('p', { class: 'message warning' }, text(w)))].filter(Boolean));
    } catch (err) {
      if (asked === previewAsked && !page.signal.aborted) preview.replaceChildren(h('p', { class: 'message error' }, err.message));
    }
  };
  const showMeta = (entry, info) => {
    const meta = info && info.meta && typeof info.meta === 'object' ? info.meta : null;
    entry.details.replaceChildren(meta
      ? h('dl', { class: 'upload-meta' },
        [['Prompt', meta.prompt], ['Negative prompt', meta.negativePrompt], ['Sampler', meta.sampler],
          ['Steps', meta.steps], ['CFG scale', meta.cfgScale], ['Seed', meta.seed]]
          .filter(([, v]) => v != null && v !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, text(v))]))
      : h('p', { class: 'muted' }, 'No generation data in this image.'));
  };
  const changed = () => {
    refresh();
  };
  const addEntry = (options, list) => {
    const entry = new Entry({ ...options, onChange: changed });
    entries.push(entry);
    list.append(entry.row);
    entry.remove.addEventListener('click', async () => {
      entries.splice(entries.indexOf(entry), 1);
      entry.row.remove();
      refresh();
      await entry.cancel();
      askPreview();
    });
    refresh();
    const done = entry.file ? entry.upload() : Promise.resolve();
    done.then(() => { if (entry.state === 'ready') askPreview(); });
    return entry;
  };
  // The files as the node knows them (a preview: only those that are
  // there whole; publishing waits for all of them).
  const filesBody = (readyOnly = false) => {
    const of = (kind) => entries.filter((e) => e.kind === kind && (!readyOnly || e.state === 'ready')).map((e) => e.body());
    return { files: of('model'), images: of('image'), civitaiInfo: of('info')[0] || null };
  };

  // Choosing and dropping files.
  const modelInput = h('input', { type: 'file', id: 'publish-file-input', multiple: true });
  modelInput.addEventListener('change', () => {
    for (const file of modelInput.files) addEntry({ file, kind: 'model' }, modelList);
    modelInput.value = '';
  });
  const pathInput = h('input', { type: 'text', id: 'publish-path', placeholder: '/home/you/models/file.safetensors' });
  const pathAdd = h('button', { type: 'button', class: 'btn', id: 'publish-path-add' }, 'Add');
  pathAdd.addEventListener('click', () => {
    const path = pathInput.value.trim();
    if (!path) return;
    addEntry({ path, kind: 'model' }, modelList);
    pathInput.value = '';
  });
  const imageInput = h('input', { type: 'file', id: 'publish-image-input', multiple: true, accept: IMAGE_TYPES.join(',') });
  const imageNote = h('p', { class: 'muted', role: 'status' });
  const addImages = (files) => {
    imageNote.textContent = '';
    for (const file of files) {
      if (file.type && !IMAGE_TYPES.includes(file.type)) {
        imageNote.textContent = `${file.name} is ${file.type}; sample images are PNG, JPEG or WebP.`;
        continue;
      }
      addEntry({ file, kind: 'image' }, imageList);
    }
  };
  imageInput.addEventListener('change', () => {
    addImages([...imageInput.files]);
    imageInput.value = '';
  });
  const drop = h('div', { class: 'drop-zone', id: 'publish-image-drop' }, 'Drop sample images here, or ', imageInput);
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    addImages([...event.dataTransfer.files]);
  });
  const infoInput = h('input', { type: 'file', id: 'publish-info-input', accept: '.info,.json,application/json' });
  infoInput.addEventListener('change', () => {
    for (const e of entries.filter((x) => x.kind === 'info')) e.remove.click();
    if (infoInput.files[0]) addEntry({ file: infoInput.files[0], kind: 'info' }, infoList);
    infoInput.value = '';
  });

  const form = h('form', { class: 'stack-form publish-form', id: 'publish-form' },
    ...field('publish-name', 'Model name', text1('name', previous ? text(previous.model && previous.model.name) : '')),
    ...field('publish-version', 'Version name', text1('version')),
    ...field('publish-type', 'Type', inputs.type),
    ...field('publish-baseModel', 'Base model', text1('baseModel')), baseList,
    ...field('publish-modelDescription', 'About this model', area('modelDescription', 5), 'Markdown'),
    ...field('publish-description', 'About this version', area('description', 4), 'Markdown'),
    ...field('publish-tags', 'Tags', text1('tags'), 'comma-separated'),
    ...field('publish-trainedWords', 'Trigger words', area('trainedWords', 3), 'one per line'),
    ...field('publish-license', 'License', text1('license')),
    h('fieldset', { class: 'publish-permissions' }, h('legend', null, 'Permissions'),
      check('allowNoCredit', 'Use without crediting me', true),
      check('allowDerivatives', 'Share merges of it', true),
      check('allowDifferentLicense', 'Share merges under another license', true),
      ...uses),
    check('nsfw', 'Mature content (NSFW)', false),
    ...field('publish-nsfwLevel', 'Sample images rated', inputs.nsfwLevel),
    h('details', null, h('summary', null, 'Advanced'),
      ...field('publish-trackers', 'Trackers', area('trackers', 2), 'announce URLs, one per line'),
      check('v2Only', 'BitTorrent v2 only (no v1 pieces)', false),
      check('allowUnsafe', 'Accept pickle files (.ckpt, .pt), marked unsafe', false)),
    preview,
    h('div', { class: 'btn-row' }, submit), bar, note);
  inputs.baseModel.setAttribute('list', 'publish-base-models');
  if (previous) {
    inputs.name.readOnly = true; // a version of the same model
    touched.add('name');
    inputs.type.value = text(previous.model && previous.model.type);
    inputs.baseModel.value = text(previous.baseModel);
    touched.add('type');
    touched.add('baseModel');
  }
  form.addEventListener('input', (event) => {
    if (event.target && event.target.name) touched.add(event.target.name);
  });
  form.addEventListener('change', (event) => {
    if (event.target && event.target.name) touched.add(event.target.name);
    // What the preview depends on: its warnings, and a pickle file accepted.
    if (event.target === inputs.type || event.target === inputs.allowUnsafe) askPreview();
    if (event.target && event.target.id && event.target.id.startsWith('publish-use-')) touched.add(event.target.name);
  });
  for (const u of USES) inputs[`use-${u}`].name = `use-${u}`;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const lines = (value, separator) => value.split(separator).map((s) => s.trim()).filter(Boolean);
    const body = {
      ...filesBody(),
      name: inputs.name.value.trim(),
      version: inputs.version.value.trim(),
      type: inputs.type.value,
      baseModel: inputs.baseModel.value.trim(),
      description: inputs.description.value,
      modelDescription: inputs.modelDescription.value,
      license: inputs.license.value.trim(),
      tags: lines(inputs.tags.value, ','),
      trainedWords: lines(inputs.trainedWords.value, '\n'),
      trackers: lines(inputs.trackers.value, '\n'),
      nsfw: inputs.nsfw.checked,
      nsfwLevel: inputs.nsfwLevel.value ? Number(inputs.nsfwLevel.value) : null,
      v2Only: inputs.v2Only.checked,
      allowUnsafe: inputs.allowUnsafe.checked,
      supersedes: versionId ? Number(versionId) : null,
    };
    // Permissions as shown, once a preview filled them in or the user set
    // them; before that the node decides as `seedbank publish` does (from
    // the .civitai.info, else open), never the page's defaults.
    if (previewed || USES.some((u) => touched.has(`use-${u}`))) {
      const uses = USES.filter((u) => inputs[`use-${u}`].checked);
      body.allowCommercialUse = uses.length ? uses : ['None'];
    }
    for (const id of ['allowNoCredit', 'allowDerivatives', 'allowDifferentLicense']) {
      if (previewed || touched.has(id)) body[id] = inputs[id].checked;
    }
    submit.disabled = true;
    note.textContent = 'Checking…';
    try {
      const { job } = await postJson('/api/seedbank/releases', body);
      bar.hidden = false;
      let misses = 0;
      for (;;) {
        let state;
        try {
          state = await api(`/api/seedbank/releases/jobs/${encodeURIComponent(job)}`);
          misses = 0;
        } catch (err) {
          // The job goes on without the page: ask again, for a while.
          misses += 1;
          if (misses > 20) throw new Error(`${err.message}; the release may still be published: see the You page`);
          await sleep(1000);
          continue;
        }
        if (state.state === 'done') {
          const r = state.result;
          const href = `/models/${r.modelId}?modelVersionId=${r.modelVersionId}`;
          const warnings = (Array.isArray(r.warnings) ? r.warnings : []).filter((w) => typeof w === 'string');
          bar.hidden = true;
          if (warnings.length) { // said once, here: the release's page does not repeat them
            note.replaceChildren(r.alreadyPublished ? 'Already published. ' : 'Published. ',
              h('a', { href, id: 'publish-open' }, 'Open the release'),
              ...warnings.map((w) => h('span', { class: 'message warning' }, w)));
            return;
          }
          note.textContent = r.alreadyPublished ? 'Already published: opening it…' : 'Published: opening it…';
          if (!page.signal.aborted) navigate(href);
          return;
        }
        if (state.state === 'failed') throw new Error(state.error);
        bar.max = String(Math.max(1, Number(state.total) || 1));
        bar.value = String(Number(state.done) || 0);
        note.textContent = state.state === 'hashing'
          ? `Hashing: ${mib(state.done)} of ${mib(state.total)}`
          : 'Storing, signing and announcing…';
        await sleep(POLL_MS);
      }
    } catch (err) {
      note.textContent = `Not published: ${err.message}`;
      bar.hidden = true;
      refresh();
    }
  });

  const title = previous ? `New version of ${text(previous.model && previous.model.name)}` : 'Publish a model';
  page.onClose(() => { for (const e of entries) if (e.state === 'uploading') e.state = 'stopped'; });
  root.replaceChildren(
    h('div', { class: 'page-intro' }, h('h1', null, title),
      h('p', { class: 'muted' }, 'Your key signs the release, and this node seeds it to everyone. ' +
        'The same checks and the same signed record as ', h('code', null, 'seedbank publish'), '.')),
    h('div', { class: 'publish-grid' },
      h('div', null,
        section('Model files', h('p', { class: 'muted' }, 'The first is the main file. Large files go up in pieces; ' +
          'if the connection drops, Resume goes on from where it stopped.'),
        h('label', { for: 'publish-file-input', class: 'btn' }, 'Choose files'), modelInput, modelList,
        h('div', { class: 'path-row' }, h('label', { for: 'publish-path' }, 'Or a file on this machine:'), pathInput, pathAdd)),
        section('Sample images', drop, imageNote, imageList),
        section('Civitai info (optional)', h('p', { class: 'muted' }, 'A .civitai.info or model-version JSON fills in the fields below.'),
          infoInput, infoList)),
      section('About the release', form)));
  refresh();
}
