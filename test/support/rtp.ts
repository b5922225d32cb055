/** Hand-written RTP parameters a real browser would send, for tests that negotiate without media. */
import type { types } from 'mediasoup-client';

export const OPUS_PARAMETERS: types.RtpParameters = {
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } }],
  encodings: [{ ssrc: 11111111 }],
  rtcp: { cname: 'test' },
};

export const VP8_PARAMETERS: types.RtpParameters = {
  codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
  encodings: [{ ssrc: 22222222 }],
  rtcp: { cname: 'test' },
};

/** A 3-layer simulcast camera, as Chrome sends it. */
export const VP8_SIMULCAST_PARAMETERS: types.RtpParameters = {
  codecs: VP8_PARAMETERS.codecs,
  encodings: [
    { rid: 'r0', scalabilityMode: 'L1T3', maxBitrate: 100_000 },
    { rid: 'r1', scalabilityMode: 'L1T3', maxBitrate: 300_000 },
    { rid: 'r2', scalabilityMode: 'L1T3', maxBitrate: 900_000 },
  ],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }, { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10 }],
  mid: '1',
  rtcp: { cname: 'test' },
};
