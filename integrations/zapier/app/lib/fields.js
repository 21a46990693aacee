'use strict';

// Output fields shared by every trigger and action.

// The keys shapeEvent adds to every trigger item.
const eventOutputFields = [
  { key: 'id', label: 'Event ID', type: 'string' },
  { key: 'event_type', label: 'Event Type', type: 'string' },
  { key: 'event_created_at', label: 'Event Time', type: 'datetime' },
  { key: 'account_id', label: 'Account ID', type: 'string' },
  { key: 'resource_id', label: 'Resource ID', type: 'string' },
];

// A customer's own fields (without its id, which differs per use).
const customerFields = [
  { key: 'name', label: 'Name', type: 'string' },
  { key: 'email', label: 'Email', type: 'string' },
  { key: 'phone', label: 'Phone', type: 'string' },
  { key: 'birthday', label: 'Birthday', type: 'string' },
  { key: 'notes', label: 'Notes', type: 'string' },
  { key: 'external_id', label: 'External ID', type: 'string' },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
  { key: 'updated_at', label: 'Updated At', type: 'datetime' },
];

// Trigger items about a customer: resource_id is the customer's id.
const customerEventOutputFields = [
  ...eventOutputFields.map((f) => (f.key === 'resource_id' ? { ...f, label: 'Customer ID' } : f)),
  ...customerFields,
];

// A customer as the actions return it.
const customerOutputFields = [{ key: 'id', label: 'Customer ID', type: 'string' }, ...customerFields];

const humanize = (key) =>
  String(key)
    .replace(/[_.-]+/g, ' ')
    .trim()
    .replace(/^\w/, (c) => c.toUpperCase());

module.exports = { eventOutputFields, customerFields, customerEventOutputFields, customerOutputFields, humanize };
