// The rules of structured answers' parts: what each type takes, how deltas extend parts, limits.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/graphql/errors.js';
import { LIMITS } from '../../src/lib/validate.js';
import { applyPart, checkPart, type MessagePart, type MessagePartInput, textOf } from '../../src/modules/agents/parts.js';

const build = (inputs: MessagePartInput[]) => {
  let parts: MessagePart[] = [];
  const steps = inputs.map((input) => {
    const applied = applyPart(parts, checkPart(input));
    parts = applied.parts;
    return { index: applied.index, delta: applied.delta, textOffset: applied.textOffset };
  });
  return { parts, steps };
};
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.extensions.code : String(err);
  }
  return undefined;
};

describe('message parts', () => {
  it('appends text and reasoning deltas to the last part of their type, and starts new parts otherwise', () => {
    const { parts, steps } = build([
      { type: 'REASONING', text: 'Think' },
      { type: 'REASONING', text: 'ing.' },
      { type: 'TEXT', text: 'Hel' },
      { type: 'TEXT', text: 'lo' },
      { type: 'TOOL_CALL', toolCallId: 'c1', toolName: 'weather' },
      { type: 'TOOL_CALL', toolCallId: 'c1', text: '{"city":' },
      { type: 'TOOL_CALL', toolCallId: 'c1', text: '"Oslo"}', input: { city: 'Oslo' } },
      { type: 'TOOL_RESULT', toolCallId: 'c1', output: { temp: 3 } },
      { type: 'SOURCE', text: 'https://example.com/oslo', data: { title: 'Oslo' } },
      { type: 'DATA', data: { chart: [1, 2] } },
      { type: 'TEXT', text: ' It is 3°C.' },
    ]);
    expect(parts).toEqual([
      { type: 'REASONING', text: 'Thinking.' },
      { type: 'TEXT', text: 'Hello' },
      { type: 'TOOL_CALL', toolCallId: 'c1', toolName: 'weather', text: '{"city":"Oslo"}', input: { city: 'Oslo' } },
      { type: 'TOOL_RESULT', toolCallId: 'c1', output: { temp: 3 } },
      { type: 'SOURCE', text: 'https://example.com/oslo', data: { title: 'Oslo' } },
      { type: 'DATA', data: { chart: [1, 2] } },
      { type: 'TEXT', text: ' It is 3°C.' },
    ]);
    expect(steps.map((s) => [s.index, s.textOffset])).toEqual([
      [0, 0],
      [0, 5],
      [1, 0],
      [1, 3],
      [2, 0],
      [2, 0],
      [2, 8],
      [3, 0],
      [4, 0],
      [5, 0],
      [6, 0],
    ]);
    // A delta of a tool call carries its identity.
    expect(steps[6]!.delta).toEqual({ type: 'TOOL_CALL', toolCallId: 'c1', toolName: 'weather', text: '"Oslo"}', input: { city: 'Oslo' } });
    expect(textOf(parts)).toBe('Hello It is 3°C.');
  });

  it('refuses fields a type does not take, missing fields and unknown types', () => {
    expect(codeOf(() => checkPart({ type: 'TEXT', text: 'x', data: { a: 1 } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'TEXT' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'TOOL_CALL', toolName: 'x' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'TOOL_RESULT', toolCallId: 'c' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'SOURCE' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'DATA', text: 'x', data: 1 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'IMAGE' as never, text: 'x' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'TEXT', text: 'a\u0000b' }))).toBe('BAD_USER_INPUT');
    // A new tool call needs its tool's name; a later delta may not rename it.
    expect(codeOf(() => applyPart([], checkPart({ type: 'TOOL_CALL', toolCallId: 'c' })))).toBe('BAD_USER_INPUT');
    const call = [{ type: 'TOOL_CALL', toolCallId: 'c', toolName: 'a' }] as MessagePart[];
    expect(codeOf(() => applyPart(call, checkPart({ type: 'TOOL_CALL', toolCallId: 'c', toolName: 'b' })))).toBe('BAD_USER_INPUT');
  });

  it('holds parts to their limits: text per part, JSON per value, parts per message, JSON in all', () => {
    const long = 'x'.repeat(LIMITS.contentChars);
    expect(codeOf(() => checkPart({ type: 'REASONING', text: `${long}x` }))).toBe('BAD_USER_INPUT');
    const full = applyPart([], checkPart({ type: 'REASONING', text: long })).parts;
    expect(codeOf(() => applyPart(full, checkPart({ type: 'REASONING', text: 'x' })))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => checkPart({ type: 'DATA', data: { blob: 'x'.repeat(LIMITS.partJsonBytes) } }))).toBe('BAD_USER_INPUT');
    const many = Array.from({ length: LIMITS.partsPerMessage }, (_, i): MessagePart => ({ type: 'DATA', data: i }));
    expect(codeOf(() => applyPart(many, checkPart({ type: 'DATA', data: 'one more' })))).toBe('BAD_USER_INPUT');
    const big = Array.from({ length: 8 }, (): MessagePart => ({ type: 'DATA', data: 'x'.repeat(LIMITS.partJsonBytes - 100) }));
    expect(codeOf(() => applyPart(big, checkPart({ type: 'DATA', data: 'x'.repeat(LIMITS.partJsonBytes - 100) })))).toBe('BAD_USER_INPUT');
  });
});
