import type { VerdictFigures } from '../../scripts/loadtest/verdict.js';

/** The figures of a healthy load-test run, for verdict tests to spoil one at a time. */
export const CLEAN_RUN: VerdictFigures = {
  lossPct: 0.1,
  packets: 10_000,
  joinFailures: 0,
  peerFailures: 0,
  firstRtpP95Ms: 400,
  firstRtpExpected: 6,
  longestMediaGapSec: 0,
  peersWithMediaGaps: 0,
  missingConsumers: 0,
  expectedConsumers: 24,
  generatorBusiestChildPct: 40,
  generatorLoopDelayMaxMs: 30,
};
