'use strict';

// Turning Zapier input into a Hookline customer body.

const CUSTOMER_KEYS = ['name', 'email', 'phone', 'birthday', 'notes', 'external_id'];
const CLEARABLE_KEYS = ['phone', 'birthday', 'notes', 'external_id'];

const blank = (v) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

// Hookline wants YYYY-MM-DD; a mapped date often arrives as a full ISO time.
const normalizeBirthday = (v) => {
  const s = String(v).trim();
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$/.exec(s);
  return m ? m[1] : s;
};

// The non-blank customer fields of inputData (blank means "not given").
const customerBody = (inputData) => {
  const body = {};
  for (const key of CUSTOMER_KEYS) {
    const v = inputData[key];
    if (blank(v)) continue;
    body[key] = key === 'birthday' ? normalizeBirthday(v) : key === 'notes' ? String(v) : String(v).trim();
  }
  return body;
};

const inputField = (key, extra = {}) => {
  const base = {
    name: { label: 'Name' },
    email: { label: 'Email', helpText: 'Unique per account; compared ignoring case.' },
    phone: { label: 'Phone' },
    birthday: { label: 'Birthday', helpText: 'A date as YYYY-MM-DD, e.g. 1990-04-01.' },
    notes: { label: 'Notes', type: 'text' },
    external_id: { label: 'External ID', helpText: "The customer's id in another system." },
  }[key];
  return { key, type: 'string', required: false, ...base, ...extra };
};

module.exports = { CUSTOMER_KEYS, CLEARABLE_KEYS, customerBody, normalizeBirthday, inputField, blank };
