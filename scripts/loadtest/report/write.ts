/** Writes a run's report as `loadtest-<time>.json` and `.html` into a directory. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderHtml } from './html.js';
import type { LoadTestReport } from './types.js';

export interface ReportFiles {
  json: string;
  html: string;
}

export async function writeReport(report: LoadTestReport, outDir: string): Promise<ReportFiles> {
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const files = { json: join(dir, `loadtest-${stamp}.json`), html: join(dir, `loadtest-${stamp}.html`) };
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files.html, renderHtml(report));
  return files;
}
