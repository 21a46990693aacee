'use strict';

// A local stand-in for hooks.zapier.com: records every request and answers
// 200 {"status":"success"} (what Zapier answers), or the status set for a
// path with respond(path, status) — e.g. 410 when "the Zap is off".
const crypto = require('crypto');
const http = require('http');

const { poll } = require('./hookline');

class Standin {
  constructor() {
    this.requests = [];
    this.statuses = new Map();
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try {
          body = rawBody ? JSON.parse(rawBody) : null;
        } catch (_e) {
          body = null;
        }
        const path = req.url.split('?')[0];
        const status = this.statuses.get(path) || 200;
        this.requests.push({ method: req.method, path, headers: req.headers, rawBody, body, status, at: Date.now() });
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(status < 300 ? { status: 'success' } : { status: 'gone' }));
      });
    });
  }

  start() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  close() {
    if (this.server.closeAllConnections) this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // A fresh hook URL shaped like Zapier's.
  hookUrl() {
    return `http://127.0.0.1:${this.port}/hooks/catch/123456/${crypto.randomBytes(4).toString('hex')}/`;
  }

  respond(hookUrl, status) {
    this.statuses.set(new URL(hookUrl).pathname, status);
  }

  received(hookUrl) {
    const path = new URL(hookUrl).pathname;
    return this.requests.filter((r) => r.path === path);
  }

  // Waits for a request to hookUrl that matches (default: any POST).
  waitFor(hookUrl, match = (r) => r.method === 'POST', timeoutMs = 15000) {
    return poll(`a request to ${hookUrl}`, () => this.received(hookUrl).find(match), { timeoutMs, intervalMs: 25 });
  }
}

module.exports = { Standin };
