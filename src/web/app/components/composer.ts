import { byId, excerpt, setAlert } from '../dom.js';
import type { ChatStore } from '../store.js';
import { MentionPicker } from './mention-picker.js';

/**
 * Where a message is written: Enter sends, Shift+Enter makes a new line, Escape drops the reply.
 * Shows the message being replied to, announces typing, and keeps a message that failed to send.
 */
export class Composer {
  private readonly form = byId<HTMLFormElement>('composer');
  private readonly input = byId<HTMLTextAreaElement>('composer-input');
  private readonly error = byId('composer-error');
  private readonly replyPreview = byId('reply-preview');
  private readonly replyText = byId('reply-preview-text');
  private readonly replyCancel = byId<HTMLButtonElement>('reply-cancel');
  private readonly mentions: MentionPicker;

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
        } else if (e.key === 'Escape' && store.state.replyTo) {
          store.setReply(null);
        }
      },
      { signal },
    );
    this.input.addEventListener('input', () => store.typed(this.input.value.trim() !== ''), { signal });
    this.input.addEventListener('blur', () => store.stopTyping(), { signal });
    this.replyCancel.addEventListener(
      'click',
      () => {
        store.setReply(null);
        this.input.focus();
      },
      { signal },
    );
    store.on('open', () => {
      setAlert(this.error, null);
      this.mentions.reset();
      if (store.state.open) this.input.focus();
    });
    store.on('reply', () => this.renderReply());
    this.renderReply();
  }

  private renderReply(): void {
    const m = this.store.state.replyTo;
    this.replyPreview.hidden = !m;
    this.replyText.textContent = m ? `Replying to ${this.store.isMe(m.senderId) ? 'yourself' : m.senderName}: ${excerpt(m.content, 100)}` : '';
    if (m) this.input.focus();
  }

  private async send(): Promise<void> {
    const { store, input } = this;
    const open = store.state.open;
    const content = input.value.trim();
    if (!open || !content) return;
    const replyTo = store.state.replyTo;
    const mentionIds = this.mentions.mentionIds(content);
    input.value = '';
    store.setReply(null);
    setAlert(this.error, null);
    try {
      await store.send(content, { replyTo, mentionIds });
      if (input.value === '') this.mentions.reset();
    } catch (err) {
      // Give the text back, unless the person has moved on to another conversation or message.
      if (store.state.open === open && input.value === '') {
        input.value = content;
        store.setReply(replyTo);
      }
      store.report(err, (message) => setAlert(this.error, message));
    }
  }
}
