import type { Viewer } from '../../auth/viewer.js';

/** setTimeout fires at once for delays beyond 2^31-1 ms (24.8 days); longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Whether the viewer's credential is still good now (API keys do not expire). */
export const tokenValid = (viewer: Viewer): boolean =>
  viewer.credential.type !== 'jwt' || viewer.credential.expiresAt * 1000 > Date.now();

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
 * Viewers of WebSocket connections. Their socket closes with 4403 when the credential ends (see
 * atCredentialEnd), and a client then reconnects with a fresh one and resubscribes. Their streams
 * must not complete by themselves: graphql-ws clients take `complete` as final and would not
 * resubscribe.
 */
const socketViewers = new WeakSet<Viewer>();

/** Marks the viewer of a socket that closes when its credential ends (see above). */
export function closesWithCredential(viewer: Viewer): void {
  socketViewers.add(viewer);
}

/**
 * Ends `stream` when the viewer's credential ends, where no socket does it (SSE, HTTP): its token
 * expires (nothing is delivered after `exp`, and the stream does not linger delivering nothing), or
 * its API key is revoked.
 */
export function endWithCredential(viewer: Viewer, stream: { end(): void; onFinish(cleanup: () => void): void }, revocations: Revocations): void {
  if (socketViewers.has(viewer)) return;
  stream.onFinish(atCredentialEnd(viewer, revocations, () => stream.end()));
}
