// The hand-written date paths of history pages must give exactly what the general ones give:
// decoding Postgres' timestamptz text (new Date) and the DateTime scalar's output (toISOString).
import type { GraphQLScalarType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parsePgTimestamptz } from '../../src/db/pg-timestamp.js';
import { schema } from '../../src/graphql/schema.js';

/** Milliseconds spread over 0001-9999 and beyond, with the edges. */
function instants(): number[] {
  const out = [0, -1, 1, Date.UTC(1999, 11, 31, 23, 59, 59, 999)];
  for (const year of [1, 99, 100, 999, 1000, 1969, 1970, 2026, 9999]) {
    const d = new Date(0);
    d.setUTCFullYear(year, 0, 1);
    out.push(d.getTime(), d.getTime() - 1, d.getTime() + 999);
  }
  let seed = 42;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    out.push(Math.floor((seed / 2 ** 31) * 3.2e14) - 6.2e13);
  }
  return out;
}

describe('DateTime output', () => {
  const scalar = schema.getType('DateTime') as GraphQLScalarType;
  it('is toISOString for every valid date, whatever the year', () => {
    const mismatches = instants().filter((ms) => scalar.serialize(new Date(ms)) !== new Date(ms).toISOString());
    expect(mismatches).toEqual([]);
  });
});

describe('timestamptz text from Postgres', () => {
  /** As Postgres writes it with TimeZone set to `zone` hours east: '2026-11-21 10:00:00.123456+00'. */
  const pgText = (ms: number, zone: number, micros: string) => {
    const local = new Date(ms + zone * 3_600_000).toISOString();
    const fraction = local.slice(20, 23) === '000' && micros === '' ? '' : `.${local.slice(20, 23)}${micros}`;
    return `${local.slice(0, 10)} ${local.slice(11, 19)}${fraction}${zone < 0 ? '-' : '+'}${String(Math.abs(zone)).padStart(2, '0')}`;
  };

  it('decodes to the same instant as new Date, for any zone and fraction', () => {
    const cases = instants()
      .filter((ms) => new Date(ms).getUTCFullYear() >= 1 && new Date(ms).getUTCFullYear() <= 9999)
      .flatMap((ms, i) => [pgText(ms, 0, ''), pgText(ms, (i % 25) - 12, i % 2 ? '456' : '')]);
    const mismatches = cases.filter((text) => !Object.is(parsePgTimestamptz(text).getTime(), new Date(text).getTime()));
    expect(mismatches).toEqual([]);
  });

  it('leaves what it does not read to new Date', () => {
    for (const text of ['infinity', '-infinity', '2026-11-21 10:00:00+05:30', '0044-03-15 12:00:00+00 BC', '0050-01-01 00:00:00+00']) {
      expect(parsePgTimestamptz(text).getTime(), text).toEqual(new Date(text).getTime());
    }
  });
});
