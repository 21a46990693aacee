'use strict';

// Offline checks of the app definition and its pure parts (no server).
const zapier = require('zapier-platform-core');
const { validateApp } = require('zapier-platform-core/src/tools/schema');
const App = require('../index');
const { shapeEvent } = require('../lib/shape');
const { describe: describeError, handleErrors } = require('../lib/errors');
const { normalizeBaseUrl } = require('../lib/base-url');
const { customerBody } = require('../lib/customer-input');
const samples = require('../lib/samples');

const appTester = zapier.createAppTester(App);

const envelope = (over = {}) => ({
  id: 'evt_01',
  type: 'customer.created',
  created_at: '2026-01-02T03:04:05Z',
  account_id: 'acc_01',
  data: { ...samples.customer, id: 'cus_01' },
  ...over,
});

const headers = (h = {}) => ({ get: (k) => h[k.toLowerCase()] ?? null });
const response = (status, body, h) => ({
  status,
  data: body,
  content: JSON.stringify(body),
  headers: headers(h),
});
const z = { errors: zapier.errors };

describe('app definition', () => {
  test('passes the Zapier schema', () => {
    expect(validateApp(App)).toEqual([]);
  });

  test('pins an exact 19.x core', () => {
    const pkg = require('../package.json');
    expect(pkg.dependencies['zapier-platform-core']).toMatch(/^19\.\d+\.\d+$/);
    expect(App.platformVersion).toBe(pkg.dependencies['zapier-platform-core']);
    expect(pkg.devDependencies.jest).toMatch(/^29\.\d+\.\d+$/);
  });

  test('has the triggers, creates and search the issue names', () => {
    expect(Object.keys(App.triggers).sort()).toEqual(
      ['customer_created', 'customer_deleted', 'customer_updated', 'event_type_list', 'new_event'].sort(),
    );
    expect(App.triggers.customer_created.display.label).toBe('New Customer');
    expect(App.triggers.customer_updated.display.label).toBe('Updated Customer');
    expect(App.triggers.customer_deleted.display.label).toBe('Deleted Customer');
    expect(App.triggers.new_event.display.label).toBe('New Event');
    for (const key of ['customer_created', 'customer_updated', 'customer_deleted', 'new_event']) {
      const op = App.triggers[key].operation;
      expect(op.type).toBe('hook');
      for (const fn of ['performSubscribe', 'performUnsubscribe', 'perform', 'performList']) {
        expect(typeof op[fn]).toBe('function');
      }
      expect(op.sample).toBeTruthy();
      expect(op.outputFields.length).toBeGreaterThan(0);
    }
    expect(Object.keys(App.creates).sort()).toEqual(['create_customer', 'update_customer']);
    expect(Object.keys(App.searches)).toEqual(['find_customer']);
    expect(App.authentication.type).toBe('custom');
    expect(App.authentication.fields.map((f) => f.key)).toEqual(['base_url', 'api_key']);
  });

  test('every static trigger sample is a shaped event, and its keys are the output fields', () => {
    for (const key of ['customer_created', 'customer_updated', 'customer_deleted']) {
      const op = App.triggers[key].operation;
      const event = key.replace('customer_', 'customer.');
      expect(op.sample).toEqual(shapeEvent(samples.envelope(event, samples.customer)));
      expect(op.outputFields.map((f) => f.key).sort()).toEqual(Object.keys(op.sample).sort());
    }
  });
});

describe('shapeEvent', () => {
  test('flattens data under the envelope fields; id is the event id', () => {
    expect(shapeEvent(envelope())).toEqual({
      ...samples.customer,
      id: 'evt_01',
      event_type: 'customer.created',
      event_created_at: '2026-01-02T03:04:05Z',
      account_id: 'acc_01',
      resource_id: 'cus_01',
    });
  });

  test('data without an id, or no data, still shapes', () => {
    expect(shapeEvent(envelope({ type: 'invoice.paid', data: { invoice: 'INV-1', amount: 120 } }))).toEqual({
      invoice: 'INV-1',
      amount: 120,
      id: 'evt_01',
      event_type: 'invoice.paid',
      event_created_at: '2026-01-02T03:04:05Z',
      account_id: 'acc_01',
      resource_id: null,
    });
    expect(shapeEvent(envelope({ data: undefined })).resource_id).toBeNull();
  });

  test('refuses what is not an envelope', () => {
    expect(() => shapeEvent({ data: {} })).toThrow(/not a Hookline event envelope/);
    expect(() => shapeEvent(null)).toThrow();
  });
});

