'use strict';

// The REST-hook triggers end to end: the app subscribes on the live Hookline
// with a hook URL on the local hooks.zapier.com stand-in, writes happen, the
// stand-in receives signed deliveries, and perform/performList turn them
// into Zapier items.
const zapier = require('zapier-platform-core');
const App = require('../index');
const { shapeEvent } = require('../lib/shape');
const { Standin } = require('./support/standin');
const { verifyStandardWebhooks, verifyPlain } = require('./support/signing');
const { poll } = require('./support/hookline');
const { authData, http, createKey, uniqueEmail } = require('./support/gateway');
const { userMessage } = require('./support/errors');

const appTester = zapier.createAppTester(App);
const op = (trigger) => App.triggers[trigger].operation;

let standin;
beforeAll(async () => {
  standin = await new Standin().start();
});
afterAll(async () => {
  await standin.close();
});

const subscribe = (trigger, hookUrl, { inputData = {}, auth = authData() } = {}) =>
  appTester(op(trigger).performSubscribe, { authData: auth, targetUrl: hookUrl, inputData });

const unsubscribe = (trigger, subscribeData, { inputData = {} } = {}) =>
  appTester(op(trigger).performUnsubscribe, { authData: authData(), subscribeData, inputData });

// What Zapier would pass perform for a request the stand-in received.
const hookBundle = (req, inputData = {}) => ({
  authData: authData(),
  inputData,
  cleanedRequest: req.body,
  rawRequest: { method: req.method, headers: req.headers, content: req.rawBody },
});

// The signing secret of a subscription: from the subscribe response when it
// carries one, else by rotating it through the webhooks API (the key may
// manage its own subscriptions).
const signingSecret = async (sub) => {
  if (sub.secret) return sub.secret;
  const res = await http('POST', `/v1/webhooks/${sub.id}/rotate-secret`);
  expect(res.status).toBe(200);
  return res.body.secret;
};

const createCustomer = (inputData) =>
  appTester(App.creates.create_customer.operation.perform, { authData: authData(), inputData });

const webhookGone = (id) =>
  poll(`webhook ${id} to be deleted`, async () => (await http('GET', `/v1/webhooks/${id}`)).status === 404, {
    timeoutMs: 15000,
  });

const expectSigned = (req, secret) => {
  expect(req.method).toBe('POST');
  expect(req.headers['content-type']).toMatch(/^application\/json/);
  expect(req.headers['webhook-id']).toBe(req.body.id);
  expect(req.headers['webhook-timestamp']).toMatch(/^\d+$/);
  expect(req.headers['webhook-signature']).toMatch(/^v1,/);
  expect(verifyStandardWebhooks(secret, req.headers, req.rawBody)).toBe(true);
  expect(verifyStandardWebhooks('whsec_' + Buffer.from('not the secret').toString('base64'), req.headers, req.rawBody)).toBe(
    false,
  );
  expect(verifyPlain(secret, req.headers, req.rawBody)).toBe(true);
};

describe('New Customer: subscribe → create → signed delivery → perform → performList → unsubscribe', () => {
  test('the whole REST-hook cycle', async () => {
    const hookA = standin.hookUrl();
    const hookB = standin.hookUrl(); // stays subscribed: the barrier after A unsubscribes

    const sub = await subscribe('customer_created', hookA);
    expect(sub).toEqual(expect.objectContaining({ id: expect.stringMatching(/^whk_/), event: 'customer.created', target_url: hookA }));
    const subB = await subscribe('customer_created', hookB);
    const secret = await signingSecret(sub);

    const email = uniqueEmail('new');
    const created = await createCustomer({
      name: 'Ann Example',
      email,
      phone: '+1 555 0001',
      birthday: '1990-04-01',
      notes: 'from the Zapier app',
    });
    expect(created).toEqual(
      expect.objectContaining({ id: expect.stringMatching(/^cus_/), name: 'Ann Example', email, birthday: '1990-04-01' }),
    );

    const req = await standin.waitFor(hookA, (r) => r.method === 'POST' && r.body && r.body.data && r.body.data.id === created.id);
    expect(req.body).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'customer.created',
      created_at: expect.any(String),
      account_id: process.env.HOOKLINE_TEST_ACCOUNT_ID,
      data: created,
    });
    expectSigned(req, secret);

    const items = await appTester(op('customer_created').perform, hookBundle(req));
    expect(items).toEqual([shapeEvent(req.body)]);
    expect(items[0]).toEqual(
      expect.objectContaining({
        id: req.body.id,
        event_type: 'customer.created',
        resource_id: created.id,
        email,
        name: 'Ann Example',
        notes: 'from the Zapier app',
      }),
    );
    // every key the item has is declared in outputFields
    expect(Object.keys(items[0]).sort()).toEqual(op('customer_created').outputFields.map((f) => f.key).sort());

    const list = await appTester(op('customer_created').performList, { authData: authData() });
    expect(Array.isArray(list)).toBe(true); // a bare array, not {data: […]}
    expect(list.length).toBeGreaterThanOrEqual(1);
    expect(list.length).toBeLessThanOrEqual(3);
    for (const item of list) expect(Object.keys(item).sort()).toEqual(Object.keys(items[0]).sort());
    expect(list[0]).toEqual(items[0]); // newest first: the event just delivered
    expect(new Set(list.map((i) => i.id)).size).toBe(list.length);

    const gone = await unsubscribe('customer_created', sub);
    expect(gone).toEqual(expect.objectContaining({ id: sub.id, deleted: true }));
    expect((await http('GET', `/v1/webhooks/${sub.id}`)).status).toBe(404);
    // unsubscribing again (Zapier may retry) is not an error: it is gone
    await expect(unsubscribe('customer_created', sub)).resolves.toEqual(expect.objectContaining({ id: sub.id, deleted: true }));

    // After unsubscribing, A gets nothing new: B (still subscribed) receives
    // the next event, and by then A has not.
    const before = standin.received(hookA).length;
    const second = await createCustomer({ name: 'Bo Example', email: uniqueEmail('after') });
    await standin.waitFor(hookB, (r) => r.body && r.body.data && r.body.data.id === second.id);
    expect(standin.received(hookA).filter((r) => r.method === 'POST').length).toBe(before);

    await unsubscribe('customer_created', subB);
  });
});

