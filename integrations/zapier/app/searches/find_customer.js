'use strict';

const api = require('../lib/api');
const samples = require('../lib/samples');
const { customerOutputFields } = require('../lib/fields');

module.exports = {
  key: 'find_customer',
  noun: 'Customer',
  display: {
    label: 'Find Customer',
    description: 'Finds a customer in Hookline by email (ignoring case).',
  },
  operation: {
    inputFields: [
      { key: 'email', label: 'Email', type: 'string', required: true, helpText: 'Matched ignoring case.' },
    ],
    // [] when nobody has that email (never a 404), else the one customer.
    perform: async (z, bundle) => api.findCustomersByEmail(z, bundle, String(bundle.inputData.email).trim()),
    sample: samples.customer,
    outputFields: customerOutputFields,
  },
};
