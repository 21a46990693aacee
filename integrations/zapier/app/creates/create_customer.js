'use strict';

const api = require('../lib/api');
const samples = require('../lib/samples');
const { customerOutputFields } = require('../lib/fields');
const { customerBody, inputField } = require('../lib/customer-input');

module.exports = {
  key: 'create_customer',
  noun: 'Customer',
  display: {
    label: 'Create Customer',
    description: 'Creates a customer in Hookline.',
  },
  operation: {
    inputFields: [
      inputField('name', { required: true }),
      inputField('email', { required: true }),
      inputField('phone'),
      inputField('birthday'),
      inputField('notes'),
      inputField('external_id'),
    ],
    perform: async (z, bundle) => api.createCustomer(z, bundle, customerBody(bundle.inputData)),
    sample: samples.customer,
    outputFields: customerOutputFields,
  },
};
