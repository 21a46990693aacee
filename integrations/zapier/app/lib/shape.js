'use strict';

// shapeEvent turns one Hookline event envelope
//
//   {"id": "evt_…", "type": "customer.created", "created_at": "…",
//    "account_id": "acc_…", "data": {…}}
//
// into the flat object Zapier sees as one trigger item:
//
//   {...data, id: envelope.id, event_type: envelope.type,
//    event_created_at: envelope.created_at, account_id: envelope.account_id,
//    resource_id: data.id ?? null}
//
// `id` is the event id, so Zapier's dedupe (on `id`) sees every event once,
// even several events about the same customer; the resource's own id is kept
// as `resource_id`. The envelope's fields win over data fields of the same
// name. Both `perform` (live deliveries) and `performList` (samples) go
// through this one function, so the two shapes cannot drift.
const ENVELOPE_KEYS = ['id', 'event_type', 'event_created_at', 'account_id', 'resource_id'];

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

const isEnvelope = (v) =>
  isPlainObject(v) && typeof v.id === 'string' && v.id !== '' && typeof v.type === 'string' && v.type !== '';

const shapeEvent = (envelope) => {
  if (!isEnvelope(envelope)) {
    throw new TypeError('shapeEvent: not a Hookline event envelope (needs string "id" and "type")');
  }
  const data = isPlainObject(envelope.data) ? envelope.data : {};
  return {
    ...data,
    id: envelope.id,
    event_type: envelope.type,
    event_created_at: envelope.created_at ?? null,
    account_id: envelope.account_id ?? null,
    resource_id: data.id ?? null,
  };
};

module.exports = { shapeEvent, isEnvelope, isPlainObject, ENVELOPE_KEYS };