describe('perform (hook body to items)', () => {
  const perform = App.triggers.customer_created.operation.perform;

  test('accepts one envelope', async () => {
    const items = await appTester(perform, { cleanedRequest: envelope() });
    expect(items).toEqual([shapeEvent(envelope())]);
  });

  test('accepts an array of envelopes, in order', async () => {
    const body = [envelope({ id: 'evt_02' }), envelope({ id: 'evt_01' })];
    const items = await appTester(perform, { cleanedRequest: body });
    expect(items.map((i) => i.id)).toEqual(['evt_02', 'evt_01']);
  });

  test('falls back to the raw body', async () => {
    const items = await appTester(perform, { cleanedRequest: {}, rawRequest: { content: JSON.stringify([envelope()]) } });
    expect(items).toEqual([shapeEvent(envelope())]);
  });

  test('leaves out envelopes of another type', async () => {
    const items = await appTester(perform, {
      cleanedRequest: [envelope({ id: 'evt_x', type: 'customer.deleted' }), envelope()],
    });
    expect(items.map((i) => i.id)).toEqual(['evt_01']);
  });

  test('the generic trigger takes the type the user chose', async () => {
    const items = await appTester(App.triggers.new_event.operation.perform, {
      inputData: { event_type: 'invoice.paid' },
      cleanedRequest: envelope({ type: 'invoice.paid', data: { invoice: 'INV-1' } }),
    });
    expect(items).toEqual([expect.objectContaining({ id: 'evt_01', invoice: 'INV-1', event_type: 'invoice.paid' })]);
  });

  test('a body that is not an event is an error, not an empty result', async () => {
    await expect(appTester(perform, { cleanedRequest: { hello: 'world' } })).rejects.toThrow(/not an event/);
    await expect(appTester(perform, { cleanedRequest: [envelope(), 42] })).rejects.toThrow(/not an event/);
  });
});

describe('error mapping', () => {
  const err = (code, message, extra = {}) => ({ error: { code, message, ...extra } });

  test('each status gets a short human message', () => {
    expect(describeError(response(400, err('bad_request', 'malformed JSON'))).message).toBe(
      'Hookline rejected the request as malformed: malformed JSON.',
    );
    expect(describeError(response(403, err('forbidden', 'missing permission', { permission: 'create:customer' }))).message).toBe(
      'This Hookline API key lacks the "create:customer" permission. Add it to the key, or reconnect with a key that has it.',
    );
    expect(describeError(response(404, err('not_found', 'customer not found'))).message).toBe(
      'Not found in Hookline: customer not found.',
    );
    expect(
      describeError(
        response(
          422,
          err('validation_failed', 'email: is required', {
            fields: [
              { field: 'email', message: 'is required' },
              { field: 'birthday', message: 'must be a date as YYYY-MM-DD.' },
            ],
          }),
        ),
      ).message,
    ).toBe('Hookline could not accept these values: email: is required; birthday: must be a date as YYYY-MM-DD.');
    expect(describeError(response(500, err('internal_error', 'x'), { 'x-request-id': 'req_1' })).message).toBe(
      'Hookline had a server error (HTTP 500, request req_1). Try again later.',
    );
    expect(describeError({ status: 502, content: '<html>bad gateway</html>', headers: headers() }).message).toBe(
      'Hookline had a server error (HTTP 502). Try again later.',
    );
  });

  test('messages never exceed 250 characters', () => {
    const long = 'x'.repeat(1000);
    try {
      handleErrors(response(409, err('conflict', long)), z);
      throw new Error('did not throw');
    } catch (e) {
      expect(e.name).toBe('AppError');
      const { message, code, status } = JSON.parse(e.message);
      expect(message.length).toBe(250);
      expect(code).toBe('conflict');
      expect(status).toBe(409);
    }
  });

  test('401 is ExpiredAuthError; 429 is ThrottledError with Retry-After', () => {
    expect(() => handleErrors(response(401, err('unauthorized', 'invalid API key')), z)).toThrow(zapier.errors.ExpiredAuthError);
    try {
      handleErrors(response(429, err('rate_limited', 'too many requests'), { 'retry-after': '7' }), z);
      throw new Error('did not throw');
    } catch (e) {
      expect(e.name).toBe('ThrottledError');
      expect(JSON.parse(e.message)).toEqual({
        message: 'Hookline is rate limiting this connection: too many requests. Zapier will retry.',
        delay: 7,
      });
    }
  });

  test('successes pass through', () => {
    const ok = response(200, { ok: true });
    expect(handleErrors(ok, z)).toBe(ok);
  });
});

describe('input helpers', () => {
  test('Base URL normalisation', () => {
    expect(normalizeBaseUrl(' https://h.example.com/ ')).toBe('https://h.example.com');
    expect(normalizeBaseUrl('https://h.example.com/v1/')).toBe('https://h.example.com');
    expect(normalizeBaseUrl('h.example.com')).toBe('https://h.example.com');
    expect(normalizeBaseUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    expect(normalizeBaseUrl('https://h.example.com/hookline')).toBe('https://h.example.com/hookline');
  });

  test('customer bodies drop blanks and take the date part of a birthday', () => {
    expect(
      customerBody({ name: ' Ann ', email: 'a@x.io', phone: '', notes: null, birthday: '1990-04-01T00:00:00+00:00' }),
    ).toEqual({ name: 'Ann', email: 'a@x.io', birthday: '1990-04-01' });
  });
});
