#!/usr/bin/env node
'use strict';
// The launcher of the sessionkit npm package: it runs the prebuilt binary of
// this machine's platform, which npm installed as one of the package's
// optionalDependencies (@sessionkit/<platform>-<arch>, the way esbuild and
// biome ship theirs), with the same arguments, standard streams and exit
// status. SESSIONKIT_BINARY names another binary to run instead.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

function binaryPath() {
  if (process.env.SESSIONKIT_BINARY) return process.env.SESSIONKIT_BINARY;
  const pkg = `@sessionkit/${process.platform}-${process.arch}`;
  const exe = process.platform === 'win32' ? 'sessionkit.exe' : 'sessionkit';
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', exe);
  } catch {
    console.error(`sessionkit: no prebuilt binary for ${process.platform}-${process.arch}: ${pkg} is not installed.\n` +
      'Reinstall without --no-optional (npm install sessionkit), or build it with Go: go install github.com/sessionkit/sessionkit/cmd/sessionkit@latest');
    process.exit(2);
  }
}

const r = spawnSync(binaryPath(), process.argv.slice(2), { stdio: 'inherit' });
if (r.error) {
  console.error(`sessionkit: cannot run ${binaryPath()}: ${r.error.message}`);
  process.exit(2);
}
if (r.signal) process.kill(process.pid, r.signal);
process.exit(r.status ?? 2);
