'use strict';

// "New Event": a hook trigger on any event type of the account's catalog,
// chosen by the user from a dropdown fed by GET /v1/event-types.
const api = require('../lib/api');
const { hookOperation } = require('../lib/hook-trigger');
const { shapeEvent, ENVELOPE_KEYS } = require('../lib/shape');
const samples = require('../lib/samples');
const { eventOutputFields, humanize } = require('../lib/fields');

const eventOf = (bundle) => (bundle.inputData && bundle.inputData.event_type) || null;

// Output fields of the chosen type: its catalog sample's keys, after the
// envelope fields every item has.
const sampleOutputFields = async (z, bundle) => {
  const event = eventOf(bundle);
  if (!event) return [];
  const types = await api.listEventTypes(z, bundle);
  const type = types.find((t) => t.name === event);
  if (!type || !type.sample || typeof type.sample !== 'object') return [];
  return Object.keys(type.sample)
    .filter((k) => !ENVELOPE_KEYS.includes(k))
    .map((k) => ({ key: k, label: humanize(k) }));
};

module.exports = {
  key: 'new_event',
  noun: 'Event',
  display: {
    label: 'New Event',
    description: 'Triggers when an event of the type you choose happens in Hookline (any type in your catalog).',
  },
  operation: hookOperation({
    eventOf,
    inputFields: [
      {
        key: 'event_type',
        label: 'Event Type',
        required: true,
        dynamic: 'event_type_list.id.label',
        helpText: 'The Hookline event type that starts this Zap, e.g. `customer.created` or one of your own types.',
      },
    ],
    sample: shapeEvent(samples.envelope('customer.created', samples.customer)),
    outputFields: [...eventOutputFields, sampleOutputFields],
  }),
};
