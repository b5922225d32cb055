/** The `<select>` of capture devices, shared by the pre-join screen and the room's device picker. */
import { h } from '../lib/dom.js';

export function fillDeviceSelect(
  select: HTMLSelectElement,
  devices: MediaDeviceInfo[],
  current: string | undefined,
  empty: string,
): void {
  select.replaceChildren(
    ...devices.map((d, i) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label || `Device ${i + 1}`)),
  );
  if (devices.length === 0) select.replaceChildren(h('option', { value: '' }, empty));
  select.disabled = devices.length === 0;
}
