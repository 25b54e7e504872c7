import { byId, setAlert } from '../dom.js';
import { conversationHash } from '../routes.js';
import type { ChatStore } from '../store.js';

/** The "New" button's dialog: a private conversation with one person, or a group, by user ids. */
export class NewConversationDialog {
  private readonly newButton = byId<HTMLButtonElement>('new-conv-button');
  private readonly dialog = byId<HTMLDialogElement>('new-conv-dialog');
  private readonly form = byId<HTMLFormElement>('new-conv-form');
  private readonly privateKind = byId<HTMLInputElement>('new-conv-private');
  private readonly groupKind = byId<HTMLInputElement>('new-conv-group');
  private readonly privateFields = byId('new-conv-private-fields');
  private readonly groupFields = byId('new-conv-group-fields');
  private readonly user = byId<HTMLInputElement>('new-conv-user');
  private readonly name = byId<HTMLInputElement>('new-conv-name');
  private readonly members = byId<HTMLInputElement>('new-conv-members');
  private readonly error = byId('new-conv-error');
  private readonly cancel = byId<HTMLButtonElement>('new-conv-cancel');
  private readonly submit = byId<HTMLButtonElement>('new-conv-submit');

  constructor(private readonly store: ChatStore) {
    const { signal } = store;
    this.newButton.addEventListener('click', () => this.show(), { signal });
    this.cancel.addEventListener('click', () => this.dialog.close(), { signal });
    this.privateKind.addEventListener('change', () => this.renderKind(), { signal });
    this.groupKind.addEventListener('change', () => this.renderKind(), { signal });
    this.form.addEventListener(
      'submit',
      (e) => {
        e.preventDefault();
        void this.create();
      },
      { signal },
    );
    store.on('end', () => {
      if (this.dialog.open) this.dialog.close();
    });
  }

  private show(): void {
    this.form.reset();
    this.renderKind();
    setAlert(this.error, null);
    this.dialog.showModal();
    this.user.focus();
  }

  private renderKind(): void {
    const group = this.groupKind.checked;
    this.groupFields.hidden = !group;
    this.privateFields.hidden = group;
  }

  private async create(): Promise<void> {
    const { store } = this;
    setAlert(this.error, null);
    this.submit.disabled = true;
    try {
      const me = store.state.me.userId;
      let id: string;
      if (this.privateKind.checked) {
        const userId = this.user.value.trim();
        if (!userId) throw new Error('Enter the user id of the person to talk with.');
        if (userId === me) throw new Error('That is you: enter someone else’s user id.');
        id = await store.startPrivate(userId);
      } else {
        const name = this.name.value.trim();
        const ids = [...new Set(this.members.value.split(/[\s,;]+/).filter((s) => s && s !== me))];
        if (!name) throw new Error('Give the group a name.');
        if (ids.length === 0) throw new Error('Add at least one member by user id.');
        id = await store.startGroup(name, ids);
      }
      this.dialog.close();
      location.hash = conversationHash(id);
    } catch (err) {
      store.report(err, (message) => setAlert(this.error, message));
    } finally {
      this.submit.disabled = false;
    }
  }
}
