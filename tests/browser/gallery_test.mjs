#!/usr/bin/env node
// Drives a running node's web gallery in headless Chromium the way a person
// would: home grid, type and base-model filters (every name the node knows),
// model page, image details with "Copy generation data", a rating with a
// Markdown review that updates the figures in place, a reaction to the
// version and a comment thread on it (write, reply, edit, delete), a
// reaction to a sample image in the image viewer, a favourite and the /me
// page that lists it, the favourites published as a collection and a
// version added to a new one (both signed for good: "Test picks" and "From
// the page"), sharing an image made with the model, the creator
// page with its follow button, a search from the header box, the tag index
// with its filter box, a tag's page reached from there and from a model's
// tag chip, its author editing the page of a model this node's key
// published, and an unknown model's not-found page.
//
//   node tests/browser/gallery_test.mjs --base http://127.0.0.1:PORT \
//        --expect EXPECT.json --out OUTDIR
//
// EXPECT.json: {"models": [{"name", "type", "sha256", "autoV2", "imageHash"}],
//               "filterType": "LORA",
//               "search": {"query", "finds", "misses"},
//               "tags": {"<tag>": ["<name of every model that has it>"], ...},
//               "own": {"name"},
//               "resources": {"sha256", "models": ["<name>", ...]}}
// "search": a search whose results list the model named "finds" and not
// the one named "misses". "tags": tags with every model that has each;
// the first one's page and chip are followed. Without them the script
// expects the data of tests/integration/http_test.cpp's Gallery fixture
// (FIXTURE_SEARCH, FIXTURE_TAGS below). "own" (optional): a model the
// node's own key published, with at least one sample image, whose page the
// test edits (its description, tags and images change for good); without
// it that step is skipped. "resources" (optional): a post in the image
// feed whose generation data names, by hash, the models listed: its viewer
// links each one's page. "publish" (optional): {"name", "model": a model
// file larger than one chunk (16 MiB), "version2": another model file on
// the node's machine, "images": [a PNG, a JPEG]}, published from the
// gallery (see the publish step); without it that step is skipped.
// The node needs an identity key (`seedbank keygen` on its data dir) to sign
// the shared image. That image is tests/fixtures/images/comfyui.png, found
// from this file's own path; no expected model may use it as a sample image.
// Progress goes to stderr; the last stdout line is a one-line JSON summary.
// Exit 0 when every step passed, 1 when one failed, 2 on bad arguments.
// Chromium is Debian's /usr/bin/chromium (env CHROMIUM overrides): the test
// never downloads a browser.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// playwright-core from tests/browser/node_modules (npm install there); ES
// module imports ignore NODE_PATH, so a CommonJS require that honours it is
// the fallback for a test that points NODE_PATH at another install.
async function loadChromium() {
  try {
    return (await import('playwright-core')).chromium;
  } catch (importError) {
    try {
      return createRequire(import.meta.url)('playwright-core').chromium;
    } catch {
      process.stderr.write(`cannot load playwright-core (${importError.message}); run npm install in tests/browser or set NODE_PATH\n`);
      process.stdout.write(`${JSON.stringify({ ok: false, failedStep: 'setup', error: 'playwright-core not installed' })}\n`);
      process.exit(1);
    }
  }
}
const chromium = await loadChromium();

const IMAGE_TIMEOUT_MS = 30000; // images may first answer 503 while the node fetches them
const PAGE_TIMEOUT_MS = 30000;
// An image with ComfyUI generation data that no release uses as a sample.
const SHARED_IMAGE = fileURLToPath(new URL('../fixtures/images/comfyui.png', import.meta.url));
// A short WebM with ComfyUI generation data (tests/fixtures/make_video_fixtures.sh).
const SHARED_VIDEO = fileURLToPath(new URL('../fixtures/videos/vhs.webm', import.meta.url));
// http_test.cpp's Gallery fixture: "anim" is a prefix of Alpha LoRA's tag
// and of nothing of Beta Checkpoint's; each model has one tag.
const FIXTURE_SEARCH = { query: 'anim', finds: 'Alpha LoRA', misses: 'Beta Checkpoint' };
const FIXTURE_TAGS = { anime: ['Alpha LoRA'], photo: ['Beta Checkpoint'] };

function usage(message) {
  process.stderr.write(`${message}\nusage: node gallery_test.mjs --base http://127.0.0.1:PORT --expect EXPECT.json --out OUTDIR\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i];
    if (!['--base', '--expect', '--out'].includes(key)) usage(`unknown argument ${key}`);
    if (i + 1 >= argv.length) usage(`${key} needs a value`);
    args[key.slice(2)] = argv[(i += 1)];
  }
  for (const key of ['base', 'expect', 'out']) if (!args[key]) usage(`--${key} is required`);
  args.base = args.base.replace(/\/+$/, '');
  return args;
}

async function readExpect(file) {
  let data;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    usage(`${file}: ${err.message}`);
  }
  if (!Array.isArray(data.models) || !data.models.length) usage(`${file}: "models" must be a non-empty array`);
  for (const [i, m] of data.models.entries()) {
    if (!m || typeof m.name !== 'string' || typeof m.type !== 'string') usage(`${file}: models[${i}] needs "name" and "type"`);
  }
  if (typeof data.filterType !== 'string' || !data.models.some((m) => m.type === data.filterType)) {
    usage(`${file}: "filterType" must be the type of at least one expected model`);
  }
  const search = data.search ?? FIXTURE_SEARCH;
  if (!search || !['query', 'finds', 'misses'].every((k) => typeof search[k] === 'string' && search[k])) {
    usage(`${file}: "search" must be {"query", "finds", "misses"}, each a non-empty string`);
  }
  const tags = data.tags ?? FIXTURE_TAGS;
  const tagEntries = tags && typeof tags === 'object' ? Object.entries(tags) : [];
  if (!tagEntries.length || !tagEntries.every(([t, models]) => t && Array.isArray(models) && models.length &&
      models.every((m) => typeof m === 'string' && m))) {
    usage(`${file}: "tags" must map each tag to the non-empty list of the models that have it`);
  }
  if (data.own != null && (typeof data.own !== 'object' || typeof data.own.name !== 'string' || !data.own.name)) {
    usage(`${file}: "own" must be {"name"}, the name of a model the node's key published`);
  }
  if (data.publish != null && (typeof data.publish !== 'object' || typeof data.publish.model !== 'string' ||
      typeof data.publish.version2 !== 'string' || typeof data.publish.name !== 'string' ||
      !Array.isArray(data.publish.images) || data.publish.images.length !== 2)) {
    usage(`${file}: "publish" must be {"name", "model", "version2", "images": [two image paths]}`);
  }
  if (data.resources != null && (typeof data.resources !== 'object' || typeof data.resources.sha256 !== 'string' ||
      !Array.isArray(data.resources.models) || !data.resources.models.length)) {
    usage(`${file}: "resources" must be {"sha256", "models": [names]}, a post and the models its generation data names`);
  }
  return { ...data, search, tags };
}

class StepFailure extends Error {}

