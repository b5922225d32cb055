/**
 * TLS: browsers give camera and microphone only to secure pages (HTTPS, or localhost), and
 * refuse certificates they cannot verify. Verified here as a browser would: the chain up to
 * a trusted root, the validity dates and the host name.
 */
import net from 'node:net';
import tls from 'node:tls';
import { fail, pass, skip, warn, type Outcome } from '../report.js';

const RENEW_WITHIN_DAYS = 14;

export interface TlsOutcome {
  outcome: Outcome;
  /** The certificate would be refused by a browser (the checks over TLS need --insecure). */
  invalid: boolean;
}

function refusal(code: string, host: string, cert: tls.PeerCertificate | undefined): Outcome {
  const names = cert?.subjectaltname?.replace(/DNS:|IP Address:/g, '') ?? cert?.subject?.CN ?? 'no names';
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return fail(`the certificate is self-signed`, `use a certificate from a public CA (e.g. Let's Encrypt) for ${host} in TLS_CERT and TLS_KEY`);
    case 'CERT_HAS_EXPIRED':
      return fail(`the certificate expired on ${cert?.valid_to ?? '?'}`, `renew the certificate in TLS_CERT and restart Noom`);
    case 'CERT_NOT_YET_VALID':
      return fail(`the certificate is valid only from ${cert?.valid_from ?? '?'}`, `check the server's clock, or issue the certificate again`);
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return fail(`the certificate is for ${names}, not ${host}`, `use a certificate whose names include ${host}`);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return fail(`the certificate chain cannot be verified (${code})`, `put the full chain (e.g. fullchain.pem) in TLS_CERT, not only the server certificate`);
    default:
      return fail(`the certificate is refused: ${code}`, `use a valid certificate for ${host} from a public CA in TLS_CERT and TLS_KEY`);
  }
}

export async function checkTls(url: URL, loopback: boolean, timeoutMs: number): Promise<TlsOutcome> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol === 'http:') {
    if (loopback) return { outcome: skip('plain HTTP on a loopback address: browsers allow camera and microphone there'), invalid: false };
    return {
      outcome: warn(
        `plain HTTP to ${host}: browsers give camera and microphone only to HTTPS pages away from localhost`,
        `set TLS_CERT and TLS_KEY (or put a TLS proxy in front of Noom) and use https://`,
      ),
      invalid: false,
    };
  }
  const port = Number(url.port || 443);
  return new Promise<TlsOutcome>((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) });
    const finish = (result: TlsOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ outcome: fail(`no TLS handshake with ${host}:${port} in ${timeoutMs} ms`, `check that TCP port ${port} is open and serves HTTPS`), invalid: true }),
      timeoutMs,
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ outcome: fail(`TLS with ${host}:${port} failed: ${error.code ?? error.message}`, `check that TCP port ${port} serves HTTPS (TLS_CERT and TLS_KEY)`), invalid: true }),
    );
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      if (!socket.authorized) {
        const code = String(socket.authorizationError ?? 'unknown');
        return finish({ outcome: refusal(code, host, cert), invalid: true });
      }
      const validTo = new Date(cert.valid_to);
      const days = Math.floor((validTo.getTime() - Date.now()) / 86_400_000);
      const data = { validTo: validTo.toISOString(), daysLeft: days, protocol: socket.getProtocol() ?? '' };
      if (days < RENEW_WITHIN_DAYS) {
        return finish({ outcome: warn(`valid, but expires in ${days} days (${cert.valid_to})`, `renew the certificate in TLS_CERT soon`, data), invalid: false });
      }
      finish({ outcome: pass(`valid for ${host} until ${validTo.toISOString().slice(0, 10)} (${socket.getProtocol()})`, data), invalid: false });
    });
  });
}
