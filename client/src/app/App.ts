/**
 * Top-level navigation between the lobby and a room, driven by the URL so that `/r/<room>`
 * links work and the back button leaves a room.
 */
import { LocalMedia } from '../media/LocalMedia.js';
import { DisplayName, RequestError } from '../protocol.js';
import { RoomSession } from '../room/RoomSession.js';
import type { SignalingClient } from '../signaling/SignalingClient.js';
import { LobbyView, type LobbyJoin } from '../ui/LobbyView.js';
import { loadingScreen, messageScreen } from '../ui/MessageScreen.js';
import { askPassword } from '../ui/PasswordDialog.js';
import { RoomView } from '../ui/RoomView.js';
import { loadNickname } from './preferences.js';
import { roomFromPath, roomPath } from './routes.js';

interface View {
  el: HTMLElement;
  destroy(): void;
}

export class App {
  readonly #root: HTMLElement;
  readonly #signaling: SignalingClient;
  #view: View | null = null;
  #session: RoomSession | null = null;
  /** Options chosen in the lobby for the room being navigated to. */
  #pendingJoin: LobbyJoin | null = null;
  /** Bumped on every navigation, so that a slow room entry notices it was abandoned. */
  #navigation = 0;

  constructor(root: HTMLElement, signaling: SignalingClient) {
    this.#root = root;
    this.#signaling = signaling;
  }

  start(): void {
    window.addEventListener('popstate', () => void this.#route());
    void this.#route();
  }

  #navigate(path: string): void {
    if (location.pathname !== path) history.pushState(null, '', path);
    void this.#route();
  }

  async #route(notice?: string): Promise<void> {
    const nav = ++this.#navigation;
    await this.#closeSession();
    if (nav !== this.#navigation) return;
    const roomId = roomFromPath(location.pathname);
    document.title = roomId ? `${roomId} · Noom` : 'Noom';
    if (!roomId) {
      this.#show(
        new LobbyView(
          this.#signaling,
          (join) => {
            this.#pendingJoin = join;
            this.#navigate(roomPath(join.roomId));
          },
          notice,
        ),
      );
      return;
    }
    const join = this.#pendingJoin?.roomId === roomId ? this.#pendingJoin : { roomId, public: true };
    this.#pendingJoin = null;
    await this.#enterRoom(nav, join);
  }

  async #enterRoom(nav: number, join: LobbyJoin): Promise<void> {
    const name = DisplayName.safeParse(loadNickname());
    const localMedia = new LocalMedia();
    const session = new RoomSession(this.#signaling, localMedia, {
      ...join,
      ...(name.success ? { displayName: name.data } : {}),
    });
    this.#session = session;
    this.#showElement(loadingScreen(`Joining ${join.roomId}…`));
    await session.publisher.prepare();

    let triedPassword = Boolean(join.password);
    for (;;) {
      if (nav !== this.#navigation) return;
      try {
        await session.join();
        break;
      } catch (error) {
        if (nav !== this.#navigation) return;
        if (error instanceof RequestError && error.code === 'FORBIDDEN') {
          const password = await askPassword(join.roomId, triedPassword);
          if (password === null) return this.#navigate('/');
          session.setPassword(password);
          triedPassword = true;
          continue;
        }
        await this.#closeSession();
        this.#showElement(this.#joinFailure(join.roomId, error));
        return;
      }
    }
    if (nav !== this.#navigation) return;
    session.on('ended', (reason) => {
      void this.#closeSession().then(() =>
        this.#showElement(
          messageScreen('You are no longer in this room', reason, { label: 'Back to lobby', run: () => this.#navigate('/') }),
        ),
      );
    });
    this.#show(new RoomView(session, localMedia, () => this.#navigate('/')));
  }

  #joinFailure(roomId: string, error: unknown): HTMLElement {
    const back = { label: 'Back to lobby', run: () => this.#navigate('/') };
    if (error instanceof RequestError) {
      switch (error.code) {
        case 'ROOM_FULL':
          return messageScreen(
            'This room is full',
            `“${roomId}” has reached its participant limit. Try again later.`,
            back,
          );
        case 'INVALID_REQUEST':
          return messageScreen('Cannot join this room', `“${roomId}” is not a valid room name.`, back);
        case 'TIMEOUT':
          return messageScreen('Server unreachable', 'The server did not answer. Check your connection.', {
            label: 'Retry',
            run: () => void this.#route(),
          });
        default:
          break;
      }
    }
    const text = error instanceof Error ? error.message : String(error);
    return messageScreen('Could not join', text, back);
  }

  async #closeSession(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    if (session) await session.leave();
  }

  #show(view: View): void {
    this.#view?.destroy();
    this.#view = view;
    this.#root.replaceChildren(view.el);
  }

  #showElement(el: HTMLElement): void {
    this.#show({ el, destroy: () => el.remove() });
  }
}
