'use strict';

// The Base URL a user typed when connecting, normalised: scheme required
// (https:// is assumed when none is given), no trailing slash and no
// trailing /v1, because every path in lib/api.js starts with /v1.
const normalizeBaseUrl = (raw) => {
  let url = String(raw || '').trim();
  if (!url) return '';
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) url = `https://${url}`;
  url = url.replace(/\/+$/, '').replace(/\/v1$/i, '').replace(/\/+$/, '');
  return url;
};

module.exports = { normalizeBaseUrl };
