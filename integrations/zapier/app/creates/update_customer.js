'use strict';

const api = require('../lib/api');
const samples = require('../lib/samples');
const { customerOutputFields } = require('../lib/fields');
const { customerBody, inputField, CLEARABLE_KEYS, blank } = require('../lib/customer-input');

// Blank fields are left as they are (Zapier sends empty mappings as blanks);
// "Fields to Clear" empties optional fields explicitly.
const perform = async (z, bundle) => {
  const { id } = bundle.inputData;
  if (blank(id)) throw new z.errors.Error('Customer ID is required.', 'validation_failed');
  const body = customerBody(bundle.inputData);
  let clear = bundle.inputData.clear_fields || [];
  if (!Array.isArray(clear)) clear = String(clear).split(',');
  for (const key of clear.map((k) => String(k).trim()).filter(Boolean)) {
    if (!CLEARABLE_KEYS.includes(key)) {
      throw new z.errors.Error(`"${key}" cannot be cleared; clearable: ${CLEARABLE_KEYS.join(', ')}.`, 'validation_failed');
    }
    if (key in body) {
      throw new z.errors.Error(`"${key}" is both given a value and marked to clear; choose one.`, 'validation_failed');
    }
    body[key] = '';
  }
  return api.updateCustomer(z, bundle, String(id).trim(), body);
};

module.exports = {
  key: 'update_customer',
  noun: 'Customer',
  display: {
    label: 'Update Customer',
    description: "Updates a customer's details in Hookline. Fields left blank stay as they are.",
  },
  operation: {
    inputFields: [
      {
        key: 'id',
        label: 'Customer ID',
        type: 'string',
        required: true,
        search: 'find_customer.id',
        helpText: 'The `cus_…` id, e.g. from a "Find Customer" step or a customer trigger.',
      },
      inputField('name'),
      inputField('email'),
      inputField('phone'),
      inputField('birthday'),
      inputField('notes'),
      inputField('external_id'),
      {
        key: 'clear_fields',
        label: 'Fields to Clear',
        type: 'string',
        list: true,
        required: false,
        choices: CLEARABLE_KEYS.map((k) => ({ value: k, label: k.replace('_', ' '), sample: k })),
        helpText: 'Optional fields to empty (blank fields above are otherwise left unchanged).',
      },
    ],
    perform,
    sample: samples.customer,
    outputFields: customerOutputFields,
  },
};