// Polls `check` (which returns {ok, seen}) until ok or the deadline; the
// failure names what was last seen, so a red run says what the page showed.
async function until(what, check, timeoutMs = PAGE_TIMEOUT_MS, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last = { ok: false, seen: 'nothing yet' };
  for (;;) {
    try {
      last = await check();
    } catch (err) {
      last = { ok: false, seen: `error while checking: ${err.message.split('\n')[0]}` };
    }
    if (last.ok) return last;
    if (Date.now() >= deadline) {
      throw new StepFailure(`timed out after ${timeoutMs / 1000}s waiting for ${what}; saw ${JSON.stringify(last.seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const same = (a, b) => String(a || '').trim().toLowerCase() === String(b || '').trim().toLowerCase();

// What the grid shows: every card's id, type, name and first image state.
function readCards(page, rootSelector = 'body') {
  return page.evaluate((root) => [...document.querySelectorAll(`${root} .model-card`)].map((card) => {
    const img = card.querySelector('img[data-hash]');
    return {
      id: card.dataset.modelId,
      type: card.dataset.type,
      name: (card.querySelector('.model-name') || {}).textContent?.trim() ?? '',
      imageHash: img ? img.dataset.hash : null,
      imageLoaded: !!img && img.complete && img.naturalWidth > 0,
    };
  }), rootSelector);
}

// What the node remembers for its user, asked the way the gallery asks.
function readMe(page) {
  return page.evaluate(async () => {
    const response = await fetch('/api/seedbank/me', { headers: { Accept: 'application/json' } });
    return { status: response.status, body: await response.json().catch(() => null) };
  });
}

function pressed(page, selector) {
  return page.evaluate((s) => {
    const button = document.querySelector(s);
    if (!button) return null;
    const note = button.parentElement.querySelector('[role="status"]');
    return { pressed: button.getAttribute('aria-pressed'), text: button.textContent.trim(), disabled: button.disabled,
      note: note ? note.textContent.trim() : null };
  }, selector);
}

function readErrors(page) {
  return page.evaluate(() => [...document.querySelectorAll('.message.error')]
    .filter((e) => e.offsetParent !== null)
    .map((e) => e.textContent.trim().replace(/\s+/g, ' ')));
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const expect = await readExpect(args.expect);
  let sharedImage, sharedVideo;
  try {
    sharedImage = await readFile(SHARED_IMAGE);
    sharedVideo = await readFile(SHARED_VIDEO);
  } catch (err) {
    usage(`the image or video to share: ${err.message}`);
  }
  const sharedHash = createHash('sha256').update(sharedImage).digest('hex');
  const sharedVideoHash = createHash('sha256').update(sharedVideo).digest('hex');
  await mkdir(args.out, { recursive: true });

  const summary = { ok: false, base: args.base, steps: [], screenshots: [], pageErrors: [] };
  const started = Date.now();
  const profileDir = await mkdtemp(path.join(os.tmpdir(), 'seedbank-chromium-'));
  let context = null;
  let page = null;
  let exitCode = 1;
  let stepName = 'launch';

  const pageErrors = [];
  const step = async (name, fn) => {
    stepName = name;
    const t0 = Date.now();
    process.stderr.write(`step ${name} ...\n`);
    const detail = await fn();
    // An uncaught exception in the page fails the step it happened in.
    if (pageErrors.length) throw new StepFailure(`uncaught page error(s): ${pageErrors.join(' | ')}`);
    summary.steps.push({ name, ms: Date.now() - t0, ...(detail || {}) });
    process.stderr.write(`step ${name} ok (${Date.now() - t0} ms)\n`);
  };

  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    // "Copy generation data" is checked by reading the clipboard back.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: args.base });
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
    page.on('pageerror', (err) => {
      pageErrors.push(err.message);
      summary.pageErrors.push(err.message);
    });
    // What the node's Content-Security-Policy blocks would break the page
    // without an exception: count it as one.
    page.on('console', (msg) => {
      if (msg.type() !== 'error' || !/Content Security Policy/i.test(msg.text())) return;
      pageErrors.push(msg.text());
      summary.pageErrors.push(msg.text());
    });
    const shot = async (name) => {
      const file = path.join(args.out, name);
      await page.screenshot({ path: file, fullPage: true });
      summary.screenshots.push(file);
    };
    const cardFor = (name) => page.locator('.model-card').filter({
      has: page.locator('.model-name', { hasText: new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }),
    }).first();

    // (1) Home lists every expected model.
    await step('home', async () => {
      const response = await page.goto(`${args.base}/`, { waitUntil: 'domcontentloaded' });
      if (!response || !response.ok()) throw new StepFailure(`GET / answered ${response ? response.status() : 'nothing'}`);
      await until('a card for every expected model', async () => {
        const cards = await readCards(page);
        const names = cards.map((c) => c.name);
        const missing = expect.models.filter((m) => !names.includes(m.name)).map((m) => m.name);
        // More models than one page: scroll down so the grid fetches the next.
        if (missing.length) await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        return { ok: !missing.length, seen: { missing, cards: names, errors: await readErrors(page) } };
      });
      return { cards: (await readCards(page)).length };
    });

    // (2) Each expected card shows its type and its first sample image.
    await step('home-images', async () => {
      for (const model of expect.models) {
        const card = cardFor(model.name);
        await card.scrollIntoViewIfNeeded();
        const info = await until(`the image of card "${model.name}" to load`, async () => {
          const c = (await readCards(page)).find((x) => x.name === model.name);
          return { ok: !!c && c.imageLoaded, seen: c || 'card gone' };
        }, IMAGE_TIMEOUT_MS);
        const c = info.seen;
        if (c.type !== model.type) throw new StepFailure(`card "${model.name}" has data-type "${c.type}", expected "${model.type}"`);
        if (model.imageHash && !same(c.imageHash, model.imageHash)) {
          throw new StepFailure(`card "${model.name}" shows image ${c.imageHash}, expected its first sample image ${model.imageHash}`);
        }
      }
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot('home.png');
    });

    // (3) The type filter keeps that type only, and survives a reload.
    await step('filter', async () => {
      const wanted = expect.models.filter((m) => m.type === expect.filterType).map((m) => m.name);
      const others = expect.models.filter((m) => m.type !== expect.filterType).map((m) => m.name);
      const filtered = async () => {
        const cards = await readCards(page);
        const wrongType = cards.filter((c) => c.type !== expect.filterType).map((c) => `${c.name} (${c.type})`);
        const missing = wanted.filter((n) => !cards.some((c) => c.name === n));
        const stillShown = others.filter((n) => cards.some((c) => c.name === n));
        return {
          ok: cards.length > 0 && !wrongType.length && !missing.length && !stillShown.length,
          seen: { url: page.url(), wrongType, missing, stillShown, errors: await readErrors(page) },
        };
      };
      // The filters offer every type and base model the node takes, as
      // /api/v1/enums lists them.
      await until('every type and base model of /api/v1/enums in the filters', async () => {
        const seen = await page.evaluate(async () => {
          const enums = await (await fetch('/api/v1/enums')).json();
          const options = (id) => [...document.querySelectorAll(`${id} option`)].map((o) => o.value).filter(Boolean);
          const types = options('#filter-type');
          const bases = options('#filter-base');
          return {
            missingTypes: enums.ModelType.filter((n) => !types.includes(n)),
            missingBases: enums.BaseModel.filter((n) => !bases.includes(n)),
            bases: bases.length,
          };
        });
        return { ok: !seen.missingTypes.length && !seen.missingBases.length && seen.bases > 4, seen };
      });
      await page.selectOption('#filter-type', expect.filterType);
      await until(`only ${expect.filterType} cards`, filtered);
      const url = new URL(page.url());
      if (url.searchParams.get('types') !== expect.filterType) {
        throw new StepFailure(`the address ${page.url()} does not carry types=${expect.filterType}`);
      }
      await page.reload({ waitUntil: 'domcontentloaded' });
      await until(`only ${expect.filterType} cards after a reload`, filtered);
      const selected = await page.inputValue('#filter-type');
      if (selected !== expect.filterType) throw new StepFailure(`after a reload the type select shows "${selected}"`);
      await shot('filtered.png');
    });

    // (4) The model page: name, hashes, a sample image and its prompt.
    const target = expect.models.find((m) => m.type === expect.filterType);
    let modelId = null;
    await step('model', async () => {
      await cardFor(target.name).click();
      await until(`the model page of "${target.name}"`, async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          name: document.querySelector('#model-page h1.model-name')?.textContent.trim() ?? null,
          errors: [...document.querySelectorAll('.message.error')].map((e) => e.textContent.trim()),
        }));
        return { ok: /^\/models\/\d+/.test(seen.path) && seen.name === target.name, seen };
      });
      modelId = new URL(page.url()).pathname.split('/')[2];
      const hashes = await until(`SHA256 ${target.sha256 || '(any)'} and AutoV2 ${target.autoV2 || '(any)'} among [data-hash-type]`, async () => {
        const shown = await page.evaluate(() => [...document.querySelectorAll('#model-page [data-hash-type]')]
          .map((e) => ({ type: e.dataset.hashType, value: e.textContent.trim() })));
        const has = (type, value) => shown.some((s) => s.type === type && same(s.value, value));
        const ok = (!target.sha256 || has('SHA256', target.sha256)) && (!target.autoV2 || has('AutoV2', target.autoV2));
        return { ok, seen: shown };
      });
      const image = await until('a loaded sample image on the model page', async () => {
        const imgs = await page.evaluate(() => [...document.querySelectorAll('#model-page img[data-hash]')]
          .map((img) => ({ hash: img.dataset.hash, loaded: img.complete && img.naturalWidth > 0 })));
        const loaded = imgs.filter((i) => i.loaded);
        const preferred = target.imageHash ? loaded.find((i) => same(i.hash, target.imageHash)) : loaded[0];
        return { ok: !!preferred, seen: { images: imgs, want: target.imageHash || 'any' }, hash: preferred && preferred.hash };
      }, IMAGE_TIMEOUT_MS);
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot('model.png');

      await page.locator(`#model-page img[data-hash="${image.hash}"]`).first().click();
      const prompt = await until('the image\'s prompt after clicking it', async () => {
        const seen = await page.evaluate(() => {
          const dialog = document.querySelector('dialog[open]');
          const prompt = dialog && dialog.querySelector('[data-meta-key="prompt"] dd');
          return { open: !!dialog, prompt: prompt ? prompt.textContent.trim() : null, text: dialog ? dialog.textContent.slice(0, 300) : null };
        });
        return { ok: !!seen.prompt, seen };
      });
      // "Copy generation data": the prompt and settings as AUTOMATIC1111
      // writes them, so a paste into its PNG Info reads them back.
      await page.locator('dialog[open] button', { hasText: 'Copy generation data' }).click();
      const copied = await until('the generation data on the clipboard', async () => {
        const text = await page.evaluate(() => navigator.clipboard.readText()).catch((err) => `(${err.message})`);
        const ok = text.startsWith(prompt.seen.prompt) && /\nSteps: \d+, Sampler: /.test(text);
        return { ok, seen: text.slice(0, 300) };
      }, 5000);
      await shot('model-image.png');
      await page.keyboard.press('Escape');
      await until('the image details to close', async () => {
        const open = await page.evaluate(() => !!document.querySelector('dialog[open]'));
        return { ok: !open, seen: { open } };
      }, 5000);
      return { modelId, hashes: hashes.seen.length, prompt: prompt.seen.prompt.slice(0, 80), copied: copied.seen.length };
    });

    // (4b) A rating with a Markdown review: the review shows rendered, and
    // the header's and the version's figures follow without a reload.
    await step('rate', async () => {
      await page.locator('#rate-form').waitFor();
      await page.selectOption('#rate-stars', '4');
      await page.fill('#rate-review', 'A **bold** lamp');
      await page.locator('#rate-form button[type="submit"]').click();
      const shown = await until('the review rendered and the figures as the API counts them', async () => {
        const seen = await page.evaluate(async (id) => {
          const model = await (await fetch(`/api/v1/models/${id}`)).json();
          const label = (s) => (s.ratingCount ? `${Number(s.rating).toFixed(1)} out of 5 from ${s.ratingCount} rating${s.ratingCount === 1 ? '' : 's'}` : 'No ratings yet');
          const versionId = document.querySelector('#model-page .model-layout')?.dataset.versionId;
          const version = model.modelVersions.find((v) => String(v.id) === versionId);
          return {
            bold: [...document.querySelectorAll('.review-text strong')].map((e) => e.textContent),
            header: document.querySelector('.model-rating .rating')?.title ?? null,
            wantHeader: label(model.stats),
            version: document.querySelector('.version-rating .rating')?.title ?? null,
            wantVersion: version ? label(version.stats) : null,
          };
        }, modelId);
        return {
          ok: seen.bold.includes('bold') && seen.header === seen.wantHeader && seen.version === seen.wantVersion &&
            seen.wantVersion !== 'No ratings yet',
          seen,
        };
      });
      await shot('model-rated.png');
      return { header: shown.seen.header };
    });

    // What the node counts for a subject of the shown version (the release,
    // or one of its sample images), asked the way the gallery asks.
    const reactionsOf = (image) => page.evaluate(async ([id, sha]) => {
      const versionId = document.querySelector('#model-page .model-layout')?.dataset.versionId;
      const model = await (await fetch(`/api/v1/models/${id}`)).json();
      const version = model.modelVersions.find((v) => String(v.id) === versionId);
      const params = new URLSearchParams({ releaseId: version.seedbank.releaseId });
      if (sha) params.set('image', sha);
      return (await fetch(`/api/seedbank/reactions?${params}`)).json();
    }, [modelId, image || null]);
    const reactionButton = (bar, kind) => page.evaluate(([b, k]) => {
      const button = document.querySelector(`${b} [data-reaction="${k}"]`);
      return button ? { pressed: button.getAttribute('aria-pressed'), disabled: button.disabled,
        count: button.querySelector('.reaction-count')?.textContent.trim() ?? null,
        note: document.querySelector(`${b} [role="status"]`)?.textContent.trim() ?? null } : null;
    }, [bar, kind]);

    // (4c) A like for the version: the button stays pressed and its count
    // is the node's.
    await step('react', async () => {
      const before = await until('the version\'s like button, ready', async () => {
        const seen = await reactionButton('#version-reactions', 'like');
        return { ok: !!seen && !seen.disabled, seen };
      });
      if (before.seen.pressed !== 'false' || before.seen.count !== '0') {
        throw new StepFailure(`before any click the like button shows ${JSON.stringify(before.seen)}`);
      }
      await page.click('#version-reactions [data-reaction="like"]');
      await until('the like button pressed with a count of 1', async () => {
        const seen = await reactionButton('#version-reactions', 'like');
        return { ok: !!seen && seen.pressed === 'true' && seen.count === '1' && !seen.disabled, seen };
      });
      const counted = await reactionsOf(null);
      if (counted.mine !== 'like' || counted.stats.likeCount !== 1) {
        throw new StepFailure(`/api/seedbank/reactions after the click: ${JSON.stringify(counted)}`);
      }
    });

    // (4d) A comment thread on the version: a comment in Markdown, a reply
    // under it (indented), an edit of the comment, and the reply deleted.
    await step('comment', async () => {
      const panel = '#version-comments';
      const thread = () => page.evaluate((p) => [...document.querySelectorAll(`${p} .comment-list > li.comment`)].map((li) => ({
        id: li.dataset.commentId,
        strong: [...li.querySelectorAll(':scope > .comment-text strong')].map((e) => e.textContent),
        text: li.querySelector(':scope > .comment-text')?.textContent.trim() ?? null,
        edited: !!li.querySelector(':scope > .comment-head .comment-edited'),
        left: li.getBoundingClientRect().left,
        replies: [...li.querySelectorAll(':scope > .comment-replies > li.reply')].map((r) => ({
          id: r.dataset.commentId,
          em: [...r.querySelectorAll(':scope > .comment-text em')].map((e) => e.textContent),
          left: r.getBoundingClientRect().left,
        })),
      })), panel);

      await page.locator(`${panel} .new-comment-form textarea`).waitFor();
      await page.fill(`${panel} .new-comment-form textarea`, 'A **bold** comment from the browser');
      await page.click(`${panel} .new-comment-form button[type="submit"]`);
      const written = await until('the comment, its Markdown rendered', async () => {
        const seen = await thread();
        return { ok: seen.length === 1 && seen[0].strong.includes('bold') && !seen[0].edited, seen };
      });
      const commentId = written.seen[0].id;
      const comment = `${panel} li.comment[data-comment-id="${commentId}"]`;

      await page.click(`${comment} > .comment-actions .comment-reply`);
      await page.fill(`${comment} .reply-form textarea`, 'A reply with *emphasis*');
      await page.click(`${comment} .reply-form button[type="submit"]`);
      const replied = await until('the reply, indented under the comment', async () => {
        const seen = await thread();
        const c = seen.find((x) => x.id === commentId);
        const r = c && c.replies[0];
        return { ok: !!r && r.em.includes('emphasis') && r.left > c.left + 8, seen };
      });
      const replyId = replied.seen[0].replies[0].id;
      await shot('model-comments.png');

      await page.click(`${comment} > .comment-actions .comment-edit`);
      await page.fill(`${comment} .edit-form textarea`, 'An **edited** comment');
      await page.click(`${comment} .edit-form button[type="submit"]`);
      await until('the comment\'s new text, marked edited', async () => {
        const seen = await thread();
        const c = seen.find((x) => x.id === commentId);
        return { ok: !!c && c.strong.includes('edited') && c.edited && c.replies.length === 1, seen };
      });

      // Deleting asks first (window.confirm).
      page.once('dialog', (dialog) => dialog.accept());
      await page.click(`${comment} li.reply[data-comment-id="${replyId}"] .comment-delete`);
      await until('the reply gone, the comment still there', async () => {
        const seen = await thread();
        const c = seen.find((x) => x.id === commentId);
        return { ok: seen.length === 1 && !!c && c.replies.length === 0 && c.text === 'An edited comment', seen };
      });
      await shot('model-commented.png');
      return { commentId, replyId };
    });

    // (4e) A heart for a sample image, in the image viewer.
    let heartedImage = null;
    await step('image-reaction', async () => {
      heartedImage = await page.evaluate(() => document.querySelector('#model-page .image-grid.gallery img[data-hash]')?.dataset.hash ?? null);
      if (!heartedImage) throw new StepFailure('the model page shows no sample image');
      await page.locator(`#model-page .image-grid.gallery img[data-hash="${heartedImage}"]`).first().click();
      const before = await until('the image viewer\'s heart button, ready', async () => {
        const seen = await reactionButton('dialog[open] #lightbox-reactions', 'heart');
        return { ok: !!seen && !seen.disabled, seen };
      });
      if (before.seen.pressed !== 'false' || before.seen.count !== '0') {
        throw new StepFailure(`before any click the heart button shows ${JSON.stringify(before.seen)}`);
      }
      await page.click('dialog[open] #lightbox-reactions [data-reaction="heart"]');
      await until('the heart button pressed with a count of 1', async () => {
        const seen = await reactionButton('dialog[open] #lightbox-reactions', 'heart');
        return { ok: !!seen && seen.pressed === 'true' && seen.count === '1' && !seen.disabled, seen };
      });
      // The image's comments, with the form to write one.
      await page.locator('dialog[open] #lightbox-comments .new-comment-form textarea').waitFor();
      const counted = await reactionsOf(heartedImage);
      if (counted.mine !== 'heart' || counted.stats.heartCount !== 1) {
        throw new StepFailure(`/api/seedbank/reactions for image ${heartedImage} after the click: ${JSON.stringify(counted)}`);
      }
      await shot('model-image-reacted.png');
      await page.keyboard.press('Escape');
      await until('the image viewer to close', async () => {
        const open = await page.evaluate(() => !!document.querySelector('dialog[open]'));
        return { ok: !open, seen: { open } };
      }, 5000);
      return { image: heartedImage };
    });

    // (5) A favourite: the button stays pressed and the node remembers it.
    let versionId = null;
    await step('favourite', async () => {
      versionId = await page.evaluate(() => document.querySelector('#model-page .model-layout')?.dataset.versionId ?? null);
      if (!versionId) throw new StepFailure('the model page shows no version');
      await page.locator('#favorite-button').waitFor();
      const before = await pressed(page, '#favorite-button');
      if (before.pressed !== 'false') throw new StepFailure(`before any click the favourite button shows ${JSON.stringify(before)}`);
      await page.click('#favorite-button');
      await until('the favourite button to show pressed', async () => {
        const seen = await pressed(page, '#favorite-button');
        return { ok: !!seen && seen.pressed === 'true' && !seen.disabled, seen };
      });
      const mine = await readMe(page);
      const favorites = mine.body && Array.isArray(mine.body.favorites) ? mine.body.favorites : [];
      if (!favorites.some((f) => String(f.modelVersionId) === versionId)) {
        throw new StepFailure(`/api/seedbank/me does not list version ${versionId} after the click: ${JSON.stringify(mine)}`);
      }
      return { versionId };
    });

    // (6) The "You" page shows the node's key and the favourite, whose link
    // leads back to the same version, still a favourite.
    await step('me', async () => {
      const mine = (await readMe(page)).body || {};
      await page.locator('.site-nav a[href="/me"]').click();
      await until(`/me listing "${target.name}" as a favourite`, async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          identity: document.querySelector('#identity-key code')?.textContent.trim() ?? null,
          favorites: [...document.querySelectorAll('#favorite-list a')].map((a) => ({ text: a.textContent.trim(), href: a.getAttribute('href') })),
          errors: [...document.querySelectorAll('.message.error')].map((e) => e.textContent.trim()),
        }));
        const listed = seen.favorites.some((f) => f.text.startsWith(target.name) &&
          new URL(f.href, args.base).searchParams.get('modelVersionId') === versionId);
        return { ok: seen.path === '/me' && listed && seen.identity === (mine.identity || null), seen };
      });
      if (expect.own) {
        // The creator dashboard: the node's own release, seeded here (the
        // page is loaded again until the node's look at its torrents says so).
        await until(`"${expect.own.name}" in the dashboard, seeded by this node`, async () => {
          const seen = await page.evaluate(() => [...document.querySelectorAll('#dashboard tbody tr')].map((tr) => ({
            release: tr.querySelector('td a')?.textContent.trim() ?? null,
            here: tr.querySelector('[data-col="here"]')?.textContent.trim() ?? null,
          })));
          const ok = seen.some((r) => r.release === expect.own.name && (r.here || '').startsWith('Seeding'));
          if (!ok && seen.length) await page.reload({ waitUntil: 'domcontentloaded' });
          return { ok, seen };
        }, PAGE_TIMEOUT_MS, 1000);
      }
      await shot('me.png');
      await page.locator('#favorite-list a', { hasText: target.name }).first().click();
      await until(`the model page of version ${versionId} with its favourite button pressed`, async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          version: document.querySelector('#model-page .model-layout')?.dataset.versionId ?? null,
        }));
        seen.favourite = await pressed(page, '#favorite-button');
        return { ok: seen.path === `/models/${modelId}` && seen.version === versionId && seen.favourite?.pressed === 'true', seen };
      });
    });

    // (6b) The favourites published as a collection: its page lists the
    // model, and the node's own creator page links it.
    await step('collection', async () => {
      await page.locator('.site-nav a[href="/me"]').click();
      await page.locator('#publish-favorites').waitFor({ state: 'attached' });
      await page.locator('#me-page summary', { hasText: 'Publish these as a collection' }).click();
      await page.fill('#collection-name', 'Test picks');
      await page.locator('#publish-favorites button[type="submit"]').click();
      await until(`a collection page "Test picks" listing "${target.name}"`, async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          name: document.querySelector('#collection-page .collection-name')?.textContent.trim() ?? null,
          note: document.querySelector('#publish-favorites [role="status"]')?.textContent.trim() ?? null,
          errors: [...document.querySelectorAll('.message.error')].map((e) => e.textContent.trim()),
        }));
        const cards = seen.name ? await readCards(page, '#collection-page') : [];
        seen.cards = cards.map((c) => c.name);
        // Exactly the favourite: the models of this collection, not every model.
        return { ok: /^\/collections\/\d+$/.test(seen.path) && seen.name === 'Test picks' &&
          JSON.stringify(seen.cards) === JSON.stringify([target.name]), seen };
      });
      await shot('collection.png');
      const collectionPath = await page.evaluate(() => location.pathname);
      // The address alone opens it too (a reload, a shared link).
      await page.reload();
      await until('the collection page again after a reload', async () => {
        const seen = await page.evaluate(() => ({
          name: document.querySelector('#collection-page .collection-name')?.textContent.trim() ?? null,
          head: document.querySelector('#collection-page .collection-head p')?.textContent.trim() ?? null,
        }));
        return { ok: seen.name === 'Test picks' && /· 1 item$/.test(seen.head || ''), seen };
      });
      await page.locator('#collection-page a.creator-link').first().click();
      await until('the creator page linking the collection', async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          links: [...document.querySelectorAll('#collection-list a')].map((a) => ({ text: a.textContent.trim(), href: a.getAttribute('href') })),
        }));
        return { ok: /^\/user\//.test(seen.path) && seen.links.some((l) => l.text === 'Test picks' && l.href === collectionPath), seen };
      });
      // Back on the model page, the version goes into a new collection.
      await page.goto(new URL(`/models/${modelId}?modelVersionId=${versionId}`, args.base).href);
      await page.locator('#model-page .model-layout').waitFor();
      await page.locator('#model-page .add-collection summary').click();
      await page.fill('#add-to-collection-name', 'From the page');
      await page.locator('#add-to-collection button[type="submit"]').click();
      await until('"Added to From the page" under the form', async () => {
        const seen = await page.evaluate(() => {
          const status = document.querySelector('#add-to-collection [role="status"]');
          const link = status?.querySelector('a');
          return { text: status?.textContent.trim() ?? null, href: link?.getAttribute('href') ?? null,
            chosen: document.querySelector('#add-to-collection-choice')?.selectedOptions[0]?.textContent ?? null };
        });
        if (seen.href) {
          // What the node signed: the version, and nothing else.
          seen.items = await page.evaluate(async (where) => {
            const answer = await (await fetch(`/api/v1${where}`)).json();
            return (answer.seedbank && answer.seedbank.items || []).map((i) => String(i.modelVersionId));
          }, seen.href);
        }
        return { ok: seen.text === 'Added to From the page.' && /^\/collections\/\d+$/.test(seen.href || '') &&
          seen.chosen === 'From the page' && JSON.stringify(seen.items) === JSON.stringify([versionId]), seen };
      });
      // And a sample image, from the image viewer, into "Test picks".
      await page.locator(`#model-page .image-grid.gallery img[data-hash="${heartedImage}"]`).first().click();
      await page.locator('dialog[open] .lightbox-collect summary').click();
      await page.locator('dialog[open] #lightbox-collection-choice option', { hasText: 'Test picks' }).waitFor({ state: 'attached' });
      await page.selectOption('dialog[open] #lightbox-collection-choice', { label: 'Test picks' });
      await page.locator('dialog[open] #lightbox-collection button[type="submit"]').click();
      await until('the image in "Test picks"', async () => {
        const seen = await page.evaluate(async (where) => {
          const status = document.querySelector('dialog[open] #lightbox-collection [role="status"]')?.textContent.trim() ?? null;
          const answer = await (await fetch(`/api/v1${where}`)).json();
          const items = answer && answer.seedbank && Array.isArray(answer.seedbank.items) ? answer.seedbank.items : [];
          return { status, hashes: items.filter((i) => i.type === 'image').map((i) => i.hash) };
        }, collectionPath);
        return { ok: seen.status === 'Added to Test picks.' && seen.hashes.includes(heartedImage), seen };
      });
      await page.keyboard.press('Escape');
      await until('the image viewer to close', async () => {
        const open = await page.evaluate(() => !!document.querySelector('dialog[open]'));
        return { ok: !open, seen: { open } };
      }, 5000);
      // The Collections page lists both, newest first.
      await page.locator('.site-nav a[href="/collections"]').click();
      await until('the Collections page listing both', async () => {
        const seen = await page.evaluate(() => ({
          names: [...document.querySelectorAll('#collections-page .collection-card-name a')].map((a) => a.textContent.trim()),
        }));
        return { ok: JSON.stringify(seen.names.slice(0, 2)) === JSON.stringify(['Test picks', 'From the page']), seen };
      });
      // A collection this node does not know says so.
      await page.goto(new URL('/collections/1', args.base).href);
      await until('the collection not-found message', async () => {
        const seen = await page.evaluate(() => ({
          text: document.querySelector('#collection-page .message')?.textContent.trim() ?? null,
          title: document.title,
        }));
        return { ok: /^No such collection here\./.test(seen.text || '') && /not found/.test(seen.title), seen };
      });
      await page.goto(new URL(`/models/${modelId}?modelVersionId=${versionId}`, args.base).href);
      await page.locator('#model-page .model-layout').waitFor();
      return { collection: collectionPath };
    });

    // (7) Sharing an image made with the model: it shows under Community
    // images, served by this node.
    await step('share', async () => {
      const mine = (await readMe(page)).body || {};
      if (!mine.identity) {
        throw new StepFailure('the node has no identity key to sign the post with; run `seedbank keygen` on its data dir first');
      }
      await page.locator('#post-form').waitFor();
      await page.setInputFiles('#post-file', SHARED_IMAGE);
      await page.fill('#post-caption', 'Made while testing the gallery');
      await page.selectOption('#post-nsfw-level', '4'); // R: blurred by default
      await page.locator('#post-form button[type="submit"]').click();
      await until(`the shared image ${sharedHash} under Community images`, async () => {
        const seen = await page.evaluate(() => {
          // Images load lazily: only in view.
          document.querySelector('#community-images')?.scrollIntoView();
          return {
            note: document.querySelector('#post-form [role="status"]')?.textContent.trim() ?? null,
            images: [...document.querySelectorAll('#community-images img[data-hash]')]
              .map((img) => ({ hash: img.dataset.hash, loaded: img.complete && img.naturalWidth > 0, nsfw: img.parentElement.dataset.nsfw })),
          };
        });
        return { ok: seen.images.some((i) => same(i.hash, sharedHash) && i.loaded && i.nsfw === 'blur'), seen };
      }, IMAGE_TIMEOUT_MS);
      await shot('model-shared.png');
      return { sha256: sharedHash };
    });

    // (7') A short video shared the same way: a video among the community
    // images, playing in the viewer with the generation data in the file.
    await step('share-video', async () => {
      await page.setInputFiles('#post-file', SHARED_VIDEO);
      await page.fill('#post-caption', 'A short loop');
      await page.selectOption('#post-nsfw-level', '1');
      await page.locator('#post-form button[type="submit"]').click();
      await until(`the shared video ${sharedVideoHash} under Community images`, async () => {
        const seen = await page.evaluate((sha) => {
          document.querySelector('#community-images')?.scrollIntoView();
          const video = document.querySelector(`#community-images video[data-hash="${sha}"]`);
          return { note: document.querySelector('#post-form [role="status"]')?.textContent.trim() ?? null,
            video: !!video, ready: video ? video.readyState : null, pending: video ? video.parentElement.classList.contains('pending') : null };
        }, sharedVideoHash);
        return { ok: seen.video && seen.ready >= 1 && !seen.pending, seen };
      }, IMAGE_TIMEOUT_MS);
      await page.locator(`#community-images .image-tile:has(video[data-hash="${sharedVideoHash}"])`).click();
      const viewer = await until('the video playing in the viewer with its prompt', async () => {
        const seen = await page.evaluate(() => {
          const video = document.querySelector('dialog[open] .lightbox-stage video');
          return { controls: video ? video.controls : null, ready: video ? video.readyState : null,
            size: video ? `${video.videoWidth}x${video.videoHeight}` : null,
            prompt: document.querySelector('dialog[open] .meta-row[data-meta-key="prompt"] dd')?.textContent ?? null };
        });
        return { ok: seen.controls === true && seen.ready >= 1 && seen.size === '64x48' && seen.prompt === 'a paper boat drifting', seen };
      }, IMAGE_TIMEOUT_MS);
      await shot('video.png');
      await page.keyboard.press('Escape');
      return { sha256: sharedVideoHash, viewer: viewer.seen };
    });

    const modelUrl = page.url();
    // (7a) The Images page: the image feed, with the post among the
    // releases' sample images, whose tiles count their reactions.
    await step('image-feed', async () => {
      await page.locator('.site-nav a[href="/images"]').click();
      await until('the shared post in the image feed, with its caption, and the heart of the sample image', async () => {
        const seen = await page.evaluate(([sha, hearted]) => {
          const tiles = [...document.querySelectorAll('#images-page .image-tile')];
          const post = tiles.find((b) => b.dataset.postId && b.querySelector(`.img-frame[data-image-hash="${sha}"]`));
          // The sample image given a heart: its tile counts it.
          const counts = tiles.filter((b) => !b.dataset.postId && b.querySelector(`.img-frame[data-image-hash="${hearted}"]`))
            .map((b) => b.querySelector('.tile-stats')?.textContent.trim() ?? null);
          return { tiles: tiles.length, samples: tiles.filter((b) => !b.dataset.postId).length, caption: post ? post.title : null, counts };
        }, [sharedHash, heartedImage]);
        const hearted = seen.counts.some((c) => c && c.includes('❤️ 1'));
        return { ok: seen.caption === 'Made while testing the gallery' && seen.samples > 0 && hearted, seen };
      });
      await shot('images.png');
      // Sorted by most reactions: the hearted sample image comes first, and
      // the choice stays in the address.
      await page.selectOption('#images-sort', 'Most Reactions');
      const ranked = await until('the hearted image first when sorted by most reactions', async () => {
        const seen = await page.evaluate(() => {
          const first = document.querySelector('#images-page .image-tile');
          return { search: location.search, first: first?.querySelector('.img-frame')?.dataset.imageHash ?? null,
            stats: first?.querySelector('.tile-stats')?.textContent.trim() ?? null };
        });
        return { ok: seen.search.includes('sort=Most+Reactions') && seen.first === heartedImage &&
          (seen.stats || '').includes('❤️ 1'), seen };
      });
      await page.goto(modelUrl, { waitUntil: 'domcontentloaded' });
      return { first: ranked.seen.first };
    });

    // (7a') An image's viewer lists the resources its generation data
    // names by hash, each linked to its model's page.
    await step('image-resources', async () => {
      if (!expect.resources) return { skipped: 'no "resources" post in the expect file' };
      const { sha256, models } = expect.resources;
      await page.locator('.site-nav a[href="/images"]').click();
      const tile = page.locator(`#images-page .image-tile[data-post-id]:has(.img-frame[data-image-hash="${sha256.toLowerCase()}"])`);
      await tile.first().waitFor({ timeout: PAGE_TIMEOUT_MS });
      await tile.first().click();
      const linked = await until(`links to ${models.join(' and ')} under Resources used`, async () => {
        const seen = await page.evaluate(() => [...document.querySelectorAll('dialog[open] #lightbox-resources .resource')]
          .map((li) => {
            const a = li.querySelector('a.resource-name');
            return { hash: li.dataset.hash, link: a ? a.getAttribute('href') : null, text: li.textContent.trim() };
          }));
        return { ok: seen.length === models.length && models.every((m) => seen.some((r) => r.link && r.text.includes(m))), seen };
      });
      await shot('image-resources.png');
      // The first one's link leads to its model page.
      await page.locator('dialog[open] #lightbox-resources a.resource-name', { hasText: models[0] }).click();
      await until(`${models[0]}'s page`, async () => {
        const seen = await page.evaluate(() => ({ path: location.pathname, title: document.querySelector('h1')?.textContent.trim() ?? null,
          dialog: !!document.querySelector('dialog[open]') }));
        return { ok: seen.path.startsWith('/models/') && (seen.title || '').includes(models[0]) && !seen.dialog, seen };
      });
      await page.goto(modelUrl, { waitUntil: 'domcontentloaded' });
      return { resources: linked.seen };
    });

    // (7b) The mature content setting on the You page applies on the model
    // page: R hidden (the image is not even fetched), then shown.
    const nsfwSetting = async (mode) => {
      await page.locator('.site-nav a[href="/me"]').click();
      await page.locator('#nsfw-4').waitFor();
      await page.selectOption('#nsfw-4', mode);
      await page.goto(modelUrl, { waitUntil: 'domcontentloaded' });
    };
    const sharedFrame = async () => page.evaluate((sha) => {
      document.querySelector('#community-images')?.scrollIntoView();
      const frame = [...document.querySelectorAll('#community-images .img-frame')].find((f) => f.dataset.imageHash === sha);
      const img = frame && frame.querySelector('img');
      return frame ? { nsfw: frame.dataset.nsfw, img: !!img, loaded: !!img && img.complete && img.naturalWidth > 0 } : null;
    }, sharedHash);
    await step('nsfw-setting', async () => {
      await nsfwSetting('hide');
      await until('the R image hidden and not loaded', async () => {
        const seen = await sharedFrame();
        return { ok: !!seen && seen.nsfw === 'hide' && !seen.img, seen };
      });
      await shot('model-nsfw-hidden.png');
      await nsfwSetting('show');
      await until('the R image shown unblurred', async () => {
        const seen = await sharedFrame();
        return { ok: !!seen && seen.nsfw === 'show' && seen.loaded, seen };
      }, IMAGE_TIMEOUT_MS);
    });

    // (8) The creator link leads to a page that lists the model.
    await step('creator', async () => {
      const link = page.locator('#model-page a.creator-link').first();
      const creator = (await link.textContent()).trim();
      await link.click();
      await until(`the creator page of "${creator}" listing "${target.name}"`, async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          page: !!document.querySelector('#creator-page'),
          errors: [...document.querySelectorAll('.message.error')].map((e) => e.textContent.trim()),
        }));
        const cards = seen.page ? await readCards(page, '#creator-page') : [];
        seen.cards = cards.map((c) => c.name);
        return { ok: seen.page && /^\/user\//.test(seen.path) && seen.cards.includes(target.name), seen };
      });
      await shot('creator.png');
      return { creator };
    });

    // (9) Following the creator: the button stays pressed across a reload,
    // and a second click undoes it.
    await step('follow', async () => {
      const key = (await page.locator('#creator-page .creator-key code').textContent()).trim();
      const expectFollowing = async (on) => {
        await until(`the follow button to show ${on ? 'pressed' : 'not pressed'}`, async () => {
          const seen = await pressed(page, '#follow-button');
          return { ok: !!seen && seen.pressed === String(on) && !seen.disabled, seen };
        });
        const mine = await readMe(page);
        const listed = !!mine.body && Array.isArray(mine.body.follows) && mine.body.follows.includes(key);
        if (listed !== on) throw new StepFailure(`after the click /api/seedbank/me ${listed ? 'lists' : 'does not list'} ${key}: ${JSON.stringify(mine)}`);
      };
      await expectFollowing(false);
      await page.click('#follow-button');
      await expectFollowing(true);
      await page.reload({ waitUntil: 'domcontentloaded' });
      await expectFollowing(true);
      await shot('creator-followed.png');
      await page.click('#follow-button');
      await expectFollowing(false);
      return { key };
    });

    // (9b) Following again: the You page shows the creator's new work.
    await step('following-feed', async () => {
      await page.click('#follow-button');
      await until('the follow button to show pressed', async () => {
        const seen = await pressed(page, '#follow-button');
        return { ok: !!seen && seen.pressed === 'true' && !seen.disabled, seen };
      });
      await page.locator('.site-nav a[href="/me"]').click();
      await until('the followed creator\'s images on the You page', async () => {
        // The creator's sample images; no post (the shared one is this
        // node's, the other a stranger's).
        const seen = await page.evaluate(() => ({
          tiles: document.querySelectorAll('#following-feed .image-tile').length,
          posts: document.querySelectorAll('#following-feed .image-tile[data-post-id]').length,
          text: document.querySelector('#following-feed')?.textContent.slice(0, 200) ?? null,
        }));
        return { ok: seen.tiles > 0 && seen.posts === 0, seen };
      });
      await shot('me-following.png');
    });

    // (10) A search from the header box: the node ranks it (no sort in the
    // address, "Relevance" shown), the heading names it, a model is found
    // by a prefix of its tag, and the tags with that prefix are offered.
    const { search, tags } = expect;
    await step('search', async () => {
      await page.goto(`${args.base}/`, { waitUntil: 'domcontentloaded' });
      await page.locator('#home-page #filter-sort').waitFor();
      await page.fill('#search', search.query);
      await page.press('#search', 'Enter');
      const wantTags = Object.keys(tags).filter((t) => t.startsWith(search.query));
      const results = async () => {
        const seen = await page.evaluate(() => ({
          url: location.pathname + location.search,
          heading: document.querySelector('#models-heading')?.textContent ?? null,
          sort: document.querySelector('#filter-sort')?.value ?? null,
          matchedTags: [...document.querySelectorAll('#search-matches #search-tags .tag-link')].map((a) => a.dataset.tag),
          errors: [...document.querySelectorAll('.message.error:not([hidden])')].map((e) => e.textContent.trim()),
        }));
        seen.cards = (await readCards(page, '#home-page')).map((c) => c.name);
        const url = new URL(seen.url, args.base);
        const ok = url.pathname === '/' && url.searchParams.get('query') === search.query && !url.searchParams.has('sort') &&
          seen.heading === `Results for “${search.query}”` && seen.sort === 'Relevance' &&
          seen.cards.includes(search.finds) && !seen.cards.includes(search.misses) &&
          wantTags.every((t) => seen.matchedTags.includes(t));
        return { ok, seen };
      };
      await until(`"${search.finds}" and not "${search.misses}" among the results for "${search.query}"`, results);
      await shot('search.png');
      await page.reload({ waitUntil: 'domcontentloaded' });
      await until(`the same results for "${search.query}" after a reload`, results);
      return { query: search.query };
    });

    // A tag's page: the tag, how many models have it, a link back to the
    // index, and its models only.
    const tagPath = (tag) => `/tag/${encodeURIComponent(tag)}`;
    const expectTagPage = (tag, models) => until(`${tagPath(tag)} listing ${models.join(', ')} only`, async () => {
      const seen = await page.evaluate(() => ({
        path: location.pathname,
        tag: document.querySelector('#tag-page')?.dataset.tag ?? null,
        heading: document.querySelector('#tag-page h1')?.textContent.trim() ?? null,
        count: document.querySelector('#tag-page #tag-model-count')?.textContent.trim() ?? null,
        back: document.querySelector('#tag-page a.all-tags')?.getAttribute('href') ?? null,
        errors: [...document.querySelectorAll('.message.error:not([hidden])')].map((e) => e.textContent.trim()),
      }));
      seen.cards = seen.tag === null ? [] : (await readCards(page, '#tag-page')).map((c) => c.name);
      const ok = seen.path === tagPath(tag) && seen.tag === tag && seen.heading === tag && seen.back === '/tags' &&
        seen.count === `${models.length} model${models.length === 1 ? '' : 's'}` &&
        seen.cards.length === models.length && models.every((m) => seen.cards.includes(m));
      return { ok, seen };
    });
    const [firstTag, firstModels] = Object.entries(tags)[0];

    // (11) The tag index, from the header: each tag with how many models
    // have it; the filter box lists the tags with a prefix; a tag leads to
    // its page.
    await step('tags', async () => {
      await page.locator('.site-nav a[href="/tags"]').click();
      const shown = () => page.evaluate(() => ({
        url: location.pathname + location.search,
        tags: Object.fromEntries([...document.querySelectorAll('#tags-page .tag-link')]
          .map((a) => [a.dataset.tag, a.querySelector('.tag-count')?.textContent.trim() ?? null])),
        errors: [...document.querySelectorAll('.message.error:not([hidden])')].map((e) => e.textContent.trim()),
      }));
      await until(`${Object.keys(tags).join(', ')} on /tags with their model counts`, async () => {
        const seen = await shown();
        const wrong = Object.entries(tags).filter(([t, models]) => seen.tags[t] !== String(models.length)).map(([t]) => t);
        return { ok: seen.url === '/tags' && !wrong.length, seen: { ...seen, wrong } };
      });
      await shot('tags.png');
      const prefix = firstTag.slice(0, 2);
      await page.fill('#tag-filter', prefix);
      await until(`the tags starting with "${prefix}" only`, async () => {
        const seen = await shown();
        const listed = Object.keys(seen.tags);
        const starts = (t) => t.toLowerCase().startsWith(prefix.toLowerCase());
        const ok = new URL(seen.url, args.base).searchParams.get('query') === prefix && listed.includes(firstTag) &&
          listed.every(starts) && Object.keys(tags).filter(starts).every((t) => listed.includes(t));
        return { ok, seen };
      });
      await page.locator(`#tags-page .tag-link[data-tag=${JSON.stringify(firstTag)}]`).click();
      await expectTagPage(firstTag, firstModels);
      return { tags: Object.keys(tags).length };
    });

    // (12) A tag chip on a model's page leads to the tag's page.
    await step('tag-chip', async () => {
      const model = firstModels[0];
      await cardFor(model).click();
      await until(`the model page of "${model}" with a chip for "${firstTag}"`, async () => {
        const seen = await page.evaluate(() => ({
          path: location.pathname,
          name: document.querySelector('#model-page h1.model-name')?.textContent.trim() ?? null,
          chips: [...document.querySelectorAll('#model-page .model-header .tags a.tag')]
            .map((a) => ({ tag: a.dataset.tag, href: a.getAttribute('href') })),
        }));
        return { ok: seen.name === model && seen.chips.some((c) => c.tag === firstTag && c.href === tagPath(firstTag)), seen };
      });
      await page.locator(`#model-page .model-header .tags a.tag[data-tag=${JSON.stringify(firstTag)}]`).click();
      await expectTagPage(firstTag, firstModels);
      return { tag: firstTag };
    });

    // (12b) The author edits the page of a model this node's key published:
    // the model's description in Markdown, its tags, and one sample image
    // fewer. The page shows the signed update, and so does the API.
    await step('edit-page', async () => {
      if (!expect.own) return { skipped: 'no "own" model in the expect file' };
      const own = expect.own.name;
      await page.goto(`${args.base}/`, { waitUntil: 'domcontentloaded' });
      await until(`a card for "${own}"`, async () => {
        const names = (await readCards(page)).map((c) => c.name);
        if (!names.includes(own)) await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        return { ok: names.includes(own), seen: { cards: names, errors: await readErrors(page) } };
      });
      await cardFor(own).click();
      // What the version's page shows, section by section.
      const shown = () => page.evaluate(() => {
        const panel = (title) => [...document.querySelectorAll('#model-page .model-main section.panel')]
          .find((s) => s.querySelector(':scope > .panel-title')?.textContent === title);
        const about = panel('About this model');
        return {
          name: document.querySelector('#model-page h1.model-name')?.textContent.trim() ?? null,
          aboutModel: about ? about.querySelector('.rich-text')?.textContent.trim() ?? '' : null,
          aboutModelStrong: about ? [...about.querySelectorAll('strong')].map((e) => e.textContent) : [],
          aboutVersion: panel('About this version')?.querySelector('.rich-text')?.textContent.trim() ?? null,
          chips: [...document.querySelectorAll('#model-page .model-header .tags a.tag')].map((a) => a.dataset.tag),
          images: panel('Images')?.querySelectorAll('.image-tile').length ?? null,
          updated: [...document.querySelectorAll('#model-page .details-row')]
            .filter((row) => row.querySelector('dt')?.textContent === 'Updated by author')
            .map((row) => row.querySelector('dd').textContent.trim()),
          form: !!document.querySelector('#edit-page-form'),
          note: document.querySelector('#edit-page-form [role="status"]')?.textContent.trim() ?? null,
          errors: [...document.querySelectorAll('.message.error:not([hidden])')].map((e) => e.textContent.trim()),
        };
      });
      // Its author's page: the edit button; the model's description is not
      // the version's notes shown twice.
      const before = await until(`the page of "${own}" with its images and the edit button`, async () => {
        const seen = await shown();
        seen.button = await page.locator('#edit-page-button').isVisible();
        const ok = seen.name === own && seen.button && seen.images > 0 && !seen.updated.length &&
          !(seen.aboutModel !== null && seen.aboutModel === seen.aboutVersion);
        return { ok, seen };
      });
      await page.click('#edit-page-button');
      await page.locator('#edit-page-form').waitFor();
      // Saving what is already there asks for a change instead of signing one.
      await page.click('#edit-page-save');
      await until('the form to say nothing changed', async () => {
        const seen = await shown();
        return { ok: /^Nothing changed/.test(seen.note || ''), seen };
      }, 5000);
      await page.fill('#edit-page-form [name="modelDescription"]', 'Freshly **rewritten** page zebracorn');
      await page.fill('#edit-page-form [name="tags"]', 'edited-tag');
      const showBox = page.locator('#edit-page-form [data-image-show]').first();
      const hiddenSha = await showBox.getAttribute('data-image-show');
      await showBox.uncheck();
      await page.click('#edit-page-save');
      const after = await until('the updated page: the new description rendered, the new tag, one image fewer, the update\'s date', async () => {
        const seen = await shown();
        const ok = !seen.form && (seen.aboutModel || '').includes('zebracorn') && seen.aboutModelStrong.includes('rewritten') &&
          seen.chips.length === 1 && seen.chips[0] === 'edited-tag' && seen.images === before.seen.images - 1 &&
          seen.updated.length === 1 && seen.updated[0] !== '';
        return { ok, seen };
      });
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot('edit-page.png');
      const api = await page.evaluate(async (sha) => {
        const id = location.pathname.split('/')[2];
        const versionId = document.querySelector('#model-page .model-layout')?.dataset.versionId;
        const model = await (await fetch(`/api/v1/models/${id}`)).json();
        const version = model.modelVersions.find((v) => String(v.id) === versionId);
        return { description: model.description, tags: model.tags,
          hidden: version ? version.seedbank.hiddenImages.includes(sha) : null, update: version ? version.seedbank.update : null };
      }, hiddenSha);
      if (!String(api.description).includes('zebracorn') || JSON.stringify(api.tags) !== '["edited-tag"]' || !api.hidden || !api.update) {
        throw new StepFailure(`/api/v1/models after the update: ${JSON.stringify(api)}`);
      }
      return { model: own, hidden: hiddenSha, updated: after.seen.updated[0] };
    });

    // (12c) Trends, from the header: weekly bars by type drawn as SVG with
    // every expected type in the legend, prompt terms, and the numbers as CSV.
    await step('trends', async () => {
      await page.locator('.site-nav a[href="/trends"]').click();
      const types = [...new Set(expect.models.map((m) => m.type))];
      await until(`weekly release bars with ${types.join(', ')} in the legend, and prompt terms`, async () => {
        const seen = await page.evaluate(() => ({
          url: location.pathname,
          bars: document.querySelectorAll('#trend-release-types svg rect.chart-bar').length,
          legend: [...document.querySelectorAll('#trend-release-types .chart-legend li')].map((li) => li.firstChild.nextSibling?.textContent ?? ''),
          terms: [...document.querySelectorAll('#trend-terms svg .chart-label')].map((t) => t.textContent),
          csv: document.querySelector('#trends-csv')?.getAttribute('href') ?? null,
          errors: [...document.querySelectorAll('.message.error:not([hidden])')].map((e) => e.textContent.trim()),
        }));
        const ok = seen.url === '/trends' && seen.bars > 0 && types.every((t) => seen.legend.includes(t)) &&
          seen.terms.length > 0 && !seen.errors.length;
        return { ok, seen };
      });
      await shot('trends.png');
      const csv = await page.evaluate(async () => {
        const r = await fetch(document.querySelector('#trends-csv').getAttribute('href'));
        return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
      });
      if (csv.status !== 200 || !String(csv.type).startsWith('text/csv') || !csv.body.startsWith('series,week,name,count\n') ||
          !types.every((t) => csv.body.includes(`,${t},`))) {
        throw new StepFailure(`the CSV link: ${JSON.stringify({ ...csv, body: csv.body.slice(0, 300) })}`);
      }
      // Prompts of one base model: the page follows the choice in its
      // address, and its terms are those the API gives for that base model.
      const base = await page.locator('#trend-base option').nth(1).getAttribute('value');
      if (!base) throw new StepFailure('no base model to choose for the prompts: the fixture images have generation data');
      {
        await page.selectOption('#trend-base', base);
        const want = await page.evaluate(async (b) => {
          const r = await fetch(`/api/seedbank/trends?baseModel=${encodeURIComponent(b)}`);
          return (await r.json()).prompts.terms.map((t) => `${t.term} ${t.total}`);
        }, base);
        await until(`the terms of ${base}'s prompts`, async () => {
          const seen = await page.evaluate(() => ({
            query: new URLSearchParams(location.search).get('baseModel'),
            title: document.querySelector('#trend-terms .panel-title')?.textContent ?? '',
            terms: [...document.querySelectorAll('#trend-terms svg .chart-row')]
              .map((g) => `${g.querySelector('.chart-label').textContent} ${g.querySelector('.chart-value').textContent}`),
          }));
          const ok = seen.query === base && seen.title.includes(base) && want.length > 0 &&
            JSON.stringify(seen.terms) === JSON.stringify(want);
          return { ok, seen: { ...seen, want } };
        });
      }
      return { types, csvBytes: csv.body.length, base };
    });

    // (12d) Publishing from the gallery, from the You page: a model file
    // whose upload is cut after its first chunk (every later chunk fails
    // until the connection is back) and resumed, one sample image chosen
    // and one dropped, their generation data shown, the fields filled in;
    // then a new version from the model page, its file named by its path
    // on this machine, and its description edited. published.json in OUTDIR
    // says what was published, for the C++ side to compare with the CLI and
    // look for on another node.
    await step('publish', async () => {
      if (!expect.publish) return { skipped: 'no "publish" in the expect file' };
      const want = expect.publish;
      await page.goto(`${args.base}/me`, { waitUntil: 'domcontentloaded' });
      await page.locator('#publish-link').click();
      await page.locator('#publish-form').waitFor();
      let cut = true;
      let aborted = 0;
      const later = (url) => /\/api\/seedbank\/uploads\/[0-9a-f]{32}\?offset=[1-9]/.test(url.href);
      await page.route(later, (route) => {
        if (!cut) return route.continue();
        aborted += 1;
        return route.abort('connectionreset');
      });
      await page.setInputFiles('#publish-file-input', want.model);
      const row = page.locator('#publish-files .upload-row').first();
      await until('the upload to stop after its first chunk, with a Resume button', async () => {
        const seen = { state: await row.getAttribute('data-state'), status: await row.locator('.upload-status').textContent(),
          resume: await row.locator('.upload-resume').isVisible(), aborted };
        return { ok: seen.state === 'stopped' && seen.resume, seen };
      }, 60000);
      const half = await page.evaluate(async () => (await (await fetch('/api/seedbank/uploads')).json()).items);
      if (half.length !== 1 || !(half[0].received > 0) || half[0].complete) {
        throw new StepFailure(`the node after the cut: ${JSON.stringify(half)}`);
      }
      cut = false;
      await page.unroute(later);
      await row.locator('.upload-resume').click();
      await until('the resumed upload to finish', async () => {
        const seen = { state: await row.getAttribute('data-state'), status: await row.locator('.upload-status').textContent() };
        return { ok: seen.state === 'ready', seen };
      }, 60000);
      // One image chosen, one dropped on the drop zone.
      await page.setInputFiles('#publish-image-input', want.images[0]);
      const dropped = await readFile(want.images[1]);
      const transfer = await page.evaluateHandle(({ bytes, name }) => {
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/jpeg' }));
        return data;
      }, { bytes: [...dropped], name: path.basename(want.images[1]) });
      await page.locator('#publish-image-drop').dispatchEvent('drop', { dataTransfer: transfer });
      await until('both images uploaded, their generation data shown', async () => {
        const seen = await page.evaluate(() => [...document.querySelectorAll('#publish-images .upload-row')].map((r) => ({
          name: r.dataset.name, state: r.dataset.state,
          sampler: [...r.querySelectorAll('.upload-meta dt')].find((dt) => dt.textContent === 'Sampler')?.nextElementSibling.textContent ?? null,
        })));
        const ok = seen.length === 2 && seen.every((r) => r.state === 'ready' && r.sampler);
        return { ok, seen };
      });
      await page.fill('#publish-name', want.name);
      await page.fill('#publish-version', 'v1.0');
      await page.selectOption('#publish-type', 'LORA');
      await page.fill('#publish-baseModel', 'SD 1.5');
      await page.fill('#publish-description', 'Published from the browser');
      await page.fill('#publish-tags', 'web, browser');
      await shot('publish.png');
      await page.click('#publish-submit');
      const opened = async (versionName) => until(`the model page of ${want.name} ${versionName}`, async () => {
        const seen = await page.evaluate(() => ({
          url: location.pathname + location.search,
          name: document.querySelector('#model-page h1.model-name')?.textContent.trim() ?? null,
          versionId: document.querySelector('#model-page .model-layout')?.dataset.versionId ?? null,
          note: document.querySelector('#publish-note')?.textContent ?? null,
        }));
        return { ok: seen.name === want.name && /^\/models\//.test(seen.url) && !!seen.versionId, seen };
      }, 60000);
      const first = await opened('v1.0');
      const version = (id) => page.evaluate(async (v) => (await fetch(`/api/v1/model-versions/${v}`)).json(), id);
      const v1 = await version(first.seen.versionId);
      if (v1.name !== 'v1.0' || v1.images.length !== 2 || v1.baseModel !== 'SD 1.5') {
        throw new StepFailure(`the published version: ${JSON.stringify({ name: v1.name, images: v1.images.length, baseModel: v1.baseModel })}`);
      }
      // A new version, from the page's author buttons, its file by path.
      await page.locator('#add-version-link').click();
      await page.locator('#publish-form').waitFor();
      if (await page.inputValue('#publish-name') !== want.name) throw new StepFailure('the new version form lost the model name');
      await page.fill('#publish-path', want.version2);
      await page.click('#publish-path-add');
      await page.fill('#publish-version', 'v2.0');
      await until('the preview to say this is a new version', async () => {
        const seen = await page.locator('#publish-supersedes').textContent().catch(() => null);
        return { ok: !!seen && seen.includes('v1.0'), seen };
      });
      await page.click('#publish-submit');
      await until('the new version\'s page', async () => {
        const seen = await page.evaluate(() => document.querySelector('#model-page .model-layout')?.dataset.versionId ?? null);
        return { ok: !!seen && seen !== first.seen.versionId, seen };
      }, 60000);
      const v2Id = await page.evaluate(() => document.querySelector('#model-page .model-layout').dataset.versionId);
      // Its notes, edited.
      await page.click('#edit-page-button');
      await page.fill('#edit-page-form [name="description"]', 'Second version, edited in the browser');
      await page.click('#edit-page-save');
      await until('the edited notes', async () => {
        const v = await version(v2Id);
        return { ok: v.description === 'Second version, edited in the browser', seen: v.description };
      });
      const v2 = await version(v2Id);
      const result = {
        name: want.name,
        modelId: v1.modelId,
        first: { releaseId: v1.seedbank.releaseId, modelVersionId: v1.id },
        second: { releaseId: v2.seedbank.releaseId, modelVersionId: v2.id, supersedes: v2.seedbank.supersedes ?? null },
        abortedChunks: aborted,
      };
      await writeFile(path.join(args.out, 'published.json'), JSON.stringify(result));
      return result;
    });

    // (13) An unknown model: a page that says so, not an error to retry.
    await step('not-found', async () => {
      await page.goto(`${args.base}/models/999999999999`, { waitUntil: 'domcontentloaded' });
      await until('the not-found page', async () => {
        const seen = await page.evaluate(() => ({
          notFound: document.querySelector('#not-found h1')?.textContent.trim() ?? null,
          errors: [...document.querySelectorAll('.message.error:not([hidden])')].map((e) => e.textContent.trim()),
        }));
        return { ok: seen.notFound === 'Model not found' && !seen.errors.length, seen };
      });
    });

    summary.ok = true;
    exitCode = 0;
  } catch (err) {
    summary.failedStep = stepName;
    summary.error = err instanceof StepFailure ? err.message : (err.stack || String(err)).split('\n').slice(0, 3).join(' ');
    process.stderr.write(`FAILED at step ${stepName}: ${summary.error}\n`);
    // What the page looked like when it failed, next to the other screenshots.
    if (page) {
      const file = path.join(args.out, 'failure.png');
      await page.screenshot({ path: file, fullPage: true }).then(() => summary.screenshots.push(file), () => {});
    }
  } finally {
    if (context) await context.close().catch(() => {});
    await rm(profileDir, { recursive: true, force: true }).catch(() => {});
  }
  summary.ms = Date.now() - started;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(exitCode);
}

main();
