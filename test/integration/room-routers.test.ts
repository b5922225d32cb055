/**
 * One room over two workers: with ROOM_PEERS_PER_ROUTER=2, six real WebRTC peers (werift)
 * land on routers on both workers, and every peer receives every publisher through the
 * pipes between them. A producer closing on one router closes its piped consumers on the
 * other; the last consumer on a router unpipes; a worker dying takes only its own peers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoomServer } from '../../server/src/app.js';
import type { Room } from '../../server/src/rooms/Room.js';
import { SyntheticPeer } from '../../scripts/loadtest/peer/index.js';
import { parsePrometheusText } from '../../scripts/loadtest/prometheus.js';
import { oneNodeCall } from '../support/call.js';
import { eventually } from '../support/eventually.js';
import { collect, req } from '../support/server.js';

let noom: NoomServer;
const { peers } = oneNodeCall({ WORKERS: '2', ROOM_PEERS_PER_ROUTER: '2' }, (server) => (noom = server));
const ROOM = 'wide';


const room = (): Room => noom.rooms.get(ROOM)!;
/** The worker slot each peer was placed on, by peer id. */
const slotOf = (peerId: string) => room().peers.get(peerId)!.slotIndex;
const packets = (p: SyntheticPeer, producerId: string) =>
  p.consumerStats().filter((c) => c.producerId === producerId && !c.closed).reduce((n, c) => n + c.packets, 0);

/** Piped producers (those whose origin is another router) present on each router of the room. */
async function pipedProducerIds(): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const r of room().media.routers) {
    const dump = await r.router.dump();
    const own = new Set([...room().media.producers.values()].filter((p) => p.router === r.router).map((p) => p.producer.id));
    out.set(r.slot.index, dump.mapProducerIdConsumerIds.map((e) => e.key).filter((id) => !own.has(id)));
  }
  return out;
}

