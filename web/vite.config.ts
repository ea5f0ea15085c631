import { defineConfig } from "vite";

// A static bundle: index.html + hashed assets. Settings (API URL, user pool) are NOT compiled in:
// the app fetches /config.json at start, written at deploy time (stacks/web.py) or by the local
// stack (local/web.py).
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // Amplify Auth is most of the bundle; one chunk keeps the CSP `script-src 'self'` simple.
    chunkSizeWarningLimit: 600,
  },
});
