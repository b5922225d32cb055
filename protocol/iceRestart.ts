/**
 * When a client restarts ICE on one of its transports, shared by the browser client and the
 * load tester's peers so that both recover the same way and stay within what the server
 * allows (`transport:restartIce` is rate-limited per transport, see ICE_RESTART_LIMIT).
 *
 * A transport whose media path broke (Wi-Fi switch, lost UDP) reports `disconnected` and,
 * once ICE consent has expired (about 30 s), `failed`. `disconnected` is often a blip that
 * heals by itself, so the first restart waits a moment; `failed` never heals, so it restarts
 * at once. A restart made while the path is still down fails in its turn; the transport is
 * then restarted again, at growing intervals with a ceiling, for as long as it is not
 * connected, so that media comes back within one interval of the path returning.
 */

import { RequestError } from './request.js';

/** The server's limit: `burst` restarts of one transport at once, one more every `refillMs`. */
export const ICE_RESTART_LIMIT = { burst: 4, refillMs: 5000 } as const;

export interface IceRestartPolicy {
  /** How long a `disconnected` transport may heal by itself before the first restart. */
  disconnectedGraceMs: number;
  /**
   * Delays before checking again after each restart (the last repeats): a transport still not
   * connected then is restarted once more. Never shorter than the server's refill.
   */
  retryDelaysMs: readonly number[];
}

export const DEFAULT_ICE_RESTART_POLICY: IceRestartPolicy = {
  disconnectedGraceMs: 2000,
  retryDelaysMs: [5000, 5000, 6000],
};

/** What the restarter needs of a mediasoup-client Transport; `P` is its ICE parameters type. */
export interface RestartableTransport<P> {
  readonly id: string;
  readonly closed: boolean;
  readonly connectionState: string;
  on(event: 'connectionstatechange', listener: (state: string) => void): unknown;
  restartIce(options: { iceParameters: P }): Promise<void>;
}

export type IceRestartEvent =
  | { type: 'restarted'; transportId: string; attempt: number }
  | { type: 'restartfailed'; transportId: string; attempt: number; error: unknown }
  | { type: 'recovered'; transportId: string; restarts: number };

export interface IceRestarterOptions<P> {
  /** Asks the server for new ICE parameters (`transport:restartIce`). */
  request: (transportId: string) => Promise<P>;
  /** False while signaling is down: no restart is tried then, only a later check. */
  canSignal: () => boolean;
  onEvent?: (event: IceRestartEvent) => void;
  policy?: IceRestartPolicy;
}

/**
 * Watches one transport and restarts its ICE while it is disconnected or failed. Stops by
 * itself when the transport closes; `stop()` ends it earlier.
 */
export class IceRestarter<P> {
  readonly #transport: RestartableTransport<P>;
  readonly #options: IceRestarterOptions<P>;
  readonly #policy: IceRestartPolicy;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending check is due (performance.now()), to bring it forward on `failed`. */
  #dueAt = 0;
  /** Restarts since the transport was last connected. */
  #attempts = 0;
  #lastRestartAt = -Infinity;
  #busy = false;
  #stopped = false;

  constructor(transport: RestartableTransport<P>, options: IceRestarterOptions<P>) {
    this.#transport = transport;
    this.#options = options;
    this.#policy = options.policy ?? DEFAULT_ICE_RESTART_POLICY;
    transport.on('connectionstatechange', (state) => this.#onState(state));
  }

  /** Restarts made since the transport was last connected. */
  get attempts(): number {
    return this.#attempts;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onState(state: string): void {
    if (this.#stopped) return;
    if (state === 'closed' || this.#transport.closed) return this.stop();
    if (state === 'connected') {
      if (this.#attempts > 0) {
        this.#options.onEvent?.({ type: 'recovered', transportId: this.#transport.id, restarts: this.#attempts });
      }
      this.#attempts = 0;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (state === 'failed') {
      // Nothing heals a failed transport; only the spacing between restarts holds it back.
      const earliest = this.#lastRestartAt + this.#retryDelay(this.#attempts - 1);
      this.#schedule(Math.max(0, earliest - performance.now()));
    } else if (state === 'disconnected' && this.#timer === undefined) {
      this.#schedule(this.#policy.disconnectedGraceMs);
    }
  }

  #retryDelay(index: number): number {
    if (index < 0) return 0;
    const delays = this.#policy.retryDelaysMs;
    return delays[Math.min(index, delays.length - 1)] ?? 0;
  }

  /** Checks (and restarts if need be) after `delayMs`, or earlier if a check is already due sooner. */
  #schedule(delayMs: number): void {
    const at = performance.now() + delayMs;
    if (this.#timer !== undefined && this.#dueAt <= at) return;
    clearTimeout(this.#timer);
    this.#dueAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#check();
    }, delayMs);
  }

  async #check(): Promise<void> {
    const transport = this.#transport;
    if (this.#stopped || transport.closed) return this.stop();
    if (transport.connectionState === 'connected' || this.#busy) return;
    if (!this.#options.canSignal()) {
      // Signaling is down too: look again later (a resumed session picks up from here).
      this.#schedule(this.#retryDelay(this.#attempts));
      return;
    }
    this.#busy = true;
    const attempt = ++this.#attempts;
    this.#lastRestartAt = performance.now();
    /** The server's word on when to ask again, if it refused for the rate. */
    let retryAfterMs = 0;
    try {
      const iceParameters = await this.#options.request(transport.id);
      if (!transport.closed && !this.#stopped) {
        await transport.restartIce({ iceParameters });
        this.#options.onEvent?.({ type: 'restarted', transportId: transport.id, attempt });
      }
    } catch (error) {
      if (error instanceof RequestError && error.code === 'RATE_LIMITED') retryAfterMs = error.retryAfterMs ?? 0;
      this.#options.onEvent?.({ type: 'restartfailed', transportId: transport.id, attempt, error });
    } finally {
      this.#busy = false;
    }
    if (!this.#stopped && !transport.closed && transport.connectionState !== 'connected') {
      this.#schedule(Math.max(this.#retryDelay(attempt - 1), retryAfterMs));
    }
  }
}
