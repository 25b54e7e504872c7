import { readFileSync } from 'node:fs';
import { isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schemaFile } from '../../src/graphql/print-schema.js';
import { schema } from '../../src/graphql/schema.js';

describe('schema/schema.graphql', () => {
  it('is exactly what the code prints (run `npm run schema:print` after changing the schema)', () => {
    expect(readFileSync(schemaFile, 'utf8')).toBe(printedSchema());
  });
});

describe('schema fields', () => {
  it('expose plain properties without a resolver', () => {
    // graphql-jit reads an exposed property directly and calls a resolver per field. Each resolver
    // of an object field is called with a parent whose every property is a marker of its own and
    // a context that throws when touched: one that hands back its own field's marker only reads
    // the property of that name, and should be `t.expose*`.
    const markers = new Map<string | symbol, object>();
    const marker = (key: string | symbol) => markers.get(key) ?? markers.set(key, { key }).get(key)!;
    const parent = new Proxy({}, { get: (_target, key) => (key === 'then' ? undefined : marker(key)) });
    const context = new Proxy(
      {},
      {
        get: () => {
          throw new Error('context read');
        },
      },
    );
    const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]);
    const resolved: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__') || roots.has(type)) continue;
      for (const field of Object.values(type.getFields())) {
        if (!field.resolve) continue;
        let result: unknown;
        try {
          result = field.resolve(parent, {}, context, {} as never);
        } catch {
          continue;
        }
        // An async resolver that touched the context rejects: that is no plain read either.
        if (result instanceof Promise) result.catch(() => {});
        else if (result === marker(field.name)) resolved.push(`${type.name}.${field.name}`);
      }
    }
    expect(resolved).toEqual([]);
  });
});
