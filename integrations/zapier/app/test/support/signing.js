'use strict';

// Independent checks of Hookline's signatures, written from the Standard
// Webhooks spec: webhook-signature carries "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" entries (space separated) keyed with the base64-decoded
// part of the whsec_ secret; Signature is the hex HMAC of the raw body.
const crypto = require('crypto');

const keyOf = (secret) => Buffer.from(String(secret).replace(/^whsec_/, ''), 'base64');

const verifyStandardWebhooks = (secret, headers, rawBody, toleranceSeconds = 300) => {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = String(headers['webhook-signature'] || '').split(' ');
  if (!id || !ts || sigs.length === 0) return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) return false;
  const expected = crypto.createHmac('sha256', keyOf(secret)).update(`${id}.${ts}.${rawBody}`).digest();
  return sigs.some((entry) => {
    const [version, sig] = entry.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && crypto.timingSafeEqual(got, expected);
  });
};

const verifyPlain = (secret, headers, rawBody) => {
  const got = String(headers.signature || '');
  const want = crypto.createHmac('sha256', keyOf(secret)).update(rawBody).digest('hex');
  return got.length === want.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(want));
};

module.exports = { verifyStandardWebhooks, verifyPlain };
