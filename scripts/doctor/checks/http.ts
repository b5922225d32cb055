/**
 * HTTP: does the URL answer, and is it a Noom node with media workers that takes joins?
 * (`/healthz`, `/readyz`). The certificate is judged by the TLS check, not here.
 */
import http from 'node:http';
import https from 'node:https';
import { HealthAnswer, ReadyAnswer } from '../answers.js';
import { fail, pass, warn, type Outcome } from '../report.js';

const MAX_BODY = 64 * 1024;

interface HttpAnswer {
  status: number;
  body: unknown;
  ms: number;
}

function get(url: URL, timeoutMs: number): Promise<HttpAnswer> {
  const started = performance.now();
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { timeout: timeoutMs, rejectUnauthorized: false, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
      });
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, ms: Math.round(performance.now() - started) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** Why the request failed, and the fix, in the words a person setting up a server needs. */
function networkFailure(url: URL, error: NodeJS.ErrnoException, timeoutMs: number): Outcome {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const where = `${url.hostname}:${port}`;
  switch (error.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail(`cannot resolve ${url.hostname}`, `fix the host name in the URL or its DNS record`);
    case 'ECONNREFUSED':
      return fail(
        `nothing listens on ${where} (connection refused)`,
        `start Noom (npm start), check its HOST and PORT, and let TCP port ${port} through the firewall`,
      );
    case 'ETIMEDOUT':
      return fail(`no answer from ${where} in ${timeoutMs} ms`, `let TCP port ${port} through the firewall (and forward it if the server is behind NAT)`);
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return fail(`no TLS on ${where}: it speaks plain HTTP`, `use http:// in the URL, or set TLS_CERT and TLS_KEY to serve HTTPS`);
    case 'ECONNRESET':
      return fail(
        `${where} closed the connection without answering`,
        url.protocol === 'http:' ? `use https:// if the server has TLS_CERT and TLS_KEY set` : `check what listens on TCP port ${port}`,
      );
    default:
      return fail(`${where}: ${error.code ?? error.message}`, `check that Noom runs and that TCP port ${port} is reachable`);
  }
}

export interface HttpOutcome {
  outcome: Outcome;
  /** Something answered HTTP at the URL: the checks that follow can try it. */
  reachable: boolean;
}

export async function checkHttp(base: URL, timeoutMs: number): Promise<HttpOutcome> {
  let health: HttpAnswer;
  try {
    health = await get(new URL('healthz', base), timeoutMs);
  } catch (error) {
    return { outcome: networkFailure(base, error as NodeJS.ErrnoException, timeoutMs), reachable: false };
  }
  const parsed = HealthAnswer.safeParse(health.body);
  if (!parsed.success) {
    return {
      outcome: warn(
        `${base.host} answered /healthz with HTTP ${health.status}, not Noom's health report`,
        `point --url at Noom itself, or let the proxy in front pass /healthz through`,
        { status: health.status },
      ),
      reachable: true,
    };
  }
  const workers = parsed.data.workerCount;
  if (health.status !== 200 || workers === 0) {
    return {
      outcome: fail(
        `/healthz answered ${health.status}: no media worker runs`,
        `see the server log: the mediasoup worker could not start (npm run setup provisions it)`,
        { status: health.status, workers },
      ),
      reachable: true,
    };
  }
  const data = { status: health.status, workers, ms: health.ms };
  const ready = await get(new URL('readyz', base), timeoutMs).catch(() => undefined);
  const readyBody = ReadyAnswer.safeParse(ready?.body);
  if (ready && readyBody.success && !readyBody.data.ready) {
    return {
      outcome: warn(
        `answered in ${health.ms} ms, but /readyz is ${ready.status}: the node takes no joins now`,
        `wait for a draining node to stop, or (cluster) make Redis reachable from it`,
        data,
      ),
      reachable: true,
    };
  }
  return { outcome: pass(`/healthz answered in ${health.ms} ms: ${workers} media worker${workers === 1 ? '' : 's'}`, data), reachable: true };
}
