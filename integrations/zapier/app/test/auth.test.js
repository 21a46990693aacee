'use strict';

const zapier = require('zapier-platform-core');
const App = require('../index');
const { authData, createKey, env, http } = require('./support/gateway');
const { userMessage } = require('./support/errors');

const appTester = zapier.createAppTester(App);

describe('authentication (GET /v1/me) against the live server', () => {
  test('a good key passes the test and names the connection', async () => {
    const me = await appTester(App.authentication.test, { authData: authData() });
    expect(me.account.id).toBe(env().accountId);
    expect(me.account.name).toBe('Zap');
    expect(me.user.email).toBe('zap@example.com');
    expect(me.key.permissions).toEqual(expect.arrayContaining(['subscribe:webhook', 'read:customer']));
    expect(typeof me.label).toBe('string');

    const label = await appTester(App.authentication.connectionLabel, { authData: authData(), inputData: me });
    expect(label).toBe(me.label);
    expect(label).toMatch(/^Zap \(.+\)$/);
  });

  test('the Base URL may carry a trailing slash or /v1', async () => {
    for (const base of [`${env().url}/`, `${env().url}/v1`, `${env().url}/v1/`]) {
      const me = await appTester(App.authentication.test, { authData: authData({ base_url: base }) });
      expect(me.account.id).toBe(env().accountId);
    }
  });

  test('a bad key fails with a short message', async () => {
    const err = await appTester(App.authentication.test, {
      authData: authData({ api_key: 'hk_this_key_does_not_exist' }),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ExpiredAuthError');
    expect(err.message).toMatch(/did not accept the API key/);
    expect(userMessage(err).length).toBeLessThanOrEqual(250);
  });

  test('a revoked key fails', async () => {
    const key = await createKey('to revoke', ['read:customer']);
    await expect(appTester(App.authentication.test, { authData: authData({ api_key: key }) })).resolves.toBeTruthy();
    const keys = await http('GET', '/v1/keys');
    const id = keys.body.data.find((k) => k.name === 'to revoke').id;
    const revoked = await http('DELETE', `/v1/keys/${id}`);
    expect(revoked.status).toBe(200);
    await expect(appTester(App.authentication.test, { authData: authData({ api_key: key }) })).rejects.toThrow(
      /did not accept the API key/,
    );
  });

  test('an unreachable Base URL says so', async () => {
    const { freePort } = require('./support/hookline');
    const port = await freePort();
    const err = await appTester(App.authentication.test, {
      authData: authData({ base_url: `http://127.0.0.1:${port}` }),
    }).catch((e) => e);
    expect(err.message).toMatch(/Could not reach Hookline at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  test('a Base URL that is not Hookline fails', async () => {
    const http = require('http');
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>hello</html>');
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const err = await appTester(App.authentication.test, {
        authData: authData({ base_url: `http://127.0.0.1:${srv.address().port}` }),
      }).catch((e) => e);
      expect(err.message).toMatch(/not JSON/);
    } finally {
      srv.close();
    }
  });
});
