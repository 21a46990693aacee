'use strict';

// One hook trigger per built-in customer event.
const { hookOperation } = require('../lib/hook-trigger');
const { shapeEvent } = require('../lib/shape');
const samples = require('../lib/samples');
const { customerEventOutputFields } = require('../lib/fields');

const customerTrigger = ({ key, event, label, description }) => ({
  key,
  noun: 'Customer',
  display: { label, description },
  operation: hookOperation({
    eventOf: () => event,
    sample: shapeEvent(samples.envelope(event, samples.customer)),
    outputFields: customerEventOutputFields,
  }),
});

module.exports = [
  customerTrigger({
    key: 'customer_created',
    event: 'customer.created',
    label: 'New Customer',
    description: 'Triggers when a customer is created in Hookline.',
  }),
  customerTrigger({
    key: 'customer_updated',
    event: 'customer.updated',
    label: 'Updated Customer',
    description: "Triggers when a customer's details change in Hookline.",
  }),
  customerTrigger({
    key: 'customer_deleted',
    event: 'customer.deleted',
    label: 'Deleted Customer',
    description: 'Triggers when a customer is deleted in Hookline (with the customer as it was).',
  }),
];
