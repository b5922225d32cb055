/**
 * `npm run doctor -- --url https://meet.example.org [--json]`: checks a Noom deployment from
 * here (best: on the server host itself) and says how to fix each failure in one line.
 * Exit code 0 when no check failed (warnings and skipped checks do not count), 1 when one
 * did, 2 for a wrong command line or a crash of the doctor itself.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { runDoctor } from './doctor.js';
import { exitCode, type CheckResult, type CheckStatus, type DoctorReport } from './report.js';

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new InvalidArgumentError('must be a number of seconds, above 0 and at most 600');
  return n;
}

function httpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('must be a URL such as https://meet.example.org or http://127.0.0.1:3000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('must be an http:// or https:// URL');
  return url.href;
}

/** Renders progress and results for a person: colours and a live line on a terminal only. */
class Terminal {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #pending = false;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
    this.#tty = out.isTTY === true && !process.env.NO_COLOR;
  }

  #paint(status: CheckStatus, text: string): string {
    if (!this.#tty) return text;
    const colour = { pass: 32, warn: 33, fail: 31, skip: 90 }[status];
    return `\x1b[${colour}m${text}\x1b[0m`;
  }

  header(url: string): void {
    this.#out.write(`Noom doctor: ${url}\n`);
  }

  start(title: string): void {
    if (!this.#tty) return;
    this.#out.write(`  ....  ${title}`);
    this.#pending = true;
  }

  done(r: CheckResult): void {
    if (this.#pending) this.#out.write('\r\x1b[K');
    this.#pending = false;
    this.#out.write(`  ${this.#paint(r.status, r.status.toUpperCase().padEnd(4))}  ${r.title.padEnd(17)} ${r.detail}\n`);
    if (r.fix) this.#out.write(`        ${' '.repeat(17)} ${this.#paint(r.status, 'fix:')} ${r.fix}\n`);
  }

  summary(report: DoctorReport): void {
    const c = report.counts;
    const verdict = report.ok ? this.#paint('pass', 'no check failed') : this.#paint('fail', `${c.fail} check${c.fail === 1 ? '' : 's'} failed`);
    this.#out.write(`${verdict}: ${c.pass} passed, ${c.warn} warned, ${c.fail} failed, ${c.skip} skipped\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('doctor')
    .description(
      'Check a Noom deployment: HTTP, TLS, Socket.IO over WebSocket, the announced IP, the RTC ports (STUN over UDP and TCP), ' +
        'TURN, and a publish → consume round trip. Exit code 0 when no check failed.',
    )
    .requiredOption('--url <url>', 'the server as browsers reach it, e.g. https://meet.example.org', httpUrl)
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr on a terminal)', false)
    .option('--timeout <seconds>', 'per network step', seconds, 5)
    .option('--media-timeout <seconds>', 'for RTP to come back in the round trip', seconds, 15)
    .exitOverride();
  try {
    program.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const opts = program.opts<{ url: string; json: boolean; timeout: number; mediaTimeout: number }>();

  const progressOut = opts.json ? (process.stderr.isTTY ? process.stderr : undefined) : process.stdout;
  const terminal = progressOut ? new Terminal(progressOut) : undefined;
  terminal?.header(new URL(opts.url).origin);
  const report = await runDoctor({
    url: opts.url,
    timeoutMs: opts.timeout * 1000,
    mediaTimeoutMs: opts.mediaTimeout * 1000,
    onCheck: (event) => (event.phase === 'start' ? terminal?.start(event.title) : terminal?.done(event.result)),
  });
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else terminal?.summary(report);
  return exitCode(report);
}

main(process.argv).then(
  (code) => {
    // Exits at once: the media peers' libwebrtc threads must not outlive an orderly exit (see wrtc.ts).
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`doctor: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
