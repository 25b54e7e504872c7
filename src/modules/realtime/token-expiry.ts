import type { Viewer } from '../../auth/viewer.js';
import { type Context, requireViewer } from '../../context.js';

/** setTimeout fires at once for delays beyond 2^31-1 ms (24.8 days); longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Whether the viewer's credential is still good now (API keys do not expire). */
export const tokenValid = (viewer: Viewer): boolean => viewer.credential.type !== 'jwt' || viewer.credential.expiresAt * 1000 > Date.now();

/** What tells of a revoked API key (ApiKeys). */
export type Revocations = { watch(keyId: string, onRevoked: () => void): () => void };

/**
 * Calls `onEnd` once the viewer's credential ends: its token expires, or its API key is revoked
 * (within REVOCATION_DELAY_MS). `reason` says which. Returns the cancel function.
 */
export function atCredentialEnd(viewer: Viewer, revocations: Revocations, onEnd: (reason: 'Token expired' | 'API key revoked') => void): () => void {
  if (viewer.credential.type === 'apiKey') return revocations.watch(viewer.credential.keyId, () => onEnd('API key revoked'));
  return atTokenExpiry(viewer, () => onEnd('Token expired'));
}

/**
 * Calls `onExpiry` when the viewer's token expires (never for API keys). Returns the cancel
 * function. Works for tokens of any lifetime, including ones that expire years from now.
 */
function atTokenExpiry(viewer: Viewer, onExpiry: () => void): () => void {
  if (viewer.credential.type !== 'jwt') return () => {};
  const at = viewer.credential.expiresAt * 1000;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = at - Date.now();
    timer = left > MAX_TIMEOUT_MS ? setTimeout(arm, MAX_TIMEOUT_MS) : setTimeout(onExpiry, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}

/**
 * Ends `stream` when the viewer's credential ends: its token expires (nothing is delivered after
 * `exp`, and the stream does not linger delivering nothing), or its API key is revoked. Not on a
 * WebSocket: there the socket closes with 4403 at that moment (transport/ws-session.ts) and the
 * client reconnects with a fresh credential and resubscribes, which it would not do after a
 * `complete` (graphql-ws clients take it as final).
 */
export function endWithCredential(ctx: Context, stream: { end(): void; onFinish(cleanup: () => void): void }): void {
  if (ctx.transport === 'websocket') return;
  stream.onFinish(atCredentialEnd(requireViewer(ctx), ctx.services.apiKeys, () => stream.end()));
}
