import type { MessagePart } from '../../db/schema/index.js';
import { BadInputError } from '../../graphql/errors.js';
import { charLength, checkJson, checkText, LIMITS } from '../../lib/validate.js';

export type { MessagePart };
export type MessagePartType = MessagePart['type'];

/** A part as an agent sends it (GraphQL input: absent fields are null or undefined). */
export type MessagePartInput = {
  type: MessagePartType;
  text?: string | null;
  toolCallId?: string | null;
  toolName?: string | null;
  input?: unknown;
  output?: unknown;
  data?: unknown;
};

type Field = Exclude<keyof MessagePartInput, 'type'>;
const FIELDS: Field[] = ['text', 'toolCallId', 'toolName', 'input', 'output', 'data'];

/** Which fields each type takes, and which it needs. */
const RULES: Record<MessagePartType, { takes: Field[]; needs: Field[] }> = {
  TEXT: { takes: ['text'], needs: ['text'] },
  REASONING: { takes: ['text'], needs: ['text'] },
  TOOL_CALL: { takes: ['toolCallId', 'toolName', 'text', 'input'], needs: ['toolCallId'] },
  TOOL_RESULT: { takes: ['toolCallId', 'toolName', 'output'], needs: ['toolCallId', 'output'] },
  SOURCE: { takes: ['text', 'data'], needs: [] },
  DATA: { takes: ['data'], needs: ['data'] },
};

const given = (value: unknown) => value !== undefined && value !== null;

/**
 * Checks a part on its own (BAD_USER_INPUT otherwise): the fields its type takes and needs,
 * storable text within the limits, JSON within its size. Returns it with only the fields given.
 */
export function checkPart(input: MessagePartInput): MessagePart {
  const rule = RULES[input.type];
  if (!rule) throw new BadInputError(`Unknown part type ${String(input.type)}`, 'part.type');
  for (const field of FIELDS) {
    if (given(input[field]) && !rule.takes.includes(field)) {
      throw new BadInputError(`A ${input.type} part takes no \`${field}\` (it takes ${rule.takes.join(', ')})`, `part.${field}`);
    }
  }
  for (const field of rule.needs) {
    if (!given(input[field])) throw new BadInputError(`A ${input.type} part needs \`${field}\``, `part.${field}`);
  }
  if (input.type === 'SOURCE' && !given(input.text) && !given(input.data)) {
    throw new BadInputError('A SOURCE part needs `text` or `data`', 'part.data');
  }
  checkText('part.text', input.text, { max: LIMITS.contentChars, allowEmpty: true });
  checkText('part.toolCallId', input.toolCallId, { max: LIMITS.shortTextChars });
  checkText('part.toolName', input.toolName, { max: LIMITS.shortTextChars });
  for (const field of ['input', 'output', 'data'] as const) checkJson(`part.${field}`, input[field], LIMITS.partJsonBytes);
  const part: MessagePart = { type: input.type };
  for (const field of FIELDS) if (given(input[field])) (part as Record<string, unknown>)[field] = input[field];
  return part;
}

/** What appending a part did: the parts after it, which one changed, and the change itself. */
export type AppliedPart = {
  parts: MessagePart[];
  /** The part created or extended. */
  index: number;
  /** What was appended: a new part whole, or for an extended one its identity and the new fields. */
  delta: MessagePart;
  /** Where `delta.text` starts in the text of the part at `index` (characters). */
  textOffset: number;
};

/**
 * Appends a checked part to a stream's parts: a TEXT or REASONING delta extends the last part if
 * it is of the same type; a TOOL_CALL naming a call already there extends it (its `text` is more
 * of the input as streamed, an `input` replaces the parsed input); anything else is a new part.
 * Throws BAD_USER_INPUT past the limits of parts per message, text per part and JSON in all.
 */
export function applyPart(parts: readonly MessagePart[], part: MessagePart): AppliedPart {
  const last = parts.length - 1;
  let index = -1;
  if ((part.type === 'TEXT' || part.type === 'REASONING') && parts[last]?.type === part.type) index = last;
  if (part.type === 'TOOL_CALL') index = parts.findIndex((p) => p.type === 'TOOL_CALL' && p.toolCallId === part.toolCallId);

  if (index < 0) {
    if (part.type === 'TOOL_CALL' && !part.toolName) throw new BadInputError('A new TOOL_CALL part needs `toolName`', 'part.toolName');
    if (parts.length >= LIMITS.partsPerMessage) {
      throw new BadInputError(`A message holds at most ${LIMITS.partsPerMessage} parts`, 'part');
    }
    return checkedSize({ parts: [...parts, part], index: parts.length, delta: part, textOffset: 0 });
  }

  const existing = parts[index]!;
  if (part.toolName !== undefined && existing.toolName !== undefined && part.toolName !== existing.toolName) {
    throw new BadInputError(`Tool call ${part.toolCallId} is ${existing.toolName}, not ${part.toolName}`, 'part.toolName');
  }
  const textOffset = existing.text === undefined ? 0 : charLength(existing.text);
  const merged: MessagePart = { ...existing, ...part };
  if (part.text !== undefined) merged.text = (existing.text ?? '') + part.text;
  if (merged.text !== undefined && charLength(merged.text) > LIMITS.contentChars) {
    throw new BadInputError(`A part's text is at most ${LIMITS.contentChars} characters`, 'part.text');
  }
  const delta: MessagePart = { ...part };
  if (existing.toolCallId !== undefined) delta.toolCallId = existing.toolCallId;
  if (existing.toolName !== undefined) delta.toolName = existing.toolName;
  const next = [...parts];
  next[index] = merged;
  return checkedSize({ parts: next, index, delta, textOffset });
}

function checkedSize(applied: AppliedPart): AppliedPart {
  if (Buffer.byteLength(JSON.stringify(applied.parts), 'utf8') > LIMITS.partsBytes) {
    throw new BadInputError(`A message's parts are at most ${LIMITS.partsBytes / 1024} KiB of JSON`, 'part');
  }
  return applied;
}

/** The text of the TEXT parts, in order: a message's `content`. */
export const textOf = (parts: readonly MessagePart[]) =>
  parts
    .filter((p) => p.type === 'TEXT')
    .map((p) => p.text ?? '')
    .join('');

/** A message's parts: those it was streamed with, else its content as one TEXT part (none if empty). */
export const partsOf = (message: { parts?: MessagePart[] | null; content: string }): MessagePart[] =>
  message.parts?.length ? message.parts : message.content ? [{ type: 'TEXT', text: message.content }] : [];
