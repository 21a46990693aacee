'use strict';

// Jest globalSetup: one live Hookline (and its Redis) for the whole run. Its
// URL and owner key reach the tests through HOOKLINE_TEST_* variables.
const hookline = require('./hookline');

module.exports = async () => {
  const started = Date.now();
  const state = await hookline.start();
  globalThis.__HOOKLINE_TEST__ = state;
  Object.assign(process.env, {
    HOOKLINE_TEST_URL: state.url,
    HOOKLINE_TEST_API_KEY: state.apiKey,
    HOOKLINE_TEST_ACCOUNT_ID: state.accountId,
    HOOKLINE_TEST_BIN: state.bin,
    HOOKLINE_TEST_REDIS_URL: state.redisUrl,
    HOOKLINE_TEST_LOG: state.log,
  });
  process.stderr.write(`\nhookline: live server at ${state.url} (ready in ${Date.now() - started} ms; log ${state.log})\n`);
};
