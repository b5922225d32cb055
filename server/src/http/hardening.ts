/**
 * What every HTTP answer and WebSocket upgrade goes through: security headers (helmet, with
 * a Content-Security-Policy the built client runs under), the origin rule shared by HTTP and
 * Socket.IO, and an error handler that answers with a status line only (no stack, no path).
 */
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import helmet from 'helmet';

export const securityHeaders = (): RequestHandler =>
  helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        // The client sets sizes and positions through style attributes.
        'style-src': ["'self'", "'unsafe-inline'"],
        // The favicon is a data: URL; video elements play MediaStreams.
        'img-src': ["'self'", 'data:', 'blob:'],
        'media-src': ["'self'", 'blob:', 'mediastream:'],
        // Socket.IO to the page's own origin (ws: or wss:).
        'connect-src': ["'self'"],
        'font-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'self'"],
        'form-action': ["'self'"],
        // A page that asks for camera and microphone is never framed.
        'frame-ancestors': ["'none'"],
      },
    },
    // Plain-http deployments on a LAN address exist: upgrading their requests would break them.
    strictTransportSecurity: false,
  });

/**
 * Which origins may use this server from a browser. A request without an Origin header is
 * not from a page (the load tester, the doctor, curl): it passes; so does a page of this
 * server's own origin and any listed in ALLOWED_ORIGINS (`*`: every origin).
 */
export function originPolicy(allowed: string[]): (req: IncomingMessage) => boolean {
  const any = allowed.includes('*');
  const list = new Set(allowed.map((o) => o.toLowerCase()));
  return (req) => {
    const origin = req.headers.origin;
    if (origin === undefined || any) return true;
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return false;
    }
    return host === req.headers.host?.toLowerCase() || list.has(origin.toLowerCase());
  };
}

export const refuseForeignOrigins =
  (allowed: (req: IncomingMessage) => boolean): RequestHandler =>
  (req, res, next) => {
    if (allowed(req)) next();
    else res.status(403).type('text').send('Forbidden\n');
  };

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 412: 'Precondition Failed', 416: 'Range Not Satisfiable' };

/** Errors from express.static/send (412, 416, 404 …) and anything else: a status line, nothing more. */
export const plainErrors =
  (log: (error: unknown) => void): ErrorRequestHandler =>
  (error: unknown, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
    const code = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
    if (code >= 500) log(error);
    res.status(code).type('text').send(`${STATUS_TEXT[code] ?? (code >= 500 ? 'Internal Server Error' : 'Error')}\n`);
  };
