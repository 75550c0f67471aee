import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  shims: true, // import.meta.url in the CommonJS build (the addon is found relative to it)
  external: ['@netbe/sys'],
});
