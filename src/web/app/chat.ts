import { Composer } from './components/composer.js';
import { ConversationList } from './components/conversation-list.js';
import { ConversationMenu } from './components/conversation-menu.js';
import { ExpertDesk } from './components/expert-desk.js';
import { MessagePane } from './components/message-pane.js';
import { NewConversationDialog } from './components/new-conversation-dialog.js';
import { SearchBox } from './components/search-panel.js';
import { SidePanel } from './components/side-panel.js';
import { TopBar } from './components/top-bar.js';
import { conversationInHash } from './routes.js';
import type { Session } from './session.js';
import { ChatStore } from './store.js';

/**
 * Starts the signed-in chat: one store, the components that render it, and the page's address
 * and visibility wired to it. `onEnd` is called once, when the chat stops (signing out, or a dead
 * session), with a message for the sign-in page.
 */
export function startChat(session: Session, endpoint: string, onEnd: (message?: string) => void): void {
  const store = new ChatStore(session, endpoint);
  new TopBar(store);
  new ExpertDesk(store);
  new ConversationList(store);
  new MessagePane(store);
  new ConversationMenu(store);
  new Composer(store);
  new SidePanel(store);
  new SearchBox(store);
  new NewConversationDialog(store);

  const openFromHash = async () => {
    const found = await store.open(conversationInHash(location.hash));
    if (!found) history.replaceState(null, '', location.pathname + location.search);
  };
  const { signal } = store;
  window.addEventListener('hashchange', () => store.guard(openFromHash()), { signal });
  document.addEventListener(
    'visibilitychange',
    () => {
      if (document.visibilityState === 'visible') store.pageVisible();
    },
    { signal },
  );
  // Events missed while the connection was down are read back when it returns.
  window.addEventListener('online', () => store.pageVisible(), { signal });
  store.on('end', (message) => {
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    onEnd(message);
  });

  store.start();
  store.guard(store.refresh().then(openFromHash));
}
