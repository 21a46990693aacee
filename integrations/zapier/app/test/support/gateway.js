'use strict';

// Direct calls to the live Hookline for test setup and inspection (what a
// user would do in the dashboard); the integration itself goes through
// lib/api.js.
const env = () => ({
  url: process.env.HOOKLINE_TEST_URL,
  apiKey: process.env.HOOKLINE_TEST_API_KEY,
  accountId: process.env.HOOKLINE_TEST_ACCOUNT_ID,
});

const http = async (method, path, { body, key } = {}) => {
  const { url, apiKey } = env();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${key || apiKey}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_e) {
    json = null;
  }
  return { status: res.status, headers: res.headers, body: json, text };
};

// A key of the test account with only these permissions (POST /v1/keys).
const createKey = async (name, permissions) => {
  const res = await http('POST', '/v1/keys', { body: { name, permissions } });
  if (res.status !== 201 || !res.body.api_key) {
    throw new Error(`POST /v1/keys: ${res.status} ${res.text}`);
  }
  return res.body.api_key;
};

// The authData of a Zapier connection to the live server.
const authData = (overrides = {}) => ({ base_url: env().url, api_key: env().apiKey, ...overrides });

let counter = 0;
const uniqueEmail = (tag = 'zap') => `${tag}-${Date.now().toString(36)}-${(counter++).toString(36)}@example.com`;

module.exports = { env, http, createKey, authData, uniqueEmail };
