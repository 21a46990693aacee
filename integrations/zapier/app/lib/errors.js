'use strict';

// Hookline's API errors, turned into short messages a Zapier user can act
// on. Zapier shows at most 250 characters of an error, so every message is
// cut to fit. Errors are never swallowed: every status >= 400 throws.
//
// Hookline answers errors as
//   {"error": {"code", "message", "fields"?: [{field, message}], "permission"?}}
// with 400/401/403/404/409/413/415/422/429/508/5xx.

const MAX_MESSAGE = 250;

const short = (msg) => {
  const s = String(msg).replace(/\s+/g, ' ').trim();
  return s.length <= MAX_MESSAGE ? s : `${s.slice(0, MAX_MESSAGE - 1)}…`;
};

// The {"error": {…}} object of a response, or null when the body is not one.
const apiError = (response) => {
  let body = response.data;
  if (body === undefined) {
    try {
      body = JSON.parse(response.content);
    } catch (_e) {
      body = undefined;
    }
  }
  if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
    return body.error;
  }
  return null;
};

const sentence = (s) => String(s || '').trim().replace(/[.\s]+$/, '');

const fieldList = (fields) =>
  fields
    .filter((f) => f && (f.field || f.message))
    .map((f) => (f.field ? `${f.field}: ${sentence(f.message)}` : sentence(f.message)))
    .join('; ');

const retryAfterSeconds = (response) => {
  const v = response.headers && response.headers.get && response.headers.get('retry-after');
  if (!v) return null;
  const n = parseInt(v, 10);
  if (!Number.isNaN(n)) return Math.max(n, 0);
  const when = Date.parse(v);
  return Number.isNaN(when) ? null : Math.max(Math.ceil((when - Date.now()) / 1000), 0);
};

// describe returns {message, code} for a failed response.
const describe = (response) => {
  const status = response.status;
  const err = apiError(response) || {};
  const code = err.code || `http_${status}`;
  const msg = sentence(err.message);
  const requestId = response.headers && response.headers.get && response.headers.get('x-request-id');

  switch (status) {
    case 400:
      return { code, message: `Hookline rejected the request as malformed: ${msg || 'bad request'}.` };
    case 401:
      return {
        code,
        message: `Hookline did not accept the API key${msg ? ` (${msg})` : ''}. Reconnect Hookline with a valid API key.`,
      };
    case 403:
      return {
        code,
        message: err.permission
          ? `This Hookline API key lacks the "${err.permission}" permission. Add it to the key, or reconnect with a key that has it.`
          : `Hookline refused: ${msg || 'forbidden'}.`,
      };
    case 404:
      return { code, message: `Not found in Hookline: ${msg || 'no such record'}.` };
    case 409:
      return { code, message: `Hookline reported a conflict: ${msg || 'conflict'}.` };
    case 413:
      return { code, message: `The data sent is too large for Hookline: ${msg || 'payload too large'}.` };
    case 422:
      return {
        code,
        message:
          Array.isArray(err.fields) && err.fields.length > 0
            ? `Hookline could not accept these values: ${fieldList(err.fields)}.`
            : `Hookline could not accept the request: ${msg || 'validation failed'}.`,
      };
    case 508:
      return {
        code,
        message: `Hookline stopped this write because it would start a loop between connected apps: ${msg || 'loop detected'}.`,
      };
    default:
      if (status >= 500) {
        return {
          code,
          message: `Hookline had a server error (HTTP ${status}${requestId ? `, request ${requestId}` : ''}). Try again later.`,
        };
      }
      return { code, message: `Hookline answered HTTP ${status}: ${msg || 'request failed'}.` };
  }
};

// afterResponse middleware: throws the right z.errors class for a failed
// response; passes successes (and requests made with skipThrowForStatus) on.
const handleErrors = (response, z) => {
  if (response.status < 400 || response.skipThrowForStatus) {
    return response;
  }
  const { code, message } = describe(response);
  if (response.status === 401) {
    // A custom API key cannot be refreshed: the connection must be fixed by the user.
    throw new z.errors.ExpiredAuthError(short(message));
  }
  if (response.status === 429) {
    throw new z.errors.ThrottledError(
      short(`Hookline is rate limiting this connection${apiError(response) ? `: ${sentence(apiError(response).message)}` : ''}. Zapier will retry.`),
      retryAfterSeconds(response),
    );
  }
  throw new z.errors.Error(short(message), code, response.status);
};

// A request that never got a response (bad Base URL, DNS, refused, TLS).
const NETWORK_CODES = /^(E[A-Z_]+|UND_ERR.*|CERT_.*|.*_CERT_.*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)$/;
const isNetworkError = (err) =>
  Boolean(err) && (err.name === 'FetchError' || (typeof err.code === 'string' && NETWORK_CODES.test(err.code)));

const networkError = (z, err, baseUrl) =>
  new z.errors.Error(
    short(`Could not reach Hookline at ${baseUrl || 'the Base URL'} (${err.code || err.message}). Check the Base URL and that the server is reachable from the internet.`),
    'unreachable',
  );

module.exports = { handleErrors, describe, short, isNetworkError, networkError, MAX_MESSAGE };
