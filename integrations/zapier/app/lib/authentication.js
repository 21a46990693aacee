'use strict';

const api = require('./api');
const { normalizeBaseUrl } = require('./base-url');

// Custom auth: the user's own Hookline deployment (Base URL) and an API key.
// The test calls GET /v1/me; the connection label is Hookline's own label,
// "Account (key name)".
const test = async (z, bundle) => {
  const base = normalizeBaseUrl(bundle.authData.base_url);
  if (!/^https?:\/\/[^/]+/i.test(base)) {
    throw new z.errors.Error('The Base URL must look like https://hookline.example.com.', 'bad_base_url');
  }
  const me = await api.me(z, bundle);
  if (!me || typeof me !== 'object' || !me.account || !me.key) {
    throw new z.errors.Error(
      'The Base URL answered, but not like Hookline (no account in GET /v1/me). Check the Base URL.',
      'not_hookline',
    );
  }
  return me;
};

// bundle.inputData is what test returned.
const connectionLabel = (z, bundle) => {
  const me = bundle.inputData || {};
  if (me.label) return me.label;
  const account = me.account && me.account.name;
  const key = me.key && me.key.name;
  return [account, key && `(${key})`].filter(Boolean).join(' ');
};

const authentication = {
  type: 'custom',
  fields: [
    {
      key: 'base_url',
      label: 'Base URL',
      type: 'string',
      required: true,
      helpText:
        'The public URL of your Hookline deployment, e.g. `https://hookline.example.com` (its `HOOKLINE_BASE_URL`). It must be reachable from the internet over https.',
    },
    {
      key: 'api_key',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText:
        'A Hookline API key (`hk_…`), created in the dashboard or with `POST /v1/keys`. Give it `subscribe:webhook` and `read:customer` for triggers, and `create:customer` / `update:customer` for the actions.',
    },
  ],
  test,
  connectionLabel,
};

// beforeRequest middleware: every request carries the key as a Bearer token.
const addAuthHeader = (request, z, bundle) => {
  const key = bundle.authData && bundle.authData.api_key;
  request.headers = request.headers || {};
  if (key) request.headers.Authorization = `Bearer ${String(key).trim()}`;
  if (!request.headers.Accept) request.headers.Accept = 'application/json';
  return request;
};

module.exports = { authentication, addAuthHeader };
