/**
 * `npm run turn [-- --port 3478] [--ip 127.0.0.1] [--secret S]`: a private coturn for
 * development, in the TURN REST API mode Noom issues credentials for. Prints the TURN_URLS
 * and TURN_SECRET to start Noom with, and the address that forces a browser onto the relay.
 * Ctrl-C stops it. It relays to loopback peers, as a local Noom needs: not for production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { coturn } from './turn/coturn.js';

const program = new Command('turn')
  .description('a private coturn for development (Ctrl-C stops it)')
  .option('--port <port>', 'TURN port, UDP and TCP', (v) => port(v), 3478)
  .option('--ip <address>', 'address to listen on and relay from', '127.0.0.1')
  .option('--secret <secret>', "shared secret (Noom's TURN_SECRET); default: a random one")
  .option('--relay-ports <min-max>', 'UDP ports of the relayed addresses', '50000-50999')
  .option('--verbose', "print coturn's log")
  .parse();
const opts = program.opts<{ port: number; ip: string; secret?: string; relayPorts: string; verbose?: boolean }>();

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('not a port');
  return n;
}
const [min, max] = opts.relayPorts.split('-').map(port) as [number, number];

const dir = mkdtempSync(path.join(tmpdir(), 'noom-turn-'));
const server = coturn({
  port: opts.port,
  dir,
  ip: opts.ip,
  relayPorts: { min, max },
  verbose: Boolean(opts.verbose),
  ...(opts.secret ? { secret: opts.secret } : {}),
});
try {
  await server.start();
} catch (error) {
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`[turn] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
if (opts.verbose) server.process?.stdout?.pipe(process.stdout);
process.stdout.write(
  [
    `[turn] coturn on ${server.urls.join(' and ')} (pid ${server.process?.pid}), relay ports ${min}-${max}`,
    '[turn] start Noom with:',
    `  TURN_URLS=${server.urls.join(',')} TURN_SECRET=${server.secret} npm start`,
    '[turn] then open a room with ?ice=relay (e.g. http://localhost:3000/r/test?ice=relay) to call through the relay only',
    '',
  ].join('\n'),
);
let stopping = false;
const stop = async () => {
  stopping = true;
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
server.process?.once('exit', (code, signal) => {
  if (stopping) return;
  process.stderr.write(`[turn] coturn exited (${signal ?? code})\n${server.log().trim().split('\n').slice(-5).join('\n')}\n`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
