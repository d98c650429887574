import { defineConfig } from 'vite';

// The built UI goes where package server/web embeds it; the build is deterministic
// (content-hashed names, no timestamps) so CI can diff it against the committed copy.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../server/web/dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
});
