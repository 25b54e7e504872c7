import { h } from '../dom.js';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the character references an HTML escaper writes (named ones above, and numeric ones). */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/**
 * A search result's highlight as elements: the server sends the content HTML-escaped with the
 * matched words between <mark> and </mark>. It is never parsed as HTML: the text between the
 * marks is unescaped and goes in as text, so nothing in a message can become markup.
 */
export function highlightNodes(highlight: string): (string | HTMLElement)[] {
  const out: (string | HTMLElement)[] = [];
  const pieces = highlight.split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const piece of pieces) {
    if (piece === '<mark>') marked = true;
    else if (piece === '</mark>') marked = false;
    else if (piece) out.push(marked ? h('mark', {}, decodeEntities(piece)) : decodeEntities(piece));
  }
  return out;
}