describe('Zapier rules on the gateway side', () => {
  test('a 410 from the hook URL deletes the subscription', async () => {
    const hook = standin.hookUrl();
    standin.respond(hook, 410);
    const sub = await subscribe('customer_created', hook);
    const created = await createCustomer({ name: 'Gone Zap', email: uniqueEmail('gone') });

    const req = await standin.waitFor(hook, (r) => r.method === 'POST' && r.body && r.body.data && r.body.data.id === created.id);
    expect(req.status).toBe(410);
    await webhookGone(sub.id);

    // Zapier then unsubscribes (or already did): not an error.
    await expect(unsubscribe('customer_created', sub)).resolves.toEqual(expect.objectContaining({ deleted: true }));
  });

  test('two subscriptions on one event both fire (Updated Customer, via the update action)', async () => {
    const customer = await createCustomer({ name: 'Cy Example', email: uniqueEmail('two') });
    const [hook1, hook2] = [standin.hookUrl(), standin.hookUrl()];
    const sub1 = await subscribe('customer_updated', hook1);
    const sub2 = await subscribe('customer_updated', hook2);
    expect(sub1.id).not.toBe(sub2.id);

    const updated = await appTester(App.creates.update_customer.operation.perform, {
      authData: authData(),
      inputData: { id: customer.id, notes: 'two zaps', phone: '' },
    });
    expect(updated).toEqual(expect.objectContaining({ id: customer.id, notes: 'two zaps', name: 'Cy Example' }));

    const isOurs = (r) => r.method === 'POST' && r.body && r.body.data && r.body.data.id === customer.id;
    const [r1, r2] = await Promise.all([standin.waitFor(hook1, isOurs), standin.waitFor(hook2, isOurs)]);
    expect(r1.body.id).toBe(r2.body.id); // the same event, delivered to each
    expect(r1.body.type).toBe('customer.updated');
    for (const r of [r1, r2]) {
      const items = await appTester(op('customer_updated').perform, hookBundle(r));
      expect(items).toEqual([expect.objectContaining({ id: r1.body.id, resource_id: customer.id, notes: 'two zaps' })]);
    }

    const list = await appTester(op('customer_updated').performList, { authData: authData() });
    expect(list[0]).toEqual(shapeEvent(r1.body));

    await unsubscribe('customer_updated', sub1);
    await unsubscribe('customer_updated', sub2);
  });

  test('Deleted Customer carries the customer as it was', async () => {
    const customer = await createCustomer({ name: 'Di Example', email: uniqueEmail('del') });
    const hook = standin.hookUrl();
    const sub = await subscribe('customer_deleted', hook);
    const del = await http('DELETE', `/v1/customers/${customer.id}`);
    expect(del.status).toBe(200);

    const req = await standin.waitFor(hook, (r) => r.method === 'POST' && r.body && r.body.data && r.body.data.id === customer.id);
    const items = await appTester(op('customer_deleted').perform, hookBundle(req));
    expect(items).toEqual([
      expect.objectContaining({ event_type: 'customer.deleted', resource_id: customer.id, email: customer.email }),
    ]);
    await unsubscribe('customer_deleted', sub);
  });

  test('a subscription removed on Hookline\'s side sends DELETE to the hook URL', async () => {
    const hook = standin.hookUrl();
    const sub = await subscribe('customer_created', hook);
    const res = await http('DELETE', `/v1/webhooks/${sub.id}`);
    expect(res.status).toBe(200);
    await standin.waitFor(hook, (r) => r.method === 'DELETE');
    await expect(unsubscribe('customer_created', sub)).resolves.toEqual(expect.objectContaining({ deleted: true }));
  });

  test('subscribing needs subscribe:webhook and the event\'s read permission, and says which', async () => {
    const noSubscribe = await createKey('zap no subscribe', ['read:customer']);
    const noRead = await createKey('zap no read', ['subscribe:webhook']);
    const e1 = await subscribe('customer_created', standin.hookUrl(), { auth: authData({ api_key: noSubscribe }) }).catch((e) => e);
    expect(userMessage(e1)).toBe(
      'This Hookline API key lacks the "subscribe:webhook" permission. Add it to the key, or reconnect with a key that has it.',
    );
    const e2 = await subscribe('customer_created', standin.hookUrl(), { auth: authData({ api_key: noRead }) }).catch((e) => e);
    expect(userMessage(e2)).toMatch(/lacks the "read:customer" permission/);
  });
});

