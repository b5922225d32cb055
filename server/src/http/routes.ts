/**
 * HTTP side: health and readiness probes, Prometheus metrics, the public room list, and
 * the built browser client (with `/r/<room>` and other client routes falling back to it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import type { WorkerPool } from '../media/WorkerPool.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { Metrics } from './metrics.js';
import { samePassword } from '../limits/samePassword.js';

const bearer = (header: string | undefined) => (header?.startsWith('Bearer ') ? header.slice(7) : undefined);

export interface HttpDeps {
  pool: WorkerPool;
  rooms: RoomRegistry;
  metrics: Metrics;
  staticDir: string | undefined;
  /** When set, /metrics answers only `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** False while shutting down, so load balancers stop sending new users. */
  isReady: () => boolean;
}

export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    const workers = deps.pool.slots.map((s) => ({ slot: s.index, pid: s.worker.pid, load: s.load, routers: s.routers.size }));
    res.status(workers.length > 0 ? 200 : 503).json({ status: workers.length > 0 ? 'ok' : 'degraded', workerCount: workers.length, workers });
  });

  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady() && deps.pool.slots.length > 0;
    res.status(ready ? 200 : 503).json({ ready });
  });

  app.get('/metrics', async (req, res, next) => {
    if (deps.metricsToken !== undefined && !samePassword(bearer(req.headers.authorization), deps.metricsToken)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').type('text').send('Unauthorized\n');
      return;
    }
    try {
      const body = await deps.metrics.render();
      res.type(deps.metrics.registry.contentType).send(body);
    } catch (error) {
      next(error);
    }
  });

  app.get('/api/rooms', (_req, res) => {
    res.json({ rooms: deps.rooms.publicList() });
  });

  const dir = deps.staticDir;
  if (dir && existsSync(path.join(dir, 'index.html'))) {
    app.use(express.static(dir, { index: 'index.html', maxAge: '1h' }));
    // Client-side routes (/r/<room>) load the app shell.
    app.get(/^\/(?!socket\.io\/|api\/).*/, (_req, res) => res.sendFile(path.resolve(dir, 'index.html')));
  } else {
    app.get('/', (_req, res) => {
      res.type('text').send('Noom server is running. The browser client is not built: run `npm run build`.\n');
    });
  }
  return app;
}
