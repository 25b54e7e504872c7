import { h } from '../dom.js';
import type { Reaction } from '../view-message.js';

/** The emoji the picker offers; any other reaction someone made still shows and can be joined. */
export const PICKER_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

/**
 * A message's reactions: one chip per emoji with its count, pressed when the viewer is among
 * those who reacted; a click adds or takes back the viewer's own. Null when there are none.
 */
export function reactionChips(reactions: readonly Reaction[], toggle: (emoji: string) => void, isMe: (userId: string) => boolean): HTMLDivElement | null {
  if (!reactions.length) return null;
  const chips = reactions.map((r) => {
    const names = r.users.map((u) => (isMe(u.id) ? 'you' : u.displayName));
    const more = r.count - r.users.length;
    const who = more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ');
    const chip = h(
      'button',
      {
        type: 'button',
        class: 'reaction',
        'data-testid': 'reaction',
        'data-emoji': r.emoji,
        'aria-pressed': r.viewerReacted ? 'true' : 'false',
        title: `${r.emoji} by ${who}`,
        'aria-label': `${r.emoji} ${r.count}, by ${who}. ${r.viewerReacted ? 'Take back yours' : 'Add yours'}`,
      },
      h('span', { class: 'reaction-emoji' }, r.emoji),
      h('span', { class: 'reaction-count', 'data-testid': 'reaction-count' }, String(r.count)),
    );
    chip.addEventListener('click', () => toggle(r.emoji));
    return chip;
  });
  return h('div', { class: 'reactions', 'data-testid': 'reactions' }, ...chips);
}

/** The button that opens a small picker of emoji to react with. */
export function reactionPicker(toggle: (emoji: string) => void): HTMLSpanElement {
  const picker = h(
    'div',
    { class: 'reaction-picker', role: 'menu', 'aria-label': 'Pick a reaction', 'data-testid': 'reaction-picker', hidden: true },
    ...PICKER_EMOJI.map((emoji) => {
      const b = h('button', { type: 'button', role: 'menuitem', 'data-emoji': emoji, 'aria-label': `React with ${emoji}` }, emoji);
      b.addEventListener('click', () => {
        picker.hidden = true;
        toggle(emoji);
      });
      return b;
    }),
  );
  const add = h(
    'button',
    { type: 'button', class: 'reaction-add', 'data-testid': 'add-reaction', 'aria-label': 'Add a reaction', 'aria-haspopup': 'menu', title: 'Add a reaction' },
    '☺+',
  );
  add.addEventListener('click', () => {
    picker.hidden = !picker.hidden;
    if (!picker.hidden) picker.querySelector('button')?.focus();
  });
  picker.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      picker.hidden = true;
      add.focus();
    }
  });
  picker.addEventListener('focusout', (e) => {
    if (!picker.contains(e.relatedTarget as Node | null) && e.relatedTarget !== add) picker.hidden = true;
  });
  return h('span', { class: 'reaction-add-wrap' }, add, picker);
}
