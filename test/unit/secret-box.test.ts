import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/modules/webhooks/secret-box.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const webhookId = '0b6f3a51-3f2a-4c1e-9a57-5f1d2c3b4a59';

describe('SecretBox', () => {
  it('without keys stores secrets as they are', () => {
    const box = new SecretBox([]);
    expect(box.seal(webhookId, secret)).toBe(secret);
    expect(box.open(webhookId, secret)).toBe(secret);
    expect(box.stale(secret)).toBe(false);
  });

  it('seals with the first key, differently each time, and opens what it sealed', () => {
    const box = new SecretBox([k1]);
    const [a, b] = [box.seal(webhookId, secret), box.seal(webhookId, secret)];
    expect(a).toMatch(/^enc1:k1:/);
    expect(a).not.toContain(secret.slice(6, 20));
    expect(a).not.toBe(b);
    expect(box.open(webhookId, a)).toBe(secret);
    expect(box.stale(a)).toBe(false);
  });

  it('reads plain secrets stored before keys were set, and calls them stale', () => {
    const box = new SecretBox([k1]);
    expect(box.open(webhookId, secret)).toBe(secret);
    expect(box.stale(secret)).toBe(true);
  });

  it('rotates: a new first key seals, the old one still opens, and its rows are stale', () => {
    const old = new SecretBox([k1]).seal(webhookId, secret);
    const box = new SecretBox([k2, k1]);
    expect(box.open(webhookId, old)).toBe(secret);
    expect(box.stale(old)).toBe(true);
    expect(box.seal(webhookId, secret)).toMatch(/^enc1:k2:/);
  });

  it('refuses a secret under a key it does not hold, moved to another webhook, or altered', () => {
    const sealed = new SecretBox([k1]).seal(webhookId, secret);
    expect(() => new SecretBox([k2]).open(webhookId, sealed)).toThrow(/key "k1"/);
    expect(() => new SecretBox([]).open(webhookId, sealed)).toThrow(/key "k1"/);
    expect(() => new SecretBox([k1]).open('another-webhook', sealed)).toThrow();
    const parts = sealed.split(':');
    parts[4] = Buffer.from('x'.repeat(Buffer.from(parts[4]!, 'base64url').length)).toString('base64url');
    expect(() => new SecretBox([k1]).open(webhookId, parts.join(':'))).toThrow();
  });
});
