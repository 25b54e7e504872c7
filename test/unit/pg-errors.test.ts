// The one walker that finds the database's answer behind whatever wraps it (drizzle, our own).
import { DrizzleQueryError } from 'drizzle-orm';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pgError, pgErrorCode } from '../../src/lib/pg-errors.js';

const answer = (code: string, severity: string) => Object.assign(new pg.DatabaseError('refused', 0, 'error'), { code, severity });

describe('pgError', () => {
  it("finds the driver's error behind drizzle's and a wrapper of ours", () => {
    const driver = Object.assign(answer('23505', 'ERROR'), { constraint: 'messages_client_message_id_uq' });
    const wrapped = new Error('send failed', { cause: new DrizzleQueryError('insert into "messages" ...', [], driver) });
    expect(pgError(wrapped)).toBe(driver);
    expect(pgErrorCode(wrapped)).toBe('23505');
  });

  it('tells the severity, so a FATAL answer is not taken for a refused statement', () => {
    expect(pgError(new DrizzleQueryError('select 1', [], answer('57P01', 'FATAL')))).toMatchObject({ code: '57P01', severity: 'FATAL' });
  });

  it("takes no Node error for the database's, though EPIPE looks like a SQLSTATE", () => {
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
    expect(pgError(new DrizzleQueryError('select 1', [], epipe))).toBeUndefined();
    expect(pgErrorCode(epipe)).toBeUndefined();
  });
});
