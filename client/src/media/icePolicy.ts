/**
 * `?ice=relay` in the address the page was opened with: WebRTC then uses TURN-relayed paths
 * only (`iceTransportPolicy: 'relay'`), to check that a deployment's TURN server works, and
 * for the tests that do. Read once, so that it holds for the whole visit.
 */
export const ICE_TRANSPORT_POLICY: RTCIceTransportPolicy =
  new URLSearchParams(window.location.search).get('ice') === 'relay' ? 'relay' : 'all';
