import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const shared = { DATABASE_URL: 'postgres://db/switchboard', REDIS_URL: 'redis://redis:6379' };
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('WORKERS', () => {
  it('is 1 by default, a count, or one per core with auto', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ ...shared, WORKERS: '4' }).workers).toBe(4);
    expect(loadConfig({ ...shared, WORKERS: 'auto' }).workers).toBe(Math.min(availableParallelism(), 64));
  });

  it('refuses what is not 1 to 64 or auto', () => {
    for (const WORKERS of ['0', '65', '1.5', 'two', '']) expect(problems({ ...shared, WORKERS })).toEqual([expect.stringMatching(/^WORKERS: /)]);
  });

  it('needs Postgres and Redis for more than one worker, auto included', () => {
    expect(problems({ WORKERS: '2' })).toEqual([expect.stringMatching(/^DATABASE_URL: /), expect.stringMatching(/^REDIS_URL: /)]);
    expect(problems({ WORKERS: 'auto', DATABASE_URL: shared.DATABASE_URL })).toEqual([expect.stringMatching(/^REDIS_URL: /)]);
    expect(problems({ WORKERS: '1' })).toEqual([]);
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  it('is a comma-separated list of host:port, IPv6 hosts in brackets; unset by default', () => {
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: 'redis-1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it('refuses what is not host:port, and REDIS_URL beside it', () => {
    for (const REDIS_CLUSTER_NODES of ['redis-1', 'redis-1:0', 'redis-1:65536', 'redis://redis-1:7000', 'a:1,,b:2', '::1:7000']) {
      expect(problems({ REDIS_CLUSTER_NODES })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES: /)]);
    }
    expect(problems({ ...shared, REDIS_CLUSTER_NODES: 'redis-1:7000' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES: .*REDIS_URL/)]);
  });

  it('is enough Redis for more than one worker', () => {
    expect(problems({ WORKERS: '2', DATABASE_URL: shared.DATABASE_URL, REDIS_CLUSTER_NODES: 'redis-1:7000' })).toEqual([]);
  });
});

describe('CORS_ORIGINS', () => {
  it('is a comma-separated list of origins, * among them if wanted; none by default', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: ' https://chat.example.com, http://localhost:5173 ,*' }).corsOrigins).toEqual([
      'https://chat.example.com',
      'http://localhost:5173',
      '*',
    ]);
  });

  it('refuses what is not an origin as a browser sends it', () => {
    for (const CORS_ORIGINS of [
      'chat.example.com',
      'https://chat.example.com/',
      'https://chat.example.com/app',
      'https://Chat.example.com',
      'https://*.example.com',
    ]) {
      expect(problems({ CORS_ORIGINS }), CORS_ORIGINS).toEqual([expect.stringMatching(/^CORS_ORIGINS: /)]);
    }
  });
});

describe('WEBHOOK_SECRET_KEY', () => {
  const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');

  it('is unset by default, or keys by id, the first sealing', () => {
    expect(loadConfig(shared).webhooks.secretKeys).toEqual([]);
    const { secretKeys } = loadConfig({ ...shared, WEBHOOK_SECRET_KEY: `k2:${key(2)}, k1:${key(1)}` }).webhooks;
    expect(secretKeys.map((k) => [k.id, k.key.equals(Buffer.alloc(32, k.id === 'k2' ? 2 : 1))])).toEqual([
      ['k2', true],
      ['k1', true],
    ]);
  });

  it('refuses keys that are not 32 bytes, ids that are missing or repeated', () => {
    for (const value of [key(1), `k1:${Buffer.alloc(16).toString('base64')}`, `k 1:${key(1)}`, `k1:${key(1)},k1:${key(2)}`, `k1:${key(1)}:x`]) {
      expect(problems({ ...shared, WEBHOOK_SECRET_KEY: value }).join('\n')).toMatch(/WEBHOOK_SECRET_KEY/);
    }
  });
});
