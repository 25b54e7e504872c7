import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A key that encrypts webhook secrets at rest, with the id stored next to what it sealed. */
export type SecretKey = { id: string; key: Buffer };

const SEALED = 'enc1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Reads WEBHOOK_SECRET_KEY: `<id>:<base64 of 32 bytes>`, or several comma-separated, the first
 * sealing new secrets and all of them opening stored ones (so a key can be rotated in).
 */
export function parseSecretKeys(raw: string | undefined): SecretKey[] {
  if (!raw?.trim()) return [];
  const keys = raw.split(',').map((entry) => {
    const [id, encoded, ...rest] = entry.trim().split(':');
    if (!id || !KEY_ID.test(id) || !encoded || rest.length) throw new Error('each key must be <id>:<base64 of 32 bytes>, the id of letters, digits, - and _');
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32) throw new Error(`key ${id} must be 32 bytes (base64), not ${key.length}`);
    return { id, key };
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('key ids must differ');
  return keys;
}

/**
 * Webhook signing secrets as stored. With keys, a secret is kept as
 * `enc1:<key id>:<iv>:<tag>:<ciphertext>` (AES-256-GCM, base64url), authenticated with the
 * webhook's id so a sealed secret is no good in another row; without keys, as it is. A stored
 * secret that is not sealed (written before keys were set) is read as it is.
 */
export class SecretBox {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly SecretKey[]) {
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** What to store for `secret`: sealed with the first key, or as it is without keys. */
  seal(webhookId: string, secret: string): string {
    const current = this.keys[0];
    if (!current) return secret;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv).setAAD(Buffer.from(webhookId));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [SEALED, current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), sealed.toString('base64url')].join(':');
  }

  /** The secret a stored value holds; throws when its key is not configured or it was altered. */
  open(webhookId: string, stored: string): string {
    if (!stored.startsWith(`${SEALED}:`)) return stored;
    const [, keyId, iv, tag, sealed] = stored.split(':');
    const key = this.byId.get(keyId!);
    if (!key) throw new Error(`webhook secret sealed with key "${keyId}", which WEBHOOK_SECRET_KEY does not hold`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv!, 'base64url')).setAAD(Buffer.from(webhookId));
    decipher.setAuthTag(Buffer.from(tag!, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(sealed!, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Whether a stored value should be sealed again: plain while there are keys, or under an older key. */
  stale(stored: string): boolean {
    const current = this.keys[0];
    return current !== undefined && !stored.startsWith(`${SEALED}:${current.id}:`);
  }
}
