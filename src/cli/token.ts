// Mints a development JWT with the server's secret (JWT_SECRET, or the one kept in DATA_DIR):
//   npm run token -- alice [--name "Alice Liddell"] [--org default] [--roles expert,admin] [--kind agent] [--ttl 24h]
import { parseArgs } from 'node:util';
import { mintToken } from '../auth/jwt.js';
import { resolveJwtSecret } from '../auth/secret.js';
import { ConfigError, loadConfig } from '../config.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    org: { type: 'string' },
    roles: { type: 'string' },
    kind: { type: 'string' },
    ttl: { type: 'string', default: '24h' },
  },
});

const sub = positionals[0];
if (!sub) {
  console.error('usage: npm run token -- <userId> [--name NAME] [--org ORG] [--roles expert,admin] [--kind user|agent] [--ttl 24h]');
  process.exit(2);
}
if (values.kind && values.kind !== 'user' && values.kind !== 'agent') {
  console.error('--kind must be "user" or "agent"');
  process.exit(2);
}

try {
  const config = loadConfig();
  const secret = resolveJwtSecret(config);
  if (!secret) {
    console.error('No HS256 secret: the server verifies tokens with JWT_JWKS_URL; mint tokens with your identity provider.');
    process.exit(2);
  }
  const token = await mintToken(secret, {
    sub,
    name: values.name,
    org: values.org,
    roles: values.roles
      ?.split(',')
      .map((r) => r.trim())
      .filter(Boolean),
    kind: values.kind as 'user' | 'agent' | undefined,
    expiresIn: values.ttl,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  console.log(token);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `could not mint a token: ${(err as Error).message}`);
  process.exit(1);
}
