// Descriptions, bios, reviews and comments: the Markdown that model
// cards use, or the HTML that descriptions imported from Civitai carry,
// rebuilt from a whitelist so that nothing a peer wrote runs or loads.

import { externalLink, h, safeHttpUrl, text } from './dom.js';

const INLINE_RE = new RegExp([
  '`([^`\\n]+)`', // 1 code
  '\\[([^\\]\\n]+)\\]\\(\\s*(https?:\\/\\/[^\\s)]+)\\s*\\)', // 2 text, 3 url
  '\\*\\*(\\S(?:[^\\n]*?\\S)?)\\*\\*', // 4 bold
  '__(\\S(?:[^\\n]*?\\S)?)__', // 5 bold
  '\\*(\\S(?:[^*\\n]*?\\S)?)\\*', // 6 italic
  '(?<![\\w])_(\\S(?:[^_\\n]*?\\S)?)_(?![\\w])', // 7 italic
  '(https?:\\/\\/[^\\s<>"\'()]*[^\\s<>"\'().,;:!?])', // 8 bare url
].join('|'), 'g');

function appendInline(parent, source, inLink = false) {
  let last = 0;
  for (const m of source.matchAll(INLINE_RE)) {
    if (m.index > last) parent.append(source.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] != null) {
      parent.append(h('code', null, m[1]));
    } else if (m[2] != null) {
      const href = safeHttpUrl(m[3]);
      if (inLink || !href) appendInline(parent, m[2], inLink);
      else parent.append(appendInline(externalLink(href), m[2], true));
    } else if (m[4] != null || m[5] != null) {
      parent.append(appendInline(h('strong'), m[4] != null ? m[4] : m[5], inLink));
    } else if (m[6] != null || m[7] != null) {
      parent.append(appendInline(h('em'), m[6] != null ? m[6] : m[7], inLink));
    } else if (m[8] != null) {
      const href = safeHttpUrl(m[8]);
      parent.append(inLink || !href ? m[8] : externalLink(href, m[8]));
    }
  }
  if (last < source.length) parent.append(source.slice(last));
  return parent;
}

const FENCE_RE = /^\s*```/;
const HEADING_RE = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_RE = /^\s*([-*+]|\d{1,9}[.)])\s+/;
const QUOTE_RE = /^\s{0,3}>\s?/;
const RULE_RE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

// The Markdown that model cards use: paragraphs, line breaks, headings,
// lists, quotes, code, **bold**, *italic*, `code` and http(s) links.
function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i += 1;
    } else if (FENCE_RE.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !FENCE_RE.test(lines[i])) body.push(lines[i++]);
      i += 1;
      out.append(h('pre', null, h('code', null, body.join('\n'))));
    } else if (RULE_RE.test(line)) {
      out.append(h('hr'));
      i += 1;
    } else if ((m = line.match(HEADING_RE))) {
      // The page's own h1/h2 come first, so Markdown headings start at h3.
      out.append(appendInline(h(`h${Math.min(6, m[1].length + 2)}`), m[2]));
      i += 1;
    } else if (LIST_RE.test(line)) {
      const list = h(/^\s*\d/.test(line) ? 'ol' : 'ul');
      while (i < lines.length && LIST_RE.test(lines[i])) {
        list.append(appendInline(h('li'), lines[i].replace(LIST_RE, '')));
        i += 1;
      }
      out.append(list);
    } else if (QUOTE_RE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE_RE.test(lines[i])) quoted.push(lines[i++].replace(QUOTE_RE, ''));
      out.append(h('blockquote', null, renderMarkdown(quoted.join('\n'))));
    } else {
      const p = h('p');
      do {
        if (p.firstChild) p.append(h('br'));
        appendInline(p, lines[i].trim());
        i += 1;
      } while (i < lines.length && lines[i].trim() && !startsBlock(lines[i]));
      out.append(p);
    }
  }
  return out;
}

function startsBlock(line) {
  return FENCE_RE.test(line) || RULE_RE.test(line) || HEADING_RE.test(line) || LIST_RE.test(line) || QUOTE_RE.test(line);
}

// Descriptions imported from Civitai are HTML. Parsing in a DOMParser
// document runs no script and loads nothing; only whitelisted elements are
// rebuilt here, with no attributes but a checked link target.
const KEPT_TAGS = new Set(['P', 'BR', 'STRONG', 'B', 'EM', 'I', 'U', 'S', 'DEL', 'CODE', 'PRE', 'UL', 'OL', 'LI',
  'BLOCKQUOTE', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'A', 'HR', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD']);
const DROPPED_TAGS = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'IFRAME', 'OBJECT', 'EMBED', 'NOSCRIPT', 'SVG', 'MATH',
  'TEXTAREA', 'SELECT', 'BUTTON', 'HEAD', 'TITLE']);
const HTML_HINT_RE = /<\/(p|div|h[1-6]|ul|ol|li|strong|em|b|i|a|span|blockquote|pre|code)>|<br\s*\/?>/i;

function renderSanitizedHtml(source) {
  const doc = new DOMParser().parseFromString(source, 'text/html');
  const out = document.createDocumentFragment();
  const copy = (from, to) => {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.append(node.data);
      } else if (node.nodeType === Node.ELEMENT_NODE && !DROPPED_TAGS.has(node.tagName)) {
        const tag = node.tagName;
        let el;
        if (!KEPT_TAGS.has(tag)) {
          el = null; // unwrap: keep the text, lose the element
        } else if (/^H[1-6]$/.test(tag)) {
          el = h(`h${Math.min(6, Number(tag[1]) + 2)}`);
        } else if (tag === 'A') {
          const href = safeHttpUrl(node.getAttribute('href'));
          el = href ? externalLink(href) : h('span');
        } else {
          el = h(tag.toLowerCase());
        }
        copy(node, el || to);
        if (el) to.append(el);
      }
    }
  };
  copy(doc.body, out);
  return out;
}

export function richText(source, className = 'rich-text') {
  const box = h('div', { class: className });
  const value = text(source);
  box.append(HTML_HINT_RE.test(value) ? renderSanitizedHtml(value) : renderMarkdown(value));
  return box;
}
