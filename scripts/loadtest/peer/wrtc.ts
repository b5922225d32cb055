/**
 * @roamhq/wrtc (libwebrtc M106) as the WebRTC engine under mediasoup-client, in Node.
 *
 * mediasoup-client's Chrome111 handler names only two browser globals, `RTCPeerConnection`
 * and `MediaStream`, and only synchronously: in its constructor and at the start of
 * `getNativeRtpCapabilities`. Those two calls run here with wrtc's classes in place and the
 * previous globals restored right after, so werift peers (which keep werift's classes on
 * `globalThis`, see werift.ts) can run in the same process.
 *
 * The native module is loaded on first use: processes running only werift peers import
 * this file through index.ts and should not pay for libwebrtc.
 */
import { createRequire } from 'node:module';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import type * as ms from 'mediasoup-client/types';

export type Wrtc = typeof import('@roamhq/wrtc');

const require = createRequire(import.meta.url);
let loaded: Wrtc | undefined;

/**
 * @roamhq/wrtc, loaded once. Once libwebrtc sources or tracks exist, Node's own teardown
 * at a natural exit runs their finalizers after libwebrtc's threads are gone and the
 * process dies of SIGSEGV (wrtc 0.10.0). `process.exit()` from the 'exit' event skips that
 * teardown and keeps the exit code.
 */
export function loadWrtc(): Wrtc {
  if (!loaded) {
    loaded = require('@roamhq/wrtc') as Wrtc;
    process.once('exit', () => process.exit());
  }
  return loaded;
}

const HANDLER_GLOBALS = ['RTCPeerConnection', 'MediaStream'] as const;

function withWrtcGlobals<T>(fn: () => T): T {
  const wrtc = loadWrtc();
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = HANDLER_GLOBALS.map((key) => [key, Object.getOwnPropertyDescriptor(g, key)] as const);
  for (const key of HANDLER_GLOBALS) {
    Object.defineProperty(g, key, { value: wrtc[key], writable: true, configurable: true, enumerable: false });
  }
  try {
    return fn();
  } finally {
    for (const [key, descriptor] of saved) {
      if (descriptor) Object.defineProperty(g, key, descriptor);
      else delete g[key];
    }
  }
}

/**
 * mediasoup-client's Chrome111 handler on wrtc's RTCPeerConnection, for
 * `new Device({ handlerFactory })`.
 */
export function wrtcHandlerFactory(): ms.HandlerFactory {
  const chrome = Chrome111.createFactory({});
  return {
    name: chrome.name,
    factory: (options) => withWrtcGlobals(() => chrome.factory(options)),
    getNativeRtpCapabilities: (options) => withWrtcGlobals(() => chrome.getNativeRtpCapabilities(options)),
  };
}
