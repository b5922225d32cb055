/**
 * Media round trip: two load-test peers on libwebrtc (WrtcPeer) join the doctor's test room;
 * one publishes a generated camera and microphone, the other consumes both, and RTP must
 * come back through the server (packets received, video frames decoded).
 */
import { WrtcPeer } from '../../loadtest/peer/wrtcPeer.js';
import type { Probe } from './signaling.js';
import { fail, pass, type Outcome } from '../report.js';

const MIN_PACKETS = 5;

export async function checkMedia(origin: string, probe: Probe, timeoutMs: number, requestTimeoutMs: number, portsOk: boolean): Promise<Outcome> {
  const fix = portsOk
    ? 'the ports answer but media does not flow: run the server with LOG_LEVEL=debug and WORKER_LOG_LEVEL=warn and see its log'
    : 'fix the RTC port checks above first: media uses those ports';
  const peers: WrtcPeer[] = [];
  const problems: string[] = [];
  const started = performance.now();
  try {
    const common = { url: origin, roomId: probe.roomId, password: probe.password, requestTimeoutMs };
    const sender = await WrtcPeer.join({ ...common, displayName: 'Noom doctor sender', publish: { audio: true, video: true }, consume: false });
    peers.push(sender);
    const receiver = await WrtcPeer.join({ ...common, displayName: 'Noom doctor receiver' });
    peers.push(receiver);
    for (const peer of peers) peer.events.on('failed', (error) => problems.push(error.message));
    const left = Math.max(0, timeoutMs - (performance.now() - started));
    await receiver.waitForMedia({ consumers: 2, minPackets: MIN_PACKETS, timeoutMs: left }).catch(() => {
      const got = receiver.consumerStats().map((s) => `${s.kind} ${s.packets}`);
      throw new Error(`no RTP back within ${timeoutMs / 1000} s (packets received: ${got.length > 0 ? got.join(', ') : 'no consumer'})`);
    });
    const stats = receiver.consumerStats();
    const audio = stats.find((s) => s.kind === 'audio');
    const video = stats.find((s) => s.kind === 'video');
    const firstMs = Math.max(...stats.map((s) => (s.firstPacketAt ?? performance.now()) - started));
    const data = {
      audioPackets: audio?.packets ?? 0,
      videoPackets: video?.packets ?? 0,
      framesDecoded: video?.framesDecoded ?? 0,
      firstRtpMs: Math.round(firstMs),
    };
    return pass(
      `published audio and video and got RTP back through the server within ${(firstMs / 1000).toFixed(1)} s ` +
        `(${data.audioPackets} audio and ${data.videoPackets} video packets so far)`,
      data,
    );
  } catch (error) {
    const detail = [(error as Error).message, ...problems].join('; ');
    return fail(detail, fix);
  } finally {
    await Promise.all(peers.map((p) => p.close()));
  }
}
