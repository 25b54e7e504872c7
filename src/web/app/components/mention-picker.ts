import { h } from '../dom.js';

export type Candidate = { id: string; displayName: string };

/** At most this many people are offered at once. */
const SHOWN = 6;

/**
 * Autocomplete of mentions in a textarea: typing `@` and the start of a name (or id) offers the
 * matching participants; ↑/↓ move, Enter or Tab pick, Escape closes. A pick writes `@Name ` into the
 * text, and `mentionIds` later gives those picked whose `@Name` is still there.
 */
export class MentionPicker {
  private readonly list = h('ul', { class: 'mention-list', role: 'listbox', 'aria-label': 'People to mention', 'data-testid': 'mention-list', hidden: true });
  private readonly picked = new Map<string, string>();
  private matches: Candidate[] = [];
  private active = 0;
  /** Where the `@` being completed starts in the text. */
  private at = -1;

  constructor(
    private readonly input: HTMLTextAreaElement,
    private readonly candidates: () => Candidate[],
    signal: AbortSignal,
  ) {
    input.insertAdjacentElement('beforebegin', this.list);
    input.setAttribute('aria-autocomplete', 'list');
    input.addEventListener('input', () => this.update(), { signal });
    input.addEventListener('click', () => this.update(), { signal });
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150), { signal });
    // Registered before the composer's own keys, so that Enter picks instead of sending.
    input.addEventListener('keydown', (e) => this.key(e), { signal });
  }

  /** The ids of the people picked whose mention is still in `text`. */
  mentionIds(text: string): string[] {
    return [...this.picked].filter(([, name]) => text.includes(`@${name}`)).map(([id]) => id);
  }

  reset(): void {
    this.picked.clear();
    this.close();
  }

  private update(): void {
    const before = this.input.value.slice(0, this.input.selectionStart ?? 0);
    const typed = /(?:^|\s)@([^\s@]{0,40})$/.exec(before);
    if (!typed) {
      this.close();
      return;
    }
    const query = typed[1]!.toLowerCase();
    this.at = before.length - typed[1]!.length - 1;
    this.matches = this.candidates()
      .filter((c) => c.displayName.toLowerCase().includes(query) || c.id.toLowerCase().startsWith(query))
      .sort((a, b) => Number(!a.displayName.toLowerCase().startsWith(query)) - Number(!b.displayName.toLowerCase().startsWith(query)))
      .slice(0, SHOWN);
    if (!this.matches.length) {
      this.close();
      return;
    }
    this.active = Math.min(this.active, this.matches.length - 1);
    this.render();
  }

  private render(): void {
    this.list.replaceChildren(
      ...this.matches.map((c, i) => {
        const li = h(
          'li',
          { role: 'option', 'aria-selected': i === this.active ? 'true' : 'false', 'data-testid': 'mention-option', 'data-user-id': c.id },
          h('strong', {}, c.displayName),
          h('span', { class: 'muted' }, ` @${c.id}`),
        );
        // mousedown, not click: the textarea keeps the focus.
        li.addEventListener('mousedown', (e) => {
          e.preventDefault();
          this.pick(c);
        });
        return li;
      }),
    );
    this.list.hidden = false;
  }

  private key(e: KeyboardEvent): void {
    if (this.list.hidden) return;
    const consume = () => {
      e.preventDefault();
      e.stopImmediatePropagation();
    };
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      consume();
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : -1) + this.matches.length) % this.matches.length;
      this.render();
    } else if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      consume();
      this.pick(this.matches[this.active]!);
    } else if (e.key === 'Escape') {
      consume();
      this.close();
    }
  }

  private pick(c: Candidate): void {
    const { input } = this;
    const caret = input.selectionStart ?? input.value.length;
    const inserted = `@${c.displayName} `;
    input.value = input.value.slice(0, this.at) + inserted + input.value.slice(caret);
    const at = this.at + inserted.length;
    input.setSelectionRange(at, at);
    this.picked.set(c.id, c.displayName);
    this.close();
    input.focus();
    input.dispatchEvent(new Event('input'));
  }

  private close(): void {
    this.list.hidden = true;
    this.matches = [];
    this.active = 0;
  }
}
