import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const clientRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
// The Node server that `npm run dev` starts next to Vite; see scripts/dev.sh.
const serverUrl = `http://127.0.0.1:${process.env.NOOM_SERVER_PORT ?? '3000'}`;

export default defineConfig({
  root: clientRoot,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    host: '127.0.0.1',
    port: Number(process.env.NOOM_VITE_PORT ?? '5173'),
    strictPort: true,
    // The client imports the shared protocol module from protocol/.
    fs: { allow: [repoRoot] },
    proxy: {
      '/socket.io': { target: serverUrl, ws: true },
      '/api': serverUrl,
      '/healthz': serverUrl,
    },
  },
});
