import { byId, excerpt, fullTime, h, shortTime } from '../dom.js';
import { conversationHash } from '../routes.js';
import type { ChatStore, ExpertRequest } from '../store.js';

/**
 * For experts, above the conversations: the org's open expert requests, oldest first, kept live.
 * Claiming one joins its conversation and opens it.
 */
export class ExpertDesk {
  private readonly section = byId('desk');
  private readonly list = byId<HTMLUListElement>('desk-list');
  private readonly count = byId('desk-count');
  private readonly empty = byId('desk-empty');

  constructor(private readonly store: ChatStore) {
    store.on('desk', () => this.render());
    this.render();
  }

  private render(): void {
    const desk = this.store.state.desk;
    this.section.hidden = !desk;
    const requests = desk?.requests ?? [];
    this.list.replaceChildren(...requests.map((r) => h('li', {}, this.item(r))));
    this.count.textContent = String(requests.length);
    this.count.hidden = requests.length === 0;
    this.empty.hidden = requests.length > 0;
  }

  private item(r: ExpertRequest): HTMLDivElement {
    const claim = h(
      'button',
      { type: 'button', class: 'primary', 'data-testid': 'claim-button', 'aria-label': `Claim the request of ${r.requestedBy.displayName}` },
      'Claim',
    );
    claim.addEventListener('click', () => {
      claim.disabled = true;
      this.store
        .claim(r.id)
        .then((conversationId) => {
          location.hash = conversationHash(conversationId);
        })
        .catch((err) => {
          claim.disabled = false;
          this.store.report(err);
        });
    });
    return h(
      'div',
      { class: 'desk-item', 'data-testid': 'desk-item', 'data-request-id': r.id },
      h('span', { class: 'desk-reason' }, r.reason ? excerpt(r.reason, 160) : 'No reason given'),
      h(
        'span',
        { class: 'desk-meta muted' },
        `${r.requestedBy.displayName} · `,
        h('time', { datetime: r.createdAt, title: fullTime(r.createdAt) }, shortTime(r.createdAt)),
      ),
      claim,
    );
  }
}
