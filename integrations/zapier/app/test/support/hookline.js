'use strict';

// A live Hookline for the tests, built from this repository: a private
// redis-server (no persistence) on a free port, an account made with
// `hookline admin create-account`, and `hookline serve` in development mode
// (http and loopback targets allowed) with a 1 s retry schedule.
//
// HOOKLINE_BIN=/path/to/hookline uses a binary built beforehand (the
// Makefile passes bin/hookline); otherwise it is built with `go build`.

const { execFile } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { promisify } = require('util');

const processes = require('./processes');

const execFileP = promisify(execFile);
const REPO = path.resolve(__dirname, '../../../../..');

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// poll calls fn until it returns a truthy value or the deadline passes.
const poll = async (what, fn, { timeoutMs = 20000, intervalMs = 50, alive } = {}) => {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    if (alive) alive();
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
};

const redisPing = (port) =>
  new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(1000);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) {
        sock.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
    sock.on('timeout', () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(false));
  });

const findGo = () => {
  for (const dir of (process.env.PATH || '').split(path.delimiter).concat('/usr/local/go/bin')) {
    const p = path.join(dir, 'go');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch (_e) {
      // next
    }
  }
  throw new Error('go is not on PATH (nor at /usr/local/go/bin/go): set HOOKLINE_BIN to a built hookline binary');
};

const buildBinary = async (tmp) => {
  if (process.env.HOOKLINE_BIN) {
    const bin = path.resolve(process.env.HOOKLINE_BIN);
    fs.accessSync(bin, fs.constants.X_OK);
    return bin;
  }
  const bin = path.join(tmp, 'hookline');
  await execFileP(findGo(), ['build', '-o', bin, './cmd/hookline'], {
    cwd: REPO,
    env: process.env,
    maxBuffer: 16 << 20,
  });
  return bin;
};

const alive = (handle) => () => {
  if (handle.exitCode !== undefined) {
    throw Object.assign(new Error(`${handle.name} exited (${handle.exitCode}):\n${processes.tail(handle.logFile)}`), {
      fatal: true,
    });
  }
};

// start() → {url, apiKey, accountId, userId, bin, redisUrl, tmp, log, handles}
const start = async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-zapier-'));
  const handles = [];
  try {
    const [bin, redisPort, apiPort] = await Promise.all([buildBinary(tmp), freePort(), freePort()]);

    const redisLog = path.join(tmp, 'redis.log');
    const redis = processes.start(
      'redis-server',
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', tmp, '--daemonize', 'no', '--maxmemory-policy', 'noeviction', '--logfile', ''],
      { env: process.env, logFile: redisLog },
    );
    handles.push(redis);
    const check = alive(redis);
    await poll('redis-server to answer PING', async () => {
      check();
      return redisPing(redisPort);
    });

    const redisUrl = `redis://127.0.0.1:${redisPort}/0`;
    const url = `http://127.0.0.1:${apiPort}`;
    const env = {
      ...process.env,
      HOOKLINE_REDIS_URL: redisUrl,
      HOOKLINE_MODE: 'development',
      HOOKLINE_ADDR: `127.0.0.1:${apiPort}`,
      HOOKLINE_BASE_URL: url,
      HOOKLINE_RETRY_SCHEDULE: '1s',
      // The stand-in for hooks.zapier.com listens here: the reverse
      // unsubscribe DELETE may only go to Zapier's hook host.
      HOOKLINE_ZAPIER_HOOK_HOSTS: '127.0.0.1',
      // Secrets sealed at rest, as in production.
      HOOKLINE_SECRET_KEYS: `zap:${crypto.randomBytes(32).toString('base64')}`,
      HOOKLINE_LOG_LEVEL: process.env.HOOKLINE_LOG_LEVEL || 'info',
    };

    const { stdout } = await execFileP(
      bin,
      ['admin', 'create-account', '--name', 'Zap', '--email', 'zap@example.com'],
      { env: { ...env, HOOKLINE_ADMIN_PASSWORD: 'password123' } },
    );
    const account = JSON.parse(stdout);

    const log = path.join(tmp, 'hookline.log');
    const server = processes.start('hookline serve', bin, ['serve'], { env, logFile: log });
    handles.push(server);
    const serverAlive = alive(server);
    await poll('hookline to answer /readyz', async () => {
      serverAlive();
      const res = await fetch(`${url}/readyz`);
      return res.ok;
    });

    return {
      url,
      apiKey: account.api_key,
      accountId: account.account_id,
      userId: account.user_id,
      bin,
      redisUrl,
      env,
      tmp,
      log,
      handles,
    };
  } catch (err) {
    await Promise.all(handles.map((h) => processes.stop(h)));
    throw err;
  }
};

const stop = async (state) => {
  if (!state) return;
  for (const h of [...state.handles].reverse()) await processes.stop(h);
  if (!process.env.HOOKLINE_TEST_KEEP) fs.rmSync(state.tmp, { recursive: true, force: true });
};

module.exports = { start, stop, poll, freePort };
