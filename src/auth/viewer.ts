/** Who is making a request, after authentication. Services take it explicitly. */
export type Viewer = {
  orgId: string;
  userId: string;
  displayName: string;
  kind: 'USER' | 'AGENT';
  roles: string[];
  credential:
    | { type: 'jwt' /** seconds since the epoch */; expiresAt: number }
    | { type: 'apiKey'; keyId: string /** true when X-Act-As-User chose the user */; actingAs: boolean };
};

export const isAdmin = (viewer: Viewer) => viewer.roles.includes('admin');
export const isExpert = (viewer: Viewer) => viewer.roles.includes('expert');
