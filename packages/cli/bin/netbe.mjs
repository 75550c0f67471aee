#!/usr/bin/env node
// The `netbe` command. After `npm run build` it runs the compiled code in dist/; in a fresh
// checkout (`npm ci` only) it runs the TypeScript sources through tsx with the workspace's
// "@netbe/source" export condition, in a child node process that gets the signals we get.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/main.js', import.meta.url);
if (existsSync(fileURLToPath(dist)) && !process.env.NETBE_FROM_SOURCE) {
  const { main } = await import(dist.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const src = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['-C', '@netbe/source', '--import', tsx, src, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal; a signal sent to this process alone is passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1) : 1);
  });
}
