// Mature content: what this browser shows of each NSFW level, one setting
// kept in localStorage and applied wherever an image appears (cards, grids,
// the lightbox, avatars). Levels are Civitai's: 1 PG, 2 PG-13, 4 R, 8 X,
// 16 XXX, as the records set them.

export const NSFW_LEVELS = [[1, 'PG'], [2, 'PG-13'], [4, 'R'], [8, 'X'], [16, 'XXX']];
export const NSFW_MODES = [['show', 'Show'], ['blur', 'Blur'], ['hide', 'Hide']];
const DEFAULTS = { 1: 'show', 2: 'show', 4: 'blur', 8: 'hide', 16: 'hide' };
const STORAGE_KEY = 'seedbank.nsfw';

// {level: mode} for every level; what the browser cannot store or holds
// in a shape this code does not know falls back to the defaults.
export function nsfwSettings() {
  const out = { ...DEFAULTS };
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
  } catch {
    saved = null;
  }
  if (saved && typeof saved === 'object') {
    for (const [level] of NSFW_LEVELS) {
      if (NSFW_MODES.some(([mode]) => mode === saved[level])) out[level] = saved[level];
    }
  }
  return out;
}

export function setNsfwMode(level, mode) {
  const next = { ...nsfwSettings(), [level]: mode };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  } catch {
    // Private mode or storage full: the choice lasts for this page only.
  }
  return next;
}

export function resetNsfwSettings() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
  return nsfwSettings();
}

// An image's level: the number models and versions carry as nsfwLevel, or
// browsingLevel in /api/v1/images items (whose nsfwLevel is a name); an
// image with neither but marked nsfw counts as R. A combination of bits
// counts as its most explicit level.
export function imageLevel(image) {
  if (!image || typeof image !== 'object') return 1;
  const number = Number.isSafeInteger(image.nsfwLevel) ? image.nsfwLevel
    : Number.isSafeInteger(image.browsingLevel) ? image.browsingLevel : 0;
  for (const [level] of [...NSFW_LEVELS].reverse()) {
    if (number & level) return level;
  }
  return image.nsfw === true ? 4 : 1;
}

export function levelName(level) {
  const found = NSFW_LEVELS.find(([l]) => l === level);
  return found ? found[1] : 'PG';
}

export function nsfwMode(image) {
  return nsfwSettings()[imageLevel(image)] || 'show';
}
