// Manages an org's webhooks, as its admins and API keys do over GraphQL:
//   npm run webhook -- create --url https://example.com/hooks --events message.created,evaluation.created [--org default]
//   npm run webhook -- list [--org default]
//   npm run webhook -- update <id> [--url URL] [--events a,b] [--enable | --disable] [--org default]
//   npm run webhook -- rotate <id> [--org default]
//   npm run webhook -- delete <id> [--org default]
//   npm run webhook -- deliveries <id> [--status FAILED] [--org default]
//   npm run webhook -- redeliver <deliveryId> [--org default]
import { parseArgs } from 'node:util';
import type { Viewer } from '../auth/viewer.js';
import { AppError } from '../graphql/errors.js';
import { SecretBox } from '../modules/webhooks/secret-box.js';
import { WebhookSubscriptions } from '../modules/webhooks/subscriptions.js';
import { enabledSubscriptions, WebhookRepository } from '../modules/webhooks/webhook.repository.js';
import { WebhookService } from '../modules/webhooks/webhook.service.js';
import { EventBus } from '../pubsub/pubsub.js';
import { openForCommand } from './database.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    org: { type: 'string', default: 'default' },
    url: { type: 'string' },
    events: { type: 'string' },
    enable: { type: 'boolean' },
    disable: { type: 'boolean' },
    status: { type: 'string' },
  },
});
const [command, arg] = positionals;

const usage = (): never => {
  console.error(
    'usage: npm run webhook -- create --url URL --events a,b | list | update ID [--url URL] [--events a,b] [--enable|--disable] | rotate ID | delete ID | deliveries ID [--status S] | redeliver DELIVERY_ID   (each takes --org ORG)',
  );
  process.exit(2);
};

const { config, database, log } = await openForCommand('webhook', 'use GraphQL (createWebhook …) with an API key');
// Running instances hear of the change over Redis (without it, within half a minute).
const bus = await EventBus.connect(config, log);
const split = (list: string | undefined) =>
  list
    ?.split(',')
    .map((e) => e.trim())
    .filter(Boolean);
const show = (w: { id: string; url: string; events: string[]; enabled: boolean; failureCount: number }) =>
  console.log([w.id, w.url, w.events.join(','), w.enabled ? 'enabled' : 'disabled', `${w.failureCount} failures`].join('\t'));
try {
  const repo = new WebhookRepository(database.db);
  const service = new WebhookService(
    repo,
    new WebhookSubscriptions(() => enabledSubscriptions(database), bus, log),
    { redeliver: (id) => repo.reopen(id) },
    config.webhooks,
    new SecretBox(config.webhooks.secretKeys),
  );
  // The CLI acts as an admin of the org.
  const admin: Viewer = { orgId: values.org!, userId: 'cli', displayName: 'CLI', kind: 'USER', roles: ['admin'], credential: { type: 'jwt', expiresAt: 0 } };
  if (command === 'create') {
    if (!values.url || !values.events) usage();
    const { webhook, secret } = await service.create(admin, { url: values.url!, events: split(values.events)! });
    console.error(`created webhook ${webhook.id} for org "${webhook.orgId}". Its signing secret (store it now: it is not shown again):`);
    console.log(secret);
  } else if (command === 'list') {
    for (const w of await service.list(admin)) show(w);
  } else if (command === 'update' && arg) {
    if (values.enable && values.disable) usage();
    const enabled = values.enable ? true : values.disable ? false : undefined;
    show(await service.update(admin, arg, { url: values.url, events: split(values.events), enabled }));
  } else if (command === 'rotate' && arg) {
    console.log((await service.rotateSecret(admin, arg)).secret);
  } else if (command === 'delete' && arg) {
    await service.delete(admin, arg);
    console.log('deleted');
  } else if (command === 'deliveries' && arg) {
    const status = values.status as 'PENDING' | 'SUCCEEDED' | 'FAILED' | undefined;
    if (status && !['PENDING', 'SUCCEEDED', 'FAILED'].includes(status)) usage();
    for (const d of (await service.deliveries(admin, arg, { first: 50, status })).nodes) {
      console.log([d.id, d.event, d.status, `${d.attempts} attempts`, d.responseStatus ?? '-', d.createdAt.toISOString(), d.responseExcerpt ?? ''].join('\t'));
    }
  } else if (command === 'redeliver' && arg) {
    const d = await service.redeliver(admin, arg);
    console.log(`${d.id} pending: the next server to poll delivers it`);
  } else {
    usage();
  }
} catch (err) {
  if (!(err instanceof AppError)) throw err;
  console.error(`${err.extensions.code}: ${err.message}`);
  process.exitCode = 1;
} finally {
  await bus.close();
  await database.close();
}
