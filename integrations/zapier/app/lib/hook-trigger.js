'use strict';

// REST-hook triggers. Zapier subscribes with a hook URL (performSubscribe →
// POST /v1/zapier/hooks), Hookline POSTs each event envelope to it, Zapier
// hands the body to `perform`, and unsubscribes when the Zap is turned off
// (performUnsubscribe → DELETE /v1/zapier/hooks/{id}). `performList` pulls
// recent events (or the catalog sample) for the Zap editor. `perform` and
// `performList` both shape envelopes with shapeEvent, so items look alike.

const api = require('./api');
const { shapeEvent, isEnvelope } = require('./shape');

// The envelopes in a hook request: the body may be one envelope or an array
// of them. Zapier parses JSON bodies into bundle.cleanedRequest; the raw
// content is the fallback.
const envelopesFromRequest = (z, bundle) => {
  let body = bundle.cleanedRequest;
  const raw = bundle.rawRequest && bundle.rawRequest.content;
  if ((body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) && raw) {
    try {
      body = JSON.parse(raw);
    } catch (_e) {
      throw new z.errors.Error('Hookline sent a delivery whose body is not JSON.', 'bad_delivery');
    }
  }
  const list = Array.isArray(body) ? body : [body];
  const bad = list.findIndex((e) => !isEnvelope(e));
  if (bad !== -1) {
    throw new z.errors.Error(
      'Hookline sent a delivery that is not an event (expected {"id", "type", "created_at", "data"}).',
      'bad_delivery',
    );
  }
  return list;
};

// perform for a trigger on `eventType`: one item per envelope of that type.
// Envelopes of another type (which Hookline does not send to this hook) are
// logged and left out rather than starting the Zap with the wrong data.
const itemsFromHook = (z, bundle, eventType) => {
  const items = [];
  for (const envelope of envelopesFromRequest(z, bundle)) {
    if (eventType && envelope.type !== eventType) {
      z.console.log(`Ignored event ${envelope.id} of type ${envelope.type}: this trigger is for ${eventType}.`);
      continue;
    }
    items.push(shapeEvent(envelope));
  }
  return items;
};

// hookOperation builds the operation of a hook trigger. eventOf(bundle)
// names the event type: fixed for the built-in triggers, chosen by the user
// for the generic one.
const hookOperation = ({ eventOf, inputFields = [], sample, outputFields }) => ({
  type: 'hook',
  inputFields,

  performSubscribe: async (z, bundle) => {
    const event = eventOf(bundle);
    if (!event) throw new z.errors.Error('Choose an event type first.', 'no_event_type');
    return api.subscribeHook(z, bundle, event, bundle.targetUrl);
  },

  performUnsubscribe: async (z, bundle) => {
    const id = bundle.subscribeData && bundle.subscribeData.id;
    if (!id) {
      throw new z.errors.Error('This Zap has no Hookline subscription id to remove.', 'no_subscription');
    }
    return api.unsubscribeHook(z, bundle, id);
  },

  perform: async (z, bundle) => itemsFromHook(z, bundle, eventOf(bundle)),

  performList: async (z, bundle) => {
    const event = eventOf(bundle);
    if (!event) throw new z.errors.Error('Choose an event type first.', 'no_event_type');
    const envelopes = await api.listSamples(z, bundle, event);
    return envelopes.map(shapeEvent);
  },

  sample,
  outputFields,
});

module.exports = { hookOperation, envelopesFromRequest, itemsFromHook };
