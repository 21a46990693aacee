'use strict';

// Hookline's Zapier integration. See README.md for what each part does and
// how to push it to Zapier against your own deployment.

const { version } = require('./package.json');
const { version: platformVersion } = require('zapier-platform-core');

const { authentication, addAuthHeader } = require('./lib/authentication');
const { handleErrors } = require('./lib/errors');
const customerTriggers = require('./triggers/customer_events');
const newEvent = require('./triggers/new_event');
const eventTypeList = require('./triggers/event_type_list');
const createCustomer = require('./creates/create_customer');
const updateCustomer = require('./creates/update_customer');
const findCustomer = require('./searches/find_customer');

const byKey = (list) => Object.fromEntries(list.map((x) => [x.key, x]));

module.exports = {
  version,
  platformVersion,

  authentication,
  beforeRequest: [addAuthHeader],
  afterResponse: [handleErrors],
  // 429s reach handleErrors, which throws a ThrottledError with Hookline's
  // Retry-After and a readable message.
  flags: { throwForThrottlingEarly: false },

  triggers: byKey([...customerTriggers, newEvent, eventTypeList]),
  creates: byKey([createCustomer, updateCustomer]),
  searches: byKey([findCustomer]),
  searchOrCreates: {
    find_customer: {
      key: 'find_customer',
      display: {
        label: 'Find or Create Customer',
        description: 'Finds a customer by email, or creates one when none exists.',
      },
      search: 'find_customer',
      create: 'create_customer',
    },
  },
};
