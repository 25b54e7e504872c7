// The web chat's entry point, bundled by esbuild (src/web/bundle.ts) and served at `/`.
import './styles.css';
import { startChat } from './chat.js';
import { SignIn } from './components/sign-in.js';
import { byId } from './dom.js';
import { clearSession, loadSession, type Session, saveSession } from './session.js';

const endpoint = new URL('/graphql', location.href).toString();
const chatView = byId('chat-view');

const signIn = new SignIn(endpoint, showChat);

function showSignIn(message?: string): void {
  clearSession();
  chatView.hidden = true;
  signIn.show(message);
}

function showChat(session: Session): void {
  saveSession(session);
  signIn.hide();
  chatView.hidden = false;
  document.title = 'Switchboard';
  startChat(session, endpoint, showSignIn);
}

const saved = loadSession();
if (saved) showChat(saved);
else showSignIn();
