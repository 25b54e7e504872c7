/**
 * The signed-in session of this tab: the token and what the page shows about it. Kept in
 * sessionStorage, so that a reload keeps you signed in while another tab can sign in as
 * someone else.
 */
export type Session = {
  token: string;
  userId: string;
  displayName: string;
  org: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
};

const KEY = 'switchboard.session';
/** A token this close to its expiry is not worth starting with. */
const MIN_REMAINING_MS = 30_000;

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    if (typeof session.token !== 'string' || !(session.expiresAt - Date.now() > MIN_REMAINING_MS)) {
      clearSession();
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage may be off (private mode): the session then lasts until the page is closed.
  }
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* nothing stored */
  }
}

/**
 * What a pasted token says about itself (read, not verified: the server verifies it on use).
 * Throws with a message for people when it is not a JWT or has expired.
 */
export function sessionFromToken(token: string): Session {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new Error('That does not look like a JWT (three parts separated by dots)');
  let claims: { sub?: unknown; name?: unknown; org?: unknown; exp?: unknown };
  try {
    const json = atob(
      parts[1]!
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(parts[1]!.length / 4) * 4, '='),
    );
    claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  } catch {
    throw new Error('The token’s payload cannot be read');
  }
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw new Error('The token has no `sub` or no `exp`');
  const expiresAt = claims.exp * 1000;
  if (expiresAt - Date.now() <= MIN_REMAINING_MS) throw new Error('The token has expired');
  return {
    token: token.trim(),
    userId: claims.sub,
    displayName: typeof claims.name === 'string' ? claims.name : claims.sub,
    org: typeof claims.org === 'string' ? claims.org : 'default',
    expiresAt,
  };
}