describe('New Event (any event type in the catalog)', () => {
  const eventType = `invoice.paid_${Date.now().toString(36)}`;

  beforeAll(async () => {
    const res = await http('POST', '/v1/event-types', {
      body: { name: eventType, description: 'An invoice was paid.', sample: { invoice: 'INV-0', amount: 99 } },
    });
    expect(res.status).toBe(201);
  });

  test('the Event Type dropdown lists the whole catalog', async () => {
    const choices = await appTester(App.triggers.event_type_list.operation.perform, { authData: authData() });
    const ids = choices.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['customer.created', 'customer.updated', 'customer.deleted', eventType]));
    expect(choices.find((c) => c.id === eventType)).toEqual(
      expect.objectContaining({ name: eventType, label: `${eventType}: An invoice was paid.`, built_in: false }),
    );
    const more = await appTester(App.triggers.event_type_list.operation.perform, { authData: authData(), meta: { page: 1 } });
    expect(more).toEqual([]);
  });

  test('samples before any event, then subscribe → publish → perform → performList', async () => {
    const inputData = { event_type: eventType };
    const sampleList = await appTester(op('new_event').performList, { authData: authData(), inputData });
    expect(Array.isArray(sampleList)).toBe(true);
    expect(sampleList.length).toBe(1);
    expect(sampleList[0]).toEqual(expect.objectContaining({ event_type: eventType, invoice: 'INV-0', amount: 99 }));

    const dynamicFields = op('new_event').outputFields.find((f) => typeof f === 'function');
    const fields = await appTester(dynamicFields, { authData: authData(), inputData });
    expect(fields.map((f) => f.key)).toEqual(['invoice', 'amount']);

    const hook = standin.hookUrl();
    const sub = await subscribe('new_event', hook, { inputData });
    expect(sub.event).toBe(eventType);
    const pub = await http('POST', '/v1/events', { body: { type: eventType, data: { invoice: 'INV-1', amount: 120 } } });
    expect(pub.status).toBe(202);

    const req = await standin.waitFor(hook, (r) => r.method === 'POST' && r.body && r.body.id === pub.body.id);
    const items = await appTester(op('new_event').perform, hookBundle(req, inputData));
    expect(items).toEqual([
      {
        id: pub.body.id,
        event_type: eventType,
        event_created_at: req.body.created_at,
        account_id: process.env.HOOKLINE_TEST_ACCOUNT_ID,
        resource_id: null,
        invoice: 'INV-1',
        amount: 120,
      },
    ]);

    const list = await appTester(op('new_event').performList, { authData: authData(), inputData });
    expect(list[0]).toEqual(items[0]);
    expect(Object.keys(sampleList[0]).sort()).toEqual(Object.keys(items[0]).sort());

    await unsubscribe('new_event', sub, { inputData });
  });

  test('an event type that is not in the catalog is refused with a message', async () => {
    const err = await subscribe('new_event', standin.hookUrl(), { inputData: { event_type: 'no.such_type' } }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(userMessage(err).length).toBeLessThanOrEqual(250);
    expect(userMessage(err)).toBe(
      'Hookline could not accept these values: event: "no.such_type" is not an event type in the catalog.',
    );
  });
});
