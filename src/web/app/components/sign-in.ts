import { SignInDocument, SignUpDocument } from '../../../client/generated/graphql.js';
import { createSwitchboardClient, SwitchboardError } from '../../../client/index.js';
import { byId, setAlert } from '../dom.js';
import { type Session, sessionFromToken } from '../session.js';

type Tab = 'signin' | 'signup' | 'token';
const TABS: Tab[] = ['signin', 'signup', 'token'];

/**
 * The sign-in page: three tabs, to sign in or create an account (built-in accounts) or to paste a
 * token from an identity provider. Each ends in a session for `onSignedIn`.
 */
export class SignIn {
  private readonly view = byId('auth-view');
  private readonly error = byId('auth-error');
  /** A client without credentials, for signing in. */
  private readonly anonymous: ReturnType<typeof createSwitchboardClient>;

  constructor(
    private readonly endpoint: string,
    private readonly onSignedIn: (session: Session) => void,
  ) {
    this.anonymous = createSwitchboardClient({ url: endpoint });
    for (const tab of TABS) {
      const button = byId(`tab-${tab}`);
      button.addEventListener('click', () => this.selectTab(tab));
      // Arrow keys move between tabs, as in any tab list.
      button.addEventListener('keydown', (e) => {
        const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (!step) return;
        e.preventDefault();
        this.selectTab(TABS[(TABS.indexOf(tab) + step + TABS.length) % TABS.length]!, true);
      });
    }
    this.handle('signin-form', () => this.signIn());
    this.handle('signup-form', () => this.signUp());
    this.handle('token-form', () => this.useToken());
  }

  /** Shows the page, with a message when a session has just ended. */
  show(message?: string): void {
    this.view.hidden = false;
    document.title = 'Sign in · Switchboard';
    setAlert(this.error, message ?? null);
    const visible = TABS.find((t) => !byId(`${t}-form`).hidden) ?? 'signin';
    byId<HTMLInputElement>(visible === 'token' ? 'token-input' : `${visible}-user`).focus();
  }

  hide(): void {
    this.view.hidden = true;
  }

  private selectTab(tab: Tab, focus = false): void {
    for (const t of TABS) {
      const button = byId(`tab-${t}`);
      const selected = t === tab;
      button.setAttribute('aria-selected', String(selected));
      button.tabIndex = selected ? 0 : -1;
      byId(`${t}-form`).hidden = !selected;
      if (selected && focus) button.focus();
    }
    setAlert(this.error, null);
  }

  /** Runs a sign-in form: disables its button meanwhile and shows what went wrong. */
  private handle(formId: string, run: () => Promise<Session>): void {
    const form = byId<HTMLFormElement>(formId);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
      submit.disabled = true;
      setAlert(this.error, null);
      try {
        const session = await run();
        form.reset();
        this.onSignedIn(session);
      } catch (err) {
        setAlert(this.error, describe(err));
      } finally {
        submit.disabled = false;
      }
    });
  }

  private async signIn(): Promise<Session> {
    required([
      ['signin-user', 'User id'],
      ['signin-password', 'Password'],
    ]);
    const { signIn } = await this.anonymous.request(SignInDocument, {
      input: { userId: value('signin-user'), password: byId<HTMLInputElement>('signin-password').value },
    });
    // The server picks the org (ACCOUNTS_ORG); its token says which.
    return { ...sessionFromToken(signIn.token), userId: signIn.user.id, displayName: signIn.user.displayName, expiresAt: Date.parse(signIn.expiresAt) };
  }

  private async signUp(): Promise<Session> {
    required([
      ['signup-user', 'User id'],
      ['signup-name', 'Display name'],
      ['signup-password', 'Password'],
    ]);
    const password = byId<HTMLInputElement>('signup-password').value;
    if ([...password].length < 8) throw new Error('The password needs at least 8 characters.');
    const { signUp } = await this.anonymous.request(SignUpDocument, {
      input: { userId: value('signup-user'), displayName: value('signup-name'), password },
    });
    return { ...sessionFromToken(signUp.token), userId: signUp.user.id, displayName: signUp.user.displayName, expiresAt: Date.parse(signUp.expiresAt) };
  }

  private async useToken(): Promise<Session> {
    required([['token-input', 'A token']]);
    const session = sessionFromToken(value('token-input'));
    // The server has the last word on the token: ask it who this is.
    const viewer = await createSwitchboardClient({ url: this.endpoint, token: session.token }).viewer();
    return { ...session, userId: viewer.id, displayName: viewer.displayName };
  }
}

function describe(err: unknown): string {
  if (err instanceof SwitchboardError && err.code === 'FORBIDDEN') {
    return 'This server has no built-in accounts. Sign in with a token from your identity provider instead.';
  }
  if (err instanceof TypeError) return 'The server cannot be reached. Check your connection and try again.';
  return err instanceof Error ? err.message : String(err);
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
