'use strict';

// Static samples, as Hookline event envelopes (the catalog's customer sample
// inside a delivery envelope). Triggers expose shapeEvent(…) of these, so the
// static sample has exactly the shape of a live item.
const customer = {
  id: 'cus_01jd9q6m3v6f0t1r2y3x4z5a6b',
  name: 'Ann Example',
  email: 'ann@example.com',
  phone: '+15550001',
  birthday: '1990-04-01',
  notes: '',
  external_id: '',
  created_at: '2026-01-02T03:04:05Z',
  updated_at: '2026-01-02T03:04:05Z',
};

const envelope = (type, data) => ({
  id: 'evt_01jd9q6m3v6f0t1r2y3x4z5a6c',
  type,
  created_at: '2026-01-02T03:04:05Z',
  account_id: 'acc_01jd9q6m3v6f0t1r2y3x4z5a6d',
  data,
});

module.exports = { customer, envelope };
