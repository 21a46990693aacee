'use strict';

// Supervised child processes for the live test server: every child runs
// under supervise.js, so it dies with the test run even when Jest is killed,
// and stop() ends it by its own pid.
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const SUPERVISOR = path.join(__dirname, 'supervise.js');

const running = new Set();

// start(name, cmd, args, {env, logFile}) → {name, proc, logFile, exited}
const start = (name, cmd, args, { env, logFile }) => {
  const out = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, [SUPERVISOR, cmd, ...args], {
    env,
    stdio: ['pipe', out, out],
    detached: false,
  });
  fs.closeSync(out);
  const handle = { name, proc, logFile, exitCode: undefined };
  handle.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      handle.exitCode = code === null ? signal : code;
      running.delete(handle);
      resolve(handle.exitCode);
    });
  });
  running.add(handle);
  return handle;
};

const stop = async (handle, timeoutMs = 8000) => {
  if (!handle || handle.exitCode !== undefined) return;
  try {
    process.kill(handle.proc.pid, 'SIGTERM');
  } catch (_e) {
    return;
  }
  let timeout;
  const timer = new Promise((resolve) => {
    timeout = setTimeout(resolve, timeoutMs, 'timeout');
  });
  const outcome = await Promise.race([handle.exited, timer]);
  clearTimeout(timeout);
  if (outcome === 'timeout') {
    try {
      process.kill(handle.proc.pid, 'SIGKILL');
    } catch (_e) {
      // gone
    }
    await handle.exited;
  }
};

const stopAll = () => Promise.all([...running].map((h) => stop(h)));

// Last resort when the process exits without teardown: signal each child by
// its pid; closing our end of their stdin makes the supervisors stop theirs.
process.on('exit', () => {
  for (const h of running) {
    try {
      process.kill(h.proc.pid, 'SIGTERM');
    } catch (_e) {
      // gone
    }
  }
});

const tail = (file, lines = 40) => {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (_e) {
    return '';
  }
};

module.exports = { start, stop, stopAll, tail };
