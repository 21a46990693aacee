'use strict';

// Every HTTP call the integration makes to Hookline lives here, so moving an
// operation to another endpoint (e.g. customers onto POST /v1/actions/…) is
// one edit in this file. Each function returns parsed JSON; errors are thrown
// by the afterResponse middleware (lib/errors.js) or, for requests that got
// no response at all, here.

const { normalizeBaseUrl } = require('./base-url');
const { handleErrors, isNetworkError, networkError } = require('./errors');

const baseUrlOf = (bundle) => normalizeBaseUrl(bundle.authData && bundle.authData.base_url);

const call = async (z, bundle, { method = 'GET', path, params, body, skipThrowForStatus }) => {
  const base = baseUrlOf(bundle);
  if (!base) {
    throw new z.errors.Error('The Hookline connection has no Base URL. Reconnect Hookline.', 'no_base_url');
  }
  const options = { method, url: `${base}${path}` };
  if (params) options.params = params;
  if (body !== undefined) options.body = body;
  if (skipThrowForStatus) options.skipThrowForStatus = true;
  let response;
  try {
    response = await z.request(options);
  } catch (err) {
    if (isNetworkError(err)) throw networkError(z, err, base);
    throw err;
  }
  return response;
};

const json = (z, response) => {
  if (response.data === undefined) {
    throw new z.errors.Error(
      `Hookline answered HTTP ${response.status} with a body that is not JSON. Check that the Base URL points at the Hookline API.`,
      'not_json',
      response.status,
    );
  }
  return response.data;
};

const enc = encodeURIComponent;

// GET /v1/me: the account, user and key behind the API key, and a label.
const me = async (z, bundle) => json(z, await call(z, bundle, { path: '/v1/me' }));

// GET /v1/event-types: the whole catalog (follows next_cursor should it page).
const listEventTypes = async (z, bundle) => {
  const all = [];
  let cursor = null;
  for (let page = 0; page < 50; page++) {
    const params = cursor ? { cursor } : undefined;
    const body = json(z, await call(z, bundle, { path: '/v1/event-types', params }));
    all.push(...(Array.isArray(body.data) ? body.data : []));
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return all;
};

// POST /v1/zapier/hooks → {"id": "whk_…", "event", "target_url"}.
const subscribeHook = async (z, bundle, event, hookUrl) =>
  json(z, await call(z, bundle, { method: 'POST', path: '/v1/zapier/hooks', body: { hookUrl, event } }));

// DELETE /v1/zapier/hooks/{id} → {"id", "deleted": true}. A 404 means the
// subscription is already gone (Hookline deleted it after a 410, or the key
// was revoked): the state the caller asked for, so it is not an error.
const unsubscribeHook = async (z, bundle, id) => {
  const response = await call(z, bundle, {
    method: 'DELETE',
    path: `/v1/zapier/hooks/${enc(id)}`,
    skipThrowForStatus: true,
  });
  if (response.status === 404) {
    return { id, deleted: true, already_deleted: true };
  }
  if (response.status >= 400) {
    // Any other failure: the same mapping as every other call explains it.
    handleErrors({ ...response, skipThrowForStatus: false }, z);
  }
  return json(z, response);
};

// GET /v1/zapier/samples/{event}?limit=3 → a bare array of envelopes.
const listSamples = async (z, bundle, event, limit = 3) => {
  const body = json(z, await call(z, bundle, { path: `/v1/zapier/samples/${enc(event)}`, params: { limit } }));
  if (!Array.isArray(body)) {
    throw new z.errors.Error('Hookline returned samples in an unexpected shape (expected a list).', 'bad_samples');
  }
  return body;
};

// Customer writes go through Hookline's actions API, which runs its loop
// guard: a Zap that writes back what Hookline just sent it (a two-way sync)
// gets the existing customer with "echo": true instead of a duplicate, and
// a connection that keeps doing so is paused with an incident shown in
// Hookline.
const action = async (z, bundle, name, input) =>
  json(z, await call(z, bundle, { method: 'POST', path: `/v1/actions/${name}`, body: input }));

// The customer exactly as triggers deliver it: the actions' echo flag is
// logged, not returned, so a created item and a delivered one have one shape.
const customerOf = (z, body) => {
  const { echo, ...customer } = body;
  if (echo) {
    z.console.log(`Hookline kept customer ${customer.id} as it was: this write echoed data it had just sent.`);
  }
  return customer;
};

// create_customer → 201 customer (200 for an echo: the existing customer).
const createCustomer = async (z, bundle, fields) => customerOf(z, await action(z, bundle, 'create_customer', fields));

// update_customer by id (only the fields sent; "" clears one) → customer.
const updateCustomer = async (z, bundle, id, fields) =>
  customerOf(z, await action(z, bundle, 'update_customer', { ...fields, id }));

// find_customer → {"data": [...]}: 0 or 1 customers (emails compare ignoring case).
const findCustomersByEmail = async (z, bundle, email) => {
  const body = await action(z, bundle, 'find_customer', { email });
  return Array.isArray(body.data) ? body.data : [];
};

module.exports = {
  baseUrlOf,
  me,
  listEventTypes,
  subscribeHook,
  unsubscribeHook,
  listSamples,
  createCustomer,
  updateCustomer,
  findCustomersByEmail,
};
