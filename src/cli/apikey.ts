// Manages service API keys (stored only as SHA-256 hashes; the key is printed once):
//   npm run apikey -- create --name notifier [--org default] [--user notifier-bot] [--display-name "Notifier"]
//   npm run apikey -- list [--org default]
//   npm run apikey -- revoke <id>
import { parseArgs } from 'node:util';
import { ApiKeys } from '../auth/api-keys.js';
import { openForCommand } from './database.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    org: { type: 'string', default: 'default' },
    user: { type: 'string' },
    'display-name': { type: 'string' },
  },
});
const [command, arg] = positionals;

const usage = () => {
  console.error('usage: npm run apikey -- create --name NAME [--org ORG] [--user USER_ID] [--display-name NAME] | list [--org ORG] | revoke ID');
  process.exit(2);
};

// The embedded database takes one process at a time, and the server has no API for keys.
const { database } = await openForCommand('apikey', 'run both with DATABASE_URL');
try {
  const keys = new ApiKeys(database.db);
  if (command === 'create') {
    if (!values.name) usage();
    const userId = values.user ?? values.name!;
    // The key's own identity, used when no act-as is given: a service account of kind AGENT.
    const { key, row } = await keys.create({ orgId: values.org!, name: values.name!, userId, displayName: values['display-name'] });
    console.error(`created API key ${row.id} (${row.prefix}…) for org "${row.orgId}", acting as "${userId}" by default.`);
    console.error('Store it now: it is not shown again.');
    console.log(key);
  } else if (command === 'list') {
    for (const k of await keys.list(values.org!)) {
      console.log([k.id, `${k.prefix}…`, k.name, k.userId, k.revokedAt ? 'revoked' : 'active', k.createdAt.toISOString()].join('\t'));
    }
  } else if (command === 'revoke' && arg) {
    console.log((await keys.revoke(arg)) ? 'revoked' : 'no active key with that id');
  } else {
    usage();
  }
} finally {
  await database.close();
}
