'use strict';

// Hidden trigger feeding the "Event Type" dropdown of "New Event": every
// event type in the account's catalog (GET /v1/event-types).
const api = require('../lib/api');

const perform = async (z, bundle) => {
  // The catalog comes whole on the first page; "load more" gets nothing new.
  if (bundle.meta && bundle.meta.page > 0) return [];
  const types = await api.listEventTypes(z, bundle);
  return types.map((t) => ({
    id: t.name,
    name: t.name,
    label: t.description ? `${t.name}: ${t.description}` : t.name,
    description: t.description || '',
    resource: t.resource || '',
    permission: t.permission || '',
    built_in: Boolean(t.built_in),
  }));
};

module.exports = {
  key: 'event_type_list',
  noun: 'Event Type',
  display: {
    label: 'List Event Types',
    description: 'Lists the event types in your Hookline catalog (powers the Event Type dropdown).',
    hidden: true,
  },
  operation: {
    perform,
    sample: {
      id: 'customer.created',
      name: 'customer.created',
      label: 'customer.created: A customer was created.',
      description: 'A customer was created.',
      resource: 'customer',
      permission: 'read:customer',
      built_in: true,
    },
    outputFields: [
      { key: 'id', label: 'Event Type' },
      { key: 'label', label: 'Label' },
      { key: 'description', label: 'Description' },
    ],
  },
};
