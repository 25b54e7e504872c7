// How errors are told in the log: a database error by its code, constraint and statement, never by
// the values it was given (drizzle's message carries them all, the driver may quote one).
import { DrizzleQueryError } from 'drizzle-orm';
import { GraphQLError } from 'graphql';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { errorMessage, serializeError } from '../../src/observability/log-errors.js';

const SECRET = 'my secret message text';

/** A failed statement as drizzle and node-postgres report it. */
function failedInsert() {
  const cause = Object.assign(new pg.DatabaseError(`invalid input syntax for type uuid: "${SECRET}"`, 100, 'error'), {
    code: '22P02',
    severity: 'ERROR',
    detail: `Key (content)=(${SECRET}) already exists.`,
    where: `JSON data, line 1: {"note": "${SECRET}"`,
    routine: 'string_to_uuid',
  });
  return new DrizzleQueryError('insert into "messages" ("id", "content")\n  values ($1, $2)', ['3a7e', SECRET], cause);
}

describe('serializeError and errorMessage', () => {
  it('tell a database error by code and statement, without parameters, details or quoted values', () => {
    const err = failedInsert();
    expect(err.message).toContain(SECRET);
    const serialized = serializeError(err);
    expect(serialized).toMatchObject({
      type: 'DrizzleQueryError',
      message: 'Failed query',
      statement: 'insert into "messages" ("id", "content") values ($1, $2)',
      code: '22P02',
      cause: { type: 'DatabaseError', code: '22P02', severity: 'ERROR', routine: 'string_to_uuid', message: 'invalid input syntax for type uuid: "…"' },
    });
    expect(JSON.stringify(serialized)).not.toMatch(/secret|3a7e/);
    const line = errorMessage(err);
    expect(line).toContain('22P02');
    expect(line).toContain('insert into "messages"');
    expect(line).not.toMatch(/secret|3a7e/);
  });

  it('tell the same through a GraphQL error around it, and strip drizzle message text logged alone', () => {
    const err = failedInsert();
    const wrapped = new GraphQLError(err.message, { originalError: err });
    expect(JSON.stringify(serializeError(wrapped))).not.toMatch(/secret|3a7e/);
    expect(errorMessage(wrapped)).toBe(errorMessage(err));
    expect(serializeError(err.message)).toBe('Failed query: insert into "messages" ("id", "content") values ($1, $2)');
    expect(errorMessage(err.message)).not.toContain(SECRET);
  });

  it('keep the message of any other error, and its code', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(serializeError(refused)).toMatchObject({ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' });
    expect(errorMessage(new TypeError('x is not a function'))).toBe('x is not a function');
    expect(errorMessage(new Error('outer', { cause: new Error('inner') }))).toBe('outer: inner');
  });
});
