import { h } from '../dom.js';
import type { Part } from '../view-message.js';

/**
 * An agent's structured answer: its text, its reasoning in a collapsed block, each tool call with
 * its input and, once there, its result. Everything goes in as text.
 */
export function partsElement(parts: readonly Part[]): HTMLDivElement {
  const results = new Map<string, Part>();
  for (const p of parts) if (p.type === 'TOOL_RESULT' && p.toolCallId) results.set(p.toolCallId, p);
  const shown: HTMLElement[] = [];
  for (const p of parts) {
    switch (p.type) {
      case 'TEXT':
        shown.push(h('p', { class: 'content part-text', 'data-testid': 'part-text' }, p.text ?? ''));
        break;
      case 'REASONING':
        shown.push(
          h(
            'details',
            { class: 'part-reasoning', 'data-testid': 'part-reasoning' },
            h('summary', {}, 'Reasoning'),
            h('p', { class: 'part-reasoning-text' }, p.text ?? ''),
          ),
        );
        break;
      case 'TOOL_CALL': {
        const result = p.toolCallId ? results.get(p.toolCallId) : undefined;
        shown.push(
          h(
            'div',
            { class: 'part-tool', 'data-testid': 'part-tool', 'data-tool-call-id': p.toolCallId, 'data-done': result ? 'true' : 'false' },
            h(
              'div',
              { class: 'part-tool-head' },
              h('span', { class: 'part-tool-mark' }, 'Tool'),
              h('code', {}, p.toolName ?? 'tool'),
              result ? null : h('span', { class: 'muted' }, 'running…'),
            ),
            p.input !== null && p.input !== undefined ? h('span', { class: 'part-tool-label' }, 'Input') : null,
            p.input !== null && p.input !== undefined ? h('pre', { class: 'part-tool-input', 'data-testid': 'part-tool-input' }, json(p.input)) : null,
            result ? h('span', { class: 'part-tool-label' }, 'Result') : null,
            result ? h('pre', { class: 'part-tool-output', 'data-testid': 'part-tool-output' }, json(result.output)) : null,
          ),
        );
        break;
      }
      case 'TOOL_RESULT':
        // Shown with its call; a result whose call is not here shows on its own.
        if (!parts.some((c) => c.type === 'TOOL_CALL' && c.toolCallId === p.toolCallId)) {
          shown.push(h('pre', { class: 'part-tool-output', 'data-testid': 'part-tool-output' }, json(p.output)));
        }
        break;
      case 'SOURCE':
        shown.push(h('p', { class: 'part-source muted' }, `Source: ${p.text ?? json(p.data)}`));
        break;
      case 'DATA':
        shown.push(h('pre', { class: 'part-data' }, json(p.data)));
        break;
    }
  }
  return h('div', { class: 'parts' }, ...shown);
}

function json(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2) ?? '';
  } catch {
    return String(value);
  }
}
