/** Adapters between model SDKs and Switchboard runs (agents) and chats (front ends). */
export {
  type ChatTransportOptions,
  partsOfUIChunk,
  pipeUIMessageStream,
  runUIMessageStream,
  SwitchboardChatTransport,
} from './ai-sdk.js';
export { partsOfResponseEvent, pipeResponsesStream, runResponsesStream } from './openai.js';
export { AgentRun, type RunOptions, type RunOutcome, RunStoppedError, type StopReason, startRun } from './run.js';
