import { requireViewer } from '../../context.js';
import {
  type AgentRunRow,
  conversationMode,
  MESSAGE_PART_TYPES,
  type MessagePart,
  type MessageStreamRow,
  runState,
  streamState,
} from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import { MessagePriorityEnum } from '../../graphql/enums.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import type { ChunkEvent } from '../../pubsub/topics.js';
import { ConversationRef } from '../conversations/conversation.graphql.js';
import { MessageRef } from '../messages/message.graphql.js';
import { UserRef } from '../users/user.graphql.js';
import { partsOf } from './parts.js';

export const ConversationModeEnum = builder.enumType('ConversationMode', {
  description: 'Who answers: the AI agent, a human expert, or the expert directly while the agent observes.',
  values: conversationMode.enumValues,
});
const RunStateEnum = builder.enumType('RunState', { values: runState.enumValues });
const StreamStateEnum = builder.enumType('StreamState', { values: streamState.enumValues });

const RunRef = builder.objectRef<AgentRunRow>('Run').implement({
  description: "An agent's run in a conversation, steered by control events.",
  fields: (t) => ({
    runId: t.exposeString('runId'),
    state: t.expose('state', { type: RunStateEnum }),
    priority: t.expose('priority', { type: MessagePriorityEnum }),
    agent: t.field({ type: UserRef, resolve: async (r, _args, ctx) => (await ctx.loaders.user.load(r.agentId))! }),
    traceId: t.exposeString('traceId', { nullable: true }),
    conversationId: t.exposeID('conversationId'),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it failed, as its agent said (failRun).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When its agent first spoke in it.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it ended: COMPLETED, FAILED, CANCELLED or PREEMPTED.',
    }),
  }),
});

const RunConnection = connectionType('Run', RunRef);

