/**
 * Top-level navigation between the lobby and a room, driven by the URL so that `/r/<room>`
 * links work and the back button leaves a room.
 */
import { LocalMedia } from '../media/LocalMedia.js';
import { RequestError, describeRoomIdProblem } from '../protocol.js';
import { RoomSession } from '../room/RoomSession.js';
import type { SignalingClient } from '../signaling/SignalingClient.js';
import { LobbyView, type LobbyJoin } from '../ui/LobbyView.js';
import { loadingScreen, messageScreen, waitingScreen } from '../ui/MessageScreen.js';
import { askPassword } from '../ui/PasswordDialog.js';
import { PreJoinView, type PreJoinChoice } from '../ui/PreJoinView.js';
import { RoomView } from '../ui/RoomView.js';
import { takeJoinToken } from './joinToken.js';
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
  /** Aborted by the next navigation, which closes what the page being left still shows. */
  #pageAbort = new AbortController();

  constructor(root: HTMLElement, signaling: SignalingClient) {
    this.#root = root;
    this.#signaling = signaling;
  }

  start(): void {
    window.addEventListener('popstate', () => void this.#route());
    void this.#route();
  }

  #navigate(path: string, { replace = false } = {}): void {
    if (location.pathname !== path) {
      if (replace) history.replaceState(null, '', path);
      else history.pushState(null, '', path);
    }
    void this.#route();
  }

  /**
   * From a room (or a room that could not be joined) back to the lobby. The room's history
   * entry is replaced, so that Back goes to the page before the room instead of rejoining.
   */
  readonly #backToLobby = (): void => this.#navigate('/', { replace: true });

  async #route(notice?: string): Promise<void> {
    const nav = ++this.#navigation;
    this.#pageAbort.abort();
    const page = (this.#pageAbort = new AbortController());
    await this.#closeSession();
    if (nav !== this.#navigation) return;
    const target = roomFromPath(location.pathname);
    document.title = target?.ok ? `${target.id} · Noom` : 'Noom';
    if (!target) {
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
    if (!target.ok) {
      this.#showElement(
        messageScreen('Cannot join this room', `“${target.id}” is not a valid room name. ${describeRoomIdProblem(target.problem)}`, {
          label: 'Back to lobby',
          run: this.#backToLobby,
        }),
      );
      return;
    }
    const roomId = target.id;
    // `/r/My%20Room` is the room the lobby calls `my-room`: show the link everyone else uses.
    const token = takeJoinToken(roomId);
    if (location.pathname !== roomPath(roomId)) history.replaceState(null, '', roomPath(roomId));
    const lobbyJoin = this.#pendingJoin?.roomId === roomId ? this.#pendingJoin : { roomId, public: true };
    const join = token ? { ...lobbyJoin, token } : lobbyJoin;
    this.#pendingJoin = null;
    const localMedia = new LocalMedia();
    page.signal.addEventListener('abort', () => {
      if (this.#session === null) localMedia.close();
    });
    this.#show(
      new PreJoinView(roomId, localMedia, (choice) => void this.#enterRoom(nav, join, choice, localMedia, page.signal), this.#backToLobby),
    );
  }

  async #enterRoom(nav: number, join: LobbyJoin & { token?: string }, choice: PreJoinChoice, localMedia: LocalMedia, signal: AbortSignal): Promise<void> {
    if (nav !== this.#navigation) return;
    const session = new RoomSession(this.#signaling, localMedia, {
      ...join,
      ...(choice.displayName ? { displayName: choice.displayName } : {}),
    });
    this.#session = session;
    session.publisher.choose(choice);
    this.#showElement(loadingScreen(`Joining ${join.roomId}…`));
    session.on('waiting', () => {
      if (nav === this.#navigation) this.#showElement(waitingScreen(join.roomId, this.#backToLobby));
    });

    let triedPassword = Boolean(join.password);
    for (;;) {
      if (nav !== this.#navigation) return;
      try {
        await session.join();
        break;
      } catch (error) {
        if (nav !== this.#navigation) return;
        if (error instanceof RequestError && error.code === 'FORBIDDEN' && asksForPassword(error)) {
          const password = await askPassword(join.roomId, triedPassword, signal);
          if (nav !== this.#navigation) return;
          if (password === null) return this.#backToLobby();
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
    session.on('ended', ({ reason, message }) => {
      const title =
        reason === 'kicked'
          ? 'You were removed from this room'
          : reason === 'ended'
            ? 'The meeting was ended by a moderator'
            : 'You are no longer in this room';
      void this.#closeSession().then(() =>
        this.#showElement(messageScreen(title, message, { label: 'Back to lobby', run: this.#backToLobby }, reason)),
      );
    });
    this.#show(new RoomView(session, localMedia, this.#backToLobby));
  }

  #joinFailure(roomId: string, error: unknown): HTMLElement {
    const back = { label: 'Back to lobby', run: this.#backToLobby };
    if (error instanceof RequestError) {
      switch (error.code) {
        case 'UNAUTHORIZED':
          return messageScreen(
            'This room needs an invitation',
            `Joining “${roomId}” takes a valid invitation link. Yours is missing, expired or for another room: ask the organiser for a new one.`,
            back,
            'unauthorized',
          );
        case 'FORBIDDEN':
          return forbiddenScreen(roomId, error, back);
        case 'ROOM_FULL':
          return messageScreen(
            'This room is full',
            `“${roomId}” has reached its participant limit. Try again later.`,
            back,
          );
        case 'INVALID_REQUEST':
          return messageScreen('Cannot join this room', `“${roomId}” is not a valid room name.`, back);
        case 'DRAINING':
          return messageScreen('The server is restarting', 'It takes no new calls for a moment. Try again shortly.', {
            label: 'Retry',
            run: () => void this.#route(),
          });
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

/**
 * The server answers FORBIDDEN for a locked room (no or wrong password), for someone a
 * moderator removed, and for a newcomer a moderator did not admit; only the first is a
 * question of a password. The answer's `refusal` tells them apart.
 */
function asksForPassword(error: RequestError): boolean {
  return error.refusal === 'password-required' || error.refusal === 'wrong-password';
}

function forbiddenScreen(roomId: string, error: RequestError, back: { label: string; run: () => void }): HTMLElement {
  if (error.refusal === 'removed') {
    const wait = error.retryAfterMs === undefined ? '' : ` You can try again in ${formatWait(Math.ceil(error.retryAfterMs / 1000))}.`;
    return messageScreen('You were removed from this room', `A moderator removed you from “${roomId}”.${wait}`, back, 'kicked');
  }
  if (error.refusal === 'denied') {
    return messageScreen('You were not let in', `A moderator of “${roomId}” did not admit you.`, back, 'denied');
  }
  return messageScreen('Cannot join this room', error.reason, back);
}

function formatWait(seconds: number): string {
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} s`;
}
