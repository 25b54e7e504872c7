import { h } from '../dom.js';
import type { ChatStore, StreamView } from '../store.js';
import { partsElement } from './parts.js';

/**
 * Agents' answers while they stream, below the messages: the parts so far as they arrive, a Stop
 * button (CANCEL for the run), and Pause/Resume with a "paused" mark while the run is held. Once
 * complete, an answer becomes an ordinary message in the list above.
 */
export class StreamList {
  constructor(
    private readonly store: ChatStore,
    private readonly list: HTMLOListElement,
  ) {}

  render(): void {
    const streams = this.store.state.open?.streams ?? [];
    // Redrawn on each part: keep a reasoning block the reader opened open.
    const opened = new Set(
      [...this.list.querySelectorAll<HTMLElement>('[data-stream-id]')].filter((el) => el.querySelector('details[open]')).map((el) => el.dataset.streamId),
    );
    this.list.replaceChildren(...streams.map((s) => this.item(s, opened.has(s.id))));
  }

  private item(s: StreamView, reasoningOpen: boolean): HTMLLIElement {
    const stop = this.control('Stop', 'stop-button', 'Stop this answer', () => this.store.steer(s, 'CANCEL'));
    const hold = s.paused
      ? this.control('Resume', 'resume-button', 'Let this answer go on', () => this.store.steer(s, 'RESUME'))
      : this.control('Pause', 'pause-button', 'Pause this answer', () => this.store.steer(s, 'PAUSE'));
    const parts = partsElement(s.parts);
    if (reasoningOpen) parts.querySelector('details')?.setAttribute('open', '');
    return h(
      'li',
      { class: `message streaming${s.paused ? ' paused' : ''}`, 'data-testid': 'streaming-answer', 'data-stream-id': s.id, 'aria-busy': 'true' },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'author', 'data-testid': 'agent-name' }, s.agentName),
        h('span', { class: 'role-mark' }, 'AI'),
        s.paused
          ? h('span', { class: 'paused-mark', 'data-testid': 'paused-indicator' }, 'Paused')
          : h('span', { class: 'streaming-mark', 'aria-label': 'Answering' }, 'answering…'),
        s.runId ? h('span', { class: 'msg-actions' }, hold, stop) : null,
      ),
      s.parts.length ? parts : h('p', { class: 'content muted' }, '…'),
    );
  }

  private control(label: string, testId: string, aria: string, run: () => Promise<void>): HTMLButtonElement {
    const b = h('button', { type: 'button', class: `msg-action ${testId}`, 'data-testid': testId, 'aria-label': aria }, label);
    b.addEventListener('click', () => {
      b.disabled = true;
      run()
        .catch((err) => this.store.report(err))
        .finally(() => (b.disabled = false));
    });
    return b;
  }
}
