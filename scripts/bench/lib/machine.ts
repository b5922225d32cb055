/** The machine a run happened on, recorded beside every result. */
import { readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import { workerBin } from 'mediasoup';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** 1, 5 and 15 minute load averages when the run started. */
  loadAverage: number[];
  date: string;
  /** The mediasoup-worker binary both Noom and the bare harness run. */
  workerBinary: string;
}

function workerBinary(): string {
  try {
    return realpathSync(workerBin);
  } catch {
    return workerBin;
  }
}

export function machineInfo(): MachineInfo {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) model = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: os.cpus() is as good as it gets
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel: model,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: os.release(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
    workerBinary: workerBinary(),
  };
}
