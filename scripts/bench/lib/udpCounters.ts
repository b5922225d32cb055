/**
 * The kernel's UDP receive-buffer drops (/proc/net/snmp, this network namespace): when a
 * process falls behind reading its socket, packets die here, on either side of the SFU. A
 * rise during a window says loss came from a starved reader rather than from the network.
 */
import { readFileSync } from 'node:fs';

export function udpReceiveBufferErrors(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp: '));
    const names = lines[0]?.split(/\s+/).slice(1) ?? [];
    const values = lines[1]?.split(/\s+/).slice(1).map(Number) ?? [];
    const i = names.indexOf('RcvbufErrors');
    const v = i >= 0 ? values[i] : undefined;
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
