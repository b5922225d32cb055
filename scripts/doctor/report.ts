/**
 * What `npm run doctor` finds: one result per check, in a fixed order, and the whole run.
 * The zod schemas describe the `--json` output, so that scripts (and the tests) can parse it.
 */
import { z } from 'zod';

export const CHECK_IDS = [
  'http',
  'tls',
  'websocket',
  'announced-ip',
  'udp-port',
  'tcp-port',
  'turn',
  'turn-relay',
  'media',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export const CHECK_TITLES: Record<CheckId, string> = {
  http: 'HTTP',
  tls: 'TLS',
  websocket: 'WebSocket',
  'announced-ip': 'Announced IP',
  'udp-port': 'RTC port (UDP)',
  'tcp-port': 'RTC port (TCP)',
  turn: 'TURN allocation',
  'turn-relay': 'TURN relay',
  media: 'Media round trip',
};

/**
 * `pass`: works. `warn`: works here but is likely to fail for some users (not a failure).
 * `fail`: broken; `fix` says what to change. `skip`: does not apply, or could not be tried
 * because an earlier check failed (not a failure by itself).
 */
export const CheckStatus = z.enum(['pass', 'warn', 'fail', 'skip']);
export type CheckStatus = z.infer<typeof CheckStatus>;

const Fact = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
export type Fact = z.infer<typeof Fact>;

export const CheckResult = z.object({
  id: z.enum(CHECK_IDS),
  title: z.string(),
  status: CheckStatus,
  /** What was found, in one line. */
  detail: z.string(),
  /** How to fix it, in one line: set for `fail` and `warn`. */
  fix: z.string().optional(),
  /** Measured facts (addresses, ports, packet counts) for scripts. */
  data: z.record(z.string(), Fact).optional(),
  durationMs: z.number().nonnegative(),
});
export type CheckResult = z.infer<typeof CheckResult>;

export const DoctorReport = z.object({
  url: z.string(),
  startedAt: z.string(),
  /** No check failed: the exit code is 0 exactly then. */
  ok: z.boolean(),
  counts: z.object({ pass: z.number(), warn: z.number(), fail: z.number(), skip: z.number() }),
  checks: z.array(CheckResult),
});
export type DoctorReport = z.infer<typeof DoctorReport>;

/** A check's outcome before it is timed and titled. */
export type Outcome = Pick<CheckResult, 'status' | 'detail' | 'fix' | 'data'>;

export const pass = (detail: string, data?: CheckResult['data']): Outcome => ({ status: 'pass', detail, ...(data ? { data } : {}) });
export const skip = (detail: string, data?: CheckResult['data']): Outcome => ({ status: 'skip', detail, ...(data ? { data } : {}) });
export const warn = (detail: string, fix: string, data?: CheckResult['data']): Outcome => ({
  status: 'warn',
  detail,
  fix,
  ...(data ? { data } : {}),
});
export const fail = (detail: string, fix: string, data?: CheckResult['data']): Outcome => ({
  status: 'fail',
  detail,
  fix,
  ...(data ? { data } : {}),
});

export function summarize(url: string, startedAt: Date, checks: CheckResult[]): DoctorReport {
  const counts = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) counts[c.status]++;
  const order = (c: CheckResult) => CHECK_IDS.indexOf(c.id);
  return {
    url,
    startedAt: startedAt.toISOString(),
    ok: counts.fail === 0,
    counts,
    checks: [...checks].sort((a, b) => order(a) - order(b)),
  };
}

/** 0 when nothing failed (warnings and skipped checks included), 1 otherwise. */
export function exitCode(report: DoctorReport): number {
  return report.ok ? 0 : 1;
}
