import { byId, h, setAlert } from '../dom.js';
import type { ChatStore, Panel } from '../store.js';
import type { ViewMessage } from '../view-message.js';
import { MentionPicker } from './mention-picker.js';
import { type MessageActions, messageElement } from './message.js';

/** The actions of a message shown in the side panel: no quoting and no thread of its own. */
export function panelActions(store: ChatStore): MessageActions {
  return {
    isMe: (userId) => store.isMe(userId),
    react: (m, emoji) => store.guard(store.toggleReaction(m, emoji)),
    togglePin: (m) => store.guard(store.togglePin(m)),
  };
}

/** A thread: its root, then its replies in order (live, as they come). */
export function threadBody(store: ChatStore, panel: Extract<Panel, { kind: 'thread' }>): HTMLElement {
  const actions = panelActions(store);
  const count = panel.replies?.length ?? panel.root.thread?.replyCount ?? 0;
  return h(
    'div',
    { class: 'thread', 'data-testid': 'thread' },
    h('ol', { class: 'messages thread-root', 'data-testid': 'thread-root' }, messageElement(panel.root, actions)),
    h(
      'p',
      { class: 'thread-count muted' },
      panel.replies === null ? 'Loading replies…' : count === 0 ? 'No replies yet.' : `${count} ${count === 1 ? 'reply' : 'replies'}`,
    ),
    h('ol', { class: 'messages', 'data-testid': 'thread-replies' }, ...(panel.replies ?? []).map((m) => messageElement(m, actions))),
  );
}

/** The composer under a thread: replies go to the root's thread, with mentions as in the conversation's. */
export class ThreadComposer {
  private readonly form = byId<HTMLFormElement>('thread-composer');
  private readonly input = byId<HTMLTextAreaElement>('thread-input');
  private readonly error = byId('thread-composer-error');
  private readonly mentions: MentionPicker;
  private root: ViewMessage | null = null;

  constructor(private readonly store: ChatStore) {
    const { signal } = store;
    this.mentions = new MentionPicker(this.input, () => store.mentionCandidates(), signal);
    this.form.addEventListener(
      'submit',
      (e) => {
        e.preventDefault();
        void this.send();
      },
      { signal },
    );
    this.input.addEventListener(
      'keydown',
      (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.form.requestSubmit();
        }
      },
      { signal },
    );
  }

  /** Shows the composer for this root's thread (null: hides it). */
  show(root: ViewMessage | null): void {
    const changed = root?.id !== this.root?.id;
    this.root = root;
    this.form.hidden = !root;
    if (!changed) return;
    this.input.value = '';
    this.mentions.reset();
    setAlert(this.error, null);
    if (root) this.input.focus({ preventScroll: true });
  }

  private async send(): Promise<void> {
    const root = this.root;
    const content = this.input.value.trim();
    if (!root || !content) return;
    const mentionIds = this.mentions.mentionIds(content);
    this.input.value = '';
    setAlert(this.error, null);
    try {
      await this.store.send(content, { threadId: root.id, mentionIds });
      this.mentions.reset();
    } catch (err) {
      if (this.root === root && this.input.value === '') this.input.value = content;
      this.store.report(err, (message) => setAlert(this.error, message));
    }
  }
}
