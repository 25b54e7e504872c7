// The web chat's entry point, bundled by esbuild (src/web/serve.ts) and served at `/`.
import './styles.css';
import { SignInDocument, SignUpDocument } from '../../client/generated/graphql.js';
import { createSwitchboardClient, SwitchboardError } from '../../client/index.js';
import { Chat } from './chat.js';
import { byId, setAlert } from './dom.js';
import { clearSession, loadSession, saveSession, sessionFromToken, type Session } from './session.js';

const endpoint = new URL('/graphql', location.href).toString();

const authView = byId('auth-view');
const chatView = byId('chat-view');
const authError = byId('auth-error');

type Tab = 'signin' | 'signup' | 'token';
const tabs: Tab[] = ['signin', 'signup', 'token'];

function selectTab(tab: Tab, focus = false): void {
  for (const t of tabs) {
    const button = byId(`tab-${t}`);
    const selected = t === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    byId(`${t}-form`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  setAlert(authError, null);
}

for (const t of tabs) {
  const button = byId(`tab-${t}`);
  button.addEventListener('click', () => selectTab(t));
  // Arrow keys move between tabs, as in any tab list.
  button.addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    selectTab(tabs[(tabs.indexOf(t) + step + tabs.length) % tabs.length]!, true);
  });
}

function showAuth(message?: string): void {
  clearSession();
  chatView.hidden = true;
  authView.hidden = false;
  document.title = 'Sign in · Switchboard';
  setAlert(authError, message ?? null);
  const visible = tabs.find((t) => !byId(`${t}-form`).hidden) ?? 'signin';
  byId<HTMLInputElement>(visible === 'token' ? 'token-input' : `${visible}-user`).focus();
}

function showChat(session: Session): void {
  saveSession(session);
  authView.hidden = true;
  chatView.hidden = false;
  document.title = 'Switchboard';
  new Chat(session, endpoint, (message) => showAuth(message)).start();
}

/** A client without credentials, for signing in. */
const anonymous = createSwitchboardClient({ url: endpoint });

function describe(err: unknown): string {
  if (err instanceof SwitchboardError && err.code === 'FORBIDDEN') {
    return 'This server has no built-in accounts. Sign in with a token from your identity provider instead.';
  }
  if (err instanceof TypeError) return 'The server cannot be reached. Check your connection and try again.';
  return err instanceof Error ? err.message : String(err);
}

/** Runs a sign-in form: disables its button meanwhile and shows what went wrong. */
function handle(formId: string, run: (form: HTMLFormElement) => Promise<Session>): void {
  const form = byId<HTMLFormElement>(formId);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    submit.disabled = true;
    setAlert(authError, null);
    try {
      const session = await run(form);
      form.reset();
      showChat(session);
    } catch (err) {
      setAlert(authError, describe(err));
    } finally {
      submit.disabled = false;
    }
  });
}

const value = (id: string) => byId<HTMLInputElement | HTMLTextAreaElement>(id).value.trim();

function required(fields: [id: string, label: string][]): void {
  for (const [id, label] of fields) {
    if (byId<HTMLInputElement>(id).value.trim() === '') {
      byId(id).focus();
      throw new Error(`${label} is required.`);
    }
  }
}

handle('signin-form', async () => {
  required([
    ['signin-user', 'User id'],
    ['signin-password', 'Password'],
  ]);
  const { signIn } = await anonymous.request(SignInDocument, {
    input: { userId: value('signin-user'), password: byId<HTMLInputElement>('signin-password').value },
  });
  // The server picks the org (ACCOUNTS_ORG); its token says which.
  return { ...sessionFromToken(signIn.token), userId: signIn.user.id, displayName: signIn.user.displayName, expiresAt: Date.parse(signIn.expiresAt) };
});

handle('signup-form', async () => {
  required([
    ['signup-user', 'User id'],
    ['signup-name', 'Display name'],
    ['signup-password', 'Password'],
  ]);
  const password = byId<HTMLInputElement>('signup-password').value;
  if ([...password].length < 8) throw new Error('The password needs at least 8 characters.');
  const { signUp } = await anonymous.request(SignUpDocument, {
    input: { userId: value('signup-user'), displayName: value('signup-name'), password },
  });
  return { ...sessionFromToken(signUp.token), userId: signUp.user.id, displayName: signUp.user.displayName, expiresAt: Date.parse(signUp.expiresAt) };
});

handle('token-form', async () => {
  required([['token-input', 'A token']]);
  const session = sessionFromToken(value('token-input'));
  // The server has the last word on the token: ask it who this is.
  const viewer = await createSwitchboardClient({ url: endpoint, token: session.token }).viewer();
  return { ...session, userId: viewer.id, displayName: viewer.displayName };
});

const saved = loadSession();
if (saved) showChat(saved);
else showAuth();