test('six peers over two workers each receive every publisher', async () => {
  // Ada and Cy publish audio and video; everyone else audio only.
  let producerScores: { producerId: string; score: number }[] = [];
  let consumerScores: { consumerId: string; score: number }[] = [];
  for (const [i, name] of ['Ada', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay'].entries()) {
    peers.push(
      await SyntheticPeer.join({ url: noom.url, roomId: ROOM, displayName: name, publish: { audio: true, video: i === 0 || i === 2 } }),
    );
    if (i === 0) {
      producerScores = collect(peers[0]!.socket, 'producer:score');
      consumerScores = collect(peers[0]!.socket, 'consumer:score');
    }
  }
  const slots = peers.map((p) => slotOf(p.peerId));
  assert.deepEqual(slots.slice(0, 4), [slots[0], slots[0], 1 - slots[0]!, 1 - slots[0]!], 'two per router, then the next worker');
  assert.equal(new Set(slots).size, 2);
  assert.equal(room().media.routers.length, 2, 'one router of the room per worker');

  const producers = peers.flatMap((p) => p.producerIds().map((id) => ({ id, peerId: p.peerId })));
  assert.equal(producers.length, 8);
  await Promise.all(
    peers.map((p) => p.waitForMedia({ consumers: producers.filter((x) => x.peerId !== p.peerId).length, minPackets: 20, timeoutMs: 30_000 })),
  );
  for (const p of peers) {
    for (const producer of producers) {
      if (producer.peerId === p.peerId) continue;
      assert.ok(packets(p, producer.id) > 0, `${p.peerId} got nothing from ${producer.id}`);
    }
  }

  // Scores follow across the pipe: Ada hears the uplink of Cy, on the other router, and
  // the quality of what she receives of it.
  const ada = peers[0]!;
  const cy = peers[2]!;
  await eventually('a good uplink score of each of Cy\'s producers at Ada', () =>
    cy.producerIds().every((id) => producerScores.some((e) => e.producerId === id && e.score > 0)),
  );
  const adaOfCy = ada.consumerStats().filter((c) => c.peerId === cy.peerId).map((c) => c.consumerId);
  await eventually('a good score of Ada\'s consumers of Cy', () =>
    adaOfCy.every((id) => consumerScores.some((e) => e.consumerId === id && e.score > 0)),
  );

  // /metrics counts consumers on both workers.
  const metrics = parsePrometheusText(await (await fetch(`${noom.url}/metrics`)).text());
  const consumersOn = (w: string) => metrics.find((m) => m.name === 'noom_consumers' && m.labels.worker === w)?.value ?? 0;
  assert.ok(consumersOn('0') > 0 && consumersOn('1') > 0, `consumers per worker: ${consumersOn('0')}, ${consumersOn('1')}`);
  assert.equal(consumersOn('0') + consumersOn('1'), peers.reduce((n, p) => n + p.consumerStats().length, 0));
  const pipesInto = (w: string) => metrics.find((m) => m.name === 'noom_pipes' && m.labels.worker === w)?.value ?? 0;
  const routersOn = (w: string) => metrics.find((m) => m.name === 'noom_room_routers' && m.labels.worker === w)?.value ?? 0;
  assert.deepEqual([routersOn('0'), routersOn('1')], [1, 1]);
  assert.ok(pipesInto('0') > 0 && pipesInto('1') > 0, `pipes per worker: ${pipesInto('0')}, ${pipesInto('1')}`);

  // Each router holds every producer of the other router, piped once, however many consume it there.
  const piped = await pipedProducerIds();
  for (const r of room().media.routers) {
    const foreign = producers.filter((x) => slotOf(x.peerId) !== r.slot.index).map((x) => x.id).sort();
    assert.deepEqual([...piped.get(r.slot.index)!].sort(), foreign, `pipes into the router on worker ${r.slot.index}`);
  }
});

test('a producer closing on one router closes its piped consumers on the other, and the pipe', async () => {
  const cy = peers[2]!;
  const cyVideo = cy.producerStats().find((s) => s.kind === 'video')!.producerId;
  const farSide = peers.filter((p) => slotOf(p.peerId) !== slotOf(cy.peerId));
  assert.ok(farSide.length >= 2);
  const closedAt = farSide.map((p) => collect(p.socket, 'consumer:closed'));
  await req(cy.socket, 'producer:close', { producerId: cyVideo });
  await eventually('consumer:closed across the pipe', () => closedAt.every((c) => c.some((e) => e.producerId === cyVideo)));
  const piped = await pipedProducerIds();
  assert.ok(![...piped.values()].flat().includes(cyVideo), 'no router holds the closed producer');
});

test('the last consumer of a piped producer on a router unpipes it', async () => {
  const ada = peers[0]!;
  const adaVideo = ada.producerStats().find((s) => s.kind === 'video')!.producerId;
  const farSlot = 1 - slotOf(ada.peerId);
  assert.ok((await pipedProducerIds()).get(farSlot)!.includes(adaVideo), 'piped before');
  // Everyone over there closes their consumer of Ada's video.
  for (const p of peers.filter((x) => slotOf(x.peerId) === farSlot)) {
    const consumer = p.consumerStats().find((c) => c.producerId === adaVideo && !c.closed)!;
    await p.closeConsumer(consumer.consumerId);
  }
  await eventually('the pipe into the far router is gone', async () => !(await pipedProducerIds()).get(farSlot)!.includes(adaVideo));
  // A new consumer over there pipes it again, and media flows.
  const far = peers.find((x) => slotOf(x.peerId) === farSlot)!;
  await far.consume(adaVideo);
  await eventually('Ada video again across the pipe', () => packets(far, adaVideo) > 10);
});

/**
 * The audio producers the room's active-speaker observer listens to: those observed on
 * whichever router of the room carries it (piped ones keep their producer id).
 */
async function observedAudio(): Promise<string[]> {
  const observed = new Set<string>();
  for (const r of room().media.routers) {
    const dump = await r.router.dump();
    for (const e of dump.mapProducerIdObserverIds) if (e.values.length > 0) observed.add(e.key);
  }
  return [...observed].sort();
}
const roomAudio = (among: SyntheticPeer[]) =>
  among.map((p) => p.producerStats().find((s) => s.kind === 'audio')!.producerId).sort();

test('the active-speaker observer hears the audio of every router of the room', async () => {
  await eventually('every audio producer observed', observedAudio, (ids) => JSON.stringify(ids) === JSON.stringify(roomAudio(peers)));
});

test('a worker dying takes only its own peers; the others still hear each other', async () => {
  const victimSlot = slotOf(peers[0]!.peerId);
  const victims = peers.filter((p) => slotOf(p.peerId) === victimSlot);
  const survivors = peers.filter((p) => slotOf(p.peerId) !== victimSlot);
  assert.ok(victims.length >= 2 && survivors.length >= 2);
  const roomClosed = victims.map((p) => collect(p.socket, 'room:closed'));
  const leftAtSurvivor = collect(survivors[0]!.socket, 'peer:left');
  const pid = noom.pool.slots.find((s) => s.index === victimSlot)!.worker.pid;
  process.kill(pid, 'SIGKILL');

  await eventually('the dead worker\'s peers are told', () => roomClosed.every((e) => e.length === 1));
  assert.deepEqual(roomClosed.map((e) => e[0]), victims.map(() => ({ reason: 'workerclose' })));
  await eventually('the others see them leave', () => victims.every((v) => leftAtSurvivor.some((e) => e.peerId === v.peerId)));
  assert.equal(room().closed, false, 'the room lives on');
  assert.equal(room().peerCount, survivors.length);
  assert.deepEqual(room().media.routers.map((r) => r.slot.index), [1 - victimSlot]);

  // The survivors still receive each other's audio.
  for (const p of survivors) {
    for (const other of survivors) {
      if (other === p) continue;
      const audio = other.producerStats().find((s) => s.kind === 'audio')!.producerId;
      const before = packets(p, audio);
      await eventually(`${p.peerId} still hears ${other.peerId}`, () => packets(p, audio) > before + 10);
    }
  }
  // The observer was on the dead worker's router: it is rebuilt on the survivor's.
  await eventually('the survivors\' audio observed again', observedAudio, (ids) => JSON.stringify(ids) === JSON.stringify(roomAudio(survivors)));
  // A newcomer is placed on a live router (the replaced worker's, or the survivor's).
  const late = await SyntheticPeer.join({ url: noom.url, roomId: ROOM, displayName: 'Late', publish: { audio: true } });
  peers.push(late);
  await late.waitForMedia({ consumers: survivors.length, minPackets: 10, timeoutMs: 20_000 });
});
