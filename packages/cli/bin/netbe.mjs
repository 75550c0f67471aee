#!/usr/bin/env node
// The `netbe` command. In the repository (src/ present) it runs the TypeScript sources through
// tsx with the workspace's "@netbe/source" export condition, in a child node process that gets
// the signals we get; an installed package (no src/) runs the compiled dist/.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/main.ts', import.meta.url));
if (!existsSync(src)) {
  const { main } = await import(new URL('../dist/main.js', import.meta.url).href);
  // Exit explicitly: a backend or watcher left open must not keep a stopped server alive.
  process.exit(await main(process.argv.slice(2)));
} else {
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['-C', '@netbe/source', '--import', tsx, src, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal; a signal sent to this process alone is passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1) : 1);
  });
}
