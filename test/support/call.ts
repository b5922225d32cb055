/**
 * The set-up of a test file about calls of synthetic peers: the clip prepared and the
 * servers started before the tests (handed to `ready`), and after them every peer and
 * socket the tests made closed, then the servers stopped.
 */
import { after, before } from 'node:test';
import type { NoomServer } from '../../server/src/app.js';
import { prepareMedia, type SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { socketTracker, startTestServer } from './server.js';

export interface CallFixture {
  sockets: ReturnType<typeof socketTracker>;
  peers: SyntheticPeer[];
}

export function callFixture<T>(start: () => Promise<T>, stop: (servers: T) => Promise<void>, ready: (servers: T) => void): CallFixture {
  const sockets = socketTracker();
  const peers: SyntheticPeer[] = [];
  let servers: T | undefined;
  before(async () => {
    await prepareMedia();
    servers = await start();
    ready(servers);
  });
  after(async () => {
    await Promise.all(peers.map((p) => p.close()));
    sockets.closeAll();
    if (servers !== undefined) await stop(servers);
  });
  return { sockets, peers };
}

/** One Noom (startTestServer with `env`) for a file of calls. */
export function oneNodeCall(env: Record<string, string>, ready: (noom: NoomServer) => void): CallFixture {
  return callFixture(() => startTestServer(env), (noom) => noom.close(), ready);
}
