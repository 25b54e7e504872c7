import { randomBytes, randomUUID } from 'node:crypto';
import { isAdmin, type Viewer } from '../../auth/viewer.js';
import type { WebhookDeliveryRow, WebhookRow } from '../../db/schema/index.js';
import { BadInputError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { cursorDate, decodeCursor, encodeCursor, forwardPage, type Page, type PageArgs } from '../../lib/paging.js';
import { isUuid } from '../../lib/validate.js';
import { isWebhookEvent } from './event-types.js';
import type { WebhookQueue } from './queue.js';
import type { SecretBox } from './secret-box.js';
import type { WebhookSubscriptions } from './subscriptions.js';
import { checkUrlResolves, UnsafeUrl, type UrlPolicy } from './url-policy.js';
import type { DeliveryKey, WebhookRepository } from './webhook.repository.js';

/** Webhooks one org may have. */
export const MAX_WEBHOOKS_PER_ORG = 50;
const MAX_EVENTS = 50;

export type WebhookWithSecret = { webhook: WebhookRow; secret: string };

/** A new signing secret: Standard Webhooks' `whsec_` and 32 random bytes in base64. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The org's webhooks, managed by its admins and its API keys. Every change is told to every
 * instance (WebhookSubscriptions), so sends write outbox rows for the webhooks there are now.
 */
export class WebhookService {
  constructor(
    private readonly repo: WebhookRepository,
    private readonly subscriptions: WebhookSubscriptions,
    private readonly queue: Pick<WebhookQueue, 'redeliver'>,
    private readonly policy: UrlPolicy,
    private readonly box: SecretBox,
  ) {}

  async create(viewer: Viewer, input: { url: string; events: readonly string[] }): Promise<WebhookWithSecret> {
    requireManager(viewer);
    const url = await this.checkUrl(input.url);
    const events = checkEvents(input.events);
    if ((await this.repo.list(viewer.orgId)).length >= MAX_WEBHOOKS_PER_ORG) {
      throw new BadInputError(`An org has at most ${MAX_WEBHOOKS_PER_ORG} webhooks`);
    }
    const id = randomUUID();
    const secret = newSecret();
    const webhook = await this.repo.insert({ id, orgId: viewer.orgId, url, events, secret: this.box.seal(id, secret) });
    await this.subscriptions.changed(viewer.orgId);
    return { webhook, secret };
  }

  async update(viewer: Viewer, id: string, input: { url?: string | null; events?: readonly string[] | null; enabled?: boolean | null }): Promise<WebhookRow> {
    requireManager(viewer);
    if (input.url === null) throw new BadInputError('`url` cannot be null', 'url');
    if (input.events === null) throw new BadInputError('`events` cannot be null', 'events');
    if (input.enabled === null) throw new BadInputError('`enabled` cannot be null', 'enabled');
    const changes = {
      ...(input.url !== undefined ? { url: await this.checkUrl(input.url) } : {}),
      ...(input.events !== undefined ? { events: checkEvents(input.events) } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    };
    const row = isUuid(id) ? await this.repo.update(viewer.orgId, id, changes) : null;
    if (!row) throw new NotFoundError('Webhook');
    await this.subscriptions.changed(viewer.orgId);
    return row;
  }

  async delete(viewer: Viewer, id: string): Promise<boolean> {
    requireManager(viewer);
    if (!isUuid(id) || !(await this.repo.delete(viewer.orgId, id))) throw new NotFoundError('Webhook');
    await this.subscriptions.changed(viewer.orgId);
    return true;
  }

  /** A new secret; the old one signs nothing more. */
  async rotateSecret(viewer: Viewer, id: string): Promise<WebhookWithSecret> {
    requireManager(viewer);
    const secret = newSecret();
    const webhook = isUuid(id) ? await this.repo.update(viewer.orgId, id, { secret: this.box.seal(id, secret) }) : null;
    if (!webhook) throw new NotFoundError('Webhook');
    return { webhook, secret };
  }

  async list(viewer: Viewer): Promise<WebhookRow[]> {
    requireManager(viewer);
    return this.repo.list(viewer.orgId);
  }

  /** A webhook's delivery log, newest first. */
  async deliveries(viewer: Viewer, webhookId: string, args: PageArgs & { status?: WebhookDeliveryRow['status'] | null }): Promise<Page<WebhookDeliveryRow>> {
    requireManager(viewer);
    return forwardPage(
      args,
      decodeDeliveryCursor,
      async (after, limit) => {
        if (!isUuid(webhookId) || !(await this.repo.byId(viewer.orgId, webhookId))) throw new NotFoundError('Webhook');
        return this.repo.deliveries(webhookId, args.status ?? undefined, after, limit);
      },
      (d) => encodeCursor('whd', `${d.createdAt.getTime()}:${d.id}`),
    );
  }

  /** Makes a delivery again, whatever became of it. */
  async redeliver(viewer: Viewer, deliveryId: string): Promise<WebhookDeliveryRow> {
    requireManager(viewer);
    const delivery = isUuid(deliveryId) ? await this.repo.delivery(viewer.orgId, deliveryId) : null;
    const reopened = delivery ? await this.queue.redeliver(delivery.id) : null;
    if (!reopened) throw new NotFoundError('Webhook delivery');
    return reopened;
  }

  private async checkUrl(raw: string): Promise<string> {
    try {
      return (await checkUrlResolves(raw, this.policy)).href;
    } catch (err) {
      if (err instanceof UnsafeUrl) throw new BadInputError(`\`url\` ${err.message}`, 'url');
      throw err;
    }
  }
}

/** Admins and the org's API keys (acting as anyone) manage its webhooks. */
function requireManager(viewer: Viewer): void {
  if (!isAdmin(viewer) && viewer.credential.type !== 'apiKey') {
    throw new ForbiddenError('Only admins and API keys manage webhooks');
  }
}

function checkEvents(events: readonly string[]): string[] {
  if (events.length === 0) throw new BadInputError('`events` must name at least one event (or *)', 'events');
  if (events.length > MAX_EVENTS) throw new BadInputError(`\`events\` takes at most ${MAX_EVENTS} names`, 'events');
  const unknown = events.filter((e) => !isWebhookEvent(e));
  if (unknown.length) {
    throw new BadInputError(
      `Unknown event ${unknown
        .slice(0, 5)
        .map((e) => JSON.stringify(e.slice(0, 100)))
        .join(', ')}`,
      'events',
    );
  }
  return [...new Set(events)];
}

function decodeDeliveryCursor(raw: string): DeliveryKey | undefined {
  const value = decodeCursor('whd', raw);
  const match = value === undefined ? null : /^(\d{1,16}):(.+)$/.exec(value);
  if (!match || !isUuid(match[2]!)) return undefined;
  const createdAt = cursorDate(Number(match[1]));
  return createdAt ? { createdAt, id: match[2]! } : undefined;
}