builder.queryFields((t) => ({
  runs: t.field({
    type: RunConnection,
    description: "A conversation's agent runs, in the order they started; `state` keeps those in that state.",
    args: {
      conversationId: t.arg.id({ required: true }),
      state: t.arg({ type: RunStateEnum }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => ctx.services.runs.list(requireViewer(ctx), args.conversationId, args.state, args),
  }),
}));

builder.objectFields(ConversationRef, (t) => ({
  mode: t.expose('mode', { type: ConversationModeEnum }),
  assignee: t.field({
    type: UserRef,
    nullable: true,
    description: 'Who answers now (an agent or an expert), if anyone in particular.',
    resolve: (c, _args, ctx) => (c.assigneeId ? ctx.loaders.user.load(c.assigneeId) : null),
  }),
  preemptOnPriority: t.exposeBoolean('preemptOnPriority', {
    description: 'A HIGH or CRITICAL message from a person preempts the interruptible agent runs.',
  }),
  activeRuns: t.field({
    type: [RunRef],
    description: 'Runs that are ACTIVE or PAUSED.',
    resolve: (c, _args, ctx) => ctx.loaders.liveRuns.load(c.id),
  }),
}));

const MessageStreamRef = builder.objectRef<MessageStreamRow>('MessageStream').implement({
  description: 'An answer being streamed; completing it makes it an ordinary message with the same id.',
  fields: (t) => ({
    id: t.exposeID('id'),
    conversationId: t.exposeID('conversationId'),
    runId: t.exposeString('runId', { nullable: true }),
    traceId: t.exposeString('traceId', { nullable: true }),
    content: t.exposeString('content'),
    state: t.expose('state', { type: StreamStateEnum }),
    sender: t.field({ type: UserRef, resolve: async (s, _args, ctx) => (await ctx.loaders.user.load(s.senderId))! }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const MessagePartTypeEnum = builder.enumType('MessagePartType', {
  description: 'What a part of a structured answer is: text, reasoning, a tool call or its result, a source, data.',
  values: MESSAGE_PART_TYPES,
});

const MessagePartRef = builder.objectRef<MessagePart>('MessagePart').implement({
  description:
    'A part of a structured answer. TEXT and REASONING hold `text`; TOOL_CALL `toolCallId`, `toolName` and its input as streamed text (`text`) and parsed (`input`); TOOL_RESULT `toolCallId` and `output`; SOURCE `text` and/or `data`; DATA `data`.',
  fields: (t) => ({
    type: t.expose('type', { type: MessagePartTypeEnum, ...viewerIndependent }),
    // A field the part lacks is undefined, which GraphQL answers as null.
    text: t.exposeString('text', { nullable: true, ...viewerIndependent }),
    toolCallId: t.exposeString('toolCallId', { nullable: true, ...viewerIndependent }),
    toolName: t.exposeString('toolName', { nullable: true, ...viewerIndependent }),
    input: t.expose('input', { type: 'JSON', nullable: true, ...viewerIndependent }),
    output: t.expose('output', { type: 'JSON', nullable: true, ...viewerIndependent }),
    data: t.expose('data', { type: 'JSON', nullable: true, ...viewerIndependent }),
  }),
});

const MessagePartInputRef = builder.inputType('MessagePartInput', {
  description:
    'A part to append: a TEXT or REASONING delta extends the last part if it is of the same type, a TOOL_CALL naming a call already there extends that call.',
  fields: (t) => ({
    type: t.field({ type: MessagePartTypeEnum, required: true }),
    text: t.string(),
    toolCallId: t.string(),
    toolName: t.string(),
    input: t.field({ type: 'JSON' }),
    output: t.field({ type: 'JSON' }),
    data: t.field({ type: 'JSON' }),
  }),
});

builder.objectFields(MessageRef, (t) => ({
  parts: t.field({
    type: [MessagePartRef],
    description: 'What the message holds, in order; a plain message is one TEXT part, its content.',
    ...viewerIndependent,
    resolve: (m) => partsOf(m),
  }),
}));

const MessageChunkRef = builder.objectRef<ChunkEvent>('MessageChunk').implement({
  description:
    'A piece of a streamed answer. The last event of a stream has its final state (and, if kept, the message). A late subscriber first gets the parts so far, one event each (textOffset 0).',
  fields: (t) => ({
    messageId: t.exposeID('messageId', viewerIndependent),
    conversationId: t.exposeID('conversationId', viewerIndependent),
    runId: t.exposeString('runId', { nullable: true, ...viewerIndependent }),
    traceId: t.exposeString('traceId', { nullable: true, ...viewerIndependent }),
    offset: t.exposeInt('offset', {
      description: 'Where `chunk` (text of TEXT parts) starts in the content, in characters (code points).',
      ...viewerIndependent,
    }),
    chunk: t.exposeString('chunk', viewerIndependent),
    part: t.expose('part', {
      type: MessagePartRef,
      nullable: true,
      description: 'The part appended; for a part extended, its type and identity with what was added (`text`: the delta).',
      ...viewerIndependent,
    }),
    partIndex: t.exposeInt('partIndex', { nullable: true, description: 'Which part `part` is or extends.', ...viewerIndependent }),
    textOffset: t.exposeInt('textOffset', {
      nullable: true,
      description: "Where `part.text` starts in that part's text, in characters: 0 replaces the part, more extends it.",
      ...viewerIndependent,
    }),
    state: t.expose('state', { type: StreamStateEnum, ...viewerIndependent }),
    message: t.expose('message', { type: MessageRef, nullable: true, ...viewerIndependent }),
  }),
});

const StartMessageInput = builder.inputType('StartMessageInput', {
  fields: (t) => ({
    conversationId: t.id({ required: true }),
    runId: t.string(),
    traceId: t.string(),
    contentType: t.string({ defaultValue: 'text/plain' }),
    priority: t.field({ type: MessagePriorityEnum, defaultValue: 'NORMAL' }),
    interruptible: t.boolean({ defaultValue: true }),
    metadata: t.field({ type: 'JSON' }),
    content: t.string({ description: 'Text to start with.' }),
  }),
});

builder.mutationFields((t) => ({
  startMessage: t.field({
    type: MessageStreamRef,
    description: 'Starts a streamed answer (agents). With a runId, the run must be ACTIVE.',
    args: { input: t.arg({ type: StartMessageInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.answers.start(requireViewer(ctx), input),
  }),
  appendMessageChunk: t.field({
    type: MessageChunkRef,
    args: { id: t.arg.id({ required: true }), chunk: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.answers.append(requireViewer(ctx), args.id, args.chunk),
  }),
  appendMessagePart: t.field({
    type: MessageChunkRef,
    description: "Appends a part to a streamed answer (its sender only, while the stream's run is ACTIVE).",
    args: { id: t.arg.id({ required: true }), part: t.arg({ type: MessagePartInputRef, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.answers.appendPart(requireViewer(ctx), args.id, args.part),
  }),
  completeRun: t.field({
    type: RunRef,
    description: 'Its agent ends a run COMPLETED; its open streams are completed into messages (empty ones are discarded).',
    args: { conversationId: t.arg.id({ required: true }), runId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.runEnds.complete(requireViewer(ctx), args.conversationId, args.runId),
  }),
  failRun: t.field({
    type: RunRef,
    description: 'Its agent ends a run FAILED, saying why; its open streams are discarded.',
    args: { conversationId: t.arg.id({ required: true }), runId: t.arg.string({ required: true }), reason: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.runEnds.fail(requireViewer(ctx), args.conversationId, args.runId, args.reason),
  }),
  completeMessage: t.field({
    type: MessageRef,
    description: 'Ends a streamed answer: it becomes an ordinary message with the next seq.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.answers.complete(requireViewer(ctx), args.id),
  }),
}));

builder.subscriptionFields((t) => ({
  messageStream: t.field({
    type: MessageChunkRef,
    // A live part is one event object for every subscriber of the conversation: executed once.
    ...viewerIndependent,
    description: 'Streamed answers of a conversation: the text so far of running streams, then each chunk as it comes.',
    args: { conversationId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.services.answerFeed.follow(requireViewer(ctx), args.conversationId),
    resolve: (e) => e,
  }),
}));
