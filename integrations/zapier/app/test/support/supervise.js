'use strict';

// node supervise.js CMD ARGS…
//
// Runs CMD and makes sure it does not outlive the test run: CMD is stopped
// (SIGTERM, then SIGKILL after 5 s) when this process gets SIGTERM/SIGINT or
// when its stdin closes, which happens when the parent (Jest) exits for any
// reason, even SIGKILL. The parent keeps the write end of our stdin open.
const { spawn } = require('child_process');

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  process.stderr.write('usage: supervise.js CMD [ARGS…]\n');
  process.exit(2);
}

const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  try {
    child.kill('SIGTERM');
  } catch (_e) {
    // already gone
  }
  setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch (_e) {
      // already gone
    }
  }, 5000).unref();
};

child.on('error', (err) => {
  process.stderr.write(`supervise: cannot start ${cmd}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code === null ? (signal === 'SIGTERM' ? 0 : 1) : code));

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.on('close', stop);
process.stdin.resume();
