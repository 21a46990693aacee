'use strict';

// Create Customer, Update Customer and Find Customer against the live server.
const zapier = require('zapier-platform-core');
const App = require('../index');
const { authData, createKey, uniqueEmail } = require('./support/gateway');
const { userMessage, failure } = require('./support/errors');

const appTester = zapier.createAppTester(App);
const create = (inputData, auth = authData()) =>
  appTester(App.creates.create_customer.operation.perform, { authData: auth, inputData });
const update = (inputData) => appTester(App.creates.update_customer.operation.perform, { authData: authData(), inputData });
const find = (email) => appTester(App.searches.find_customer.operation.perform, { authData: authData(), inputData: { email } });

describe('Find Customer', () => {
  test('returns [] for an unknown email', async () => {
    await expect(find(uniqueEmail('nobody'))).resolves.toEqual([]);
  });

  test('finds by email ignoring case, as a one-item array', async () => {
    const email = uniqueEmail('find');
    const c = await create({ name: 'Fay Example', email });
    await expect(find(email.toUpperCase())).resolves.toEqual([c]);
  });
});

describe('Create Customer', () => {
  test('returns the customer as one object, with the date part of a mapped birthday', async () => {
    const email = uniqueEmail('create');
    const c = await create({ name: 'Gus Example', email, birthday: '1991-02-03T00:00:00+00:00', external_id: 'crm-7', phone: '' });
    expect(c).toEqual(
      expect.objectContaining({
        id: expect.stringMatching(/^cus_/),
        name: 'Gus Example',
        email,
        birthday: '1991-02-03',
        external_id: 'crm-7',
        created_at: expect.any(String),
      }),
    );
    expect(Object.keys(c).sort()).toEqual(App.creates.create_customer.operation.outputFields.map((f) => f.key).sort());
  });

  test('a duplicate email (ignoring case) is refused with a short message', async () => {
    const email = uniqueEmail('dup');
    await create({ name: 'Hal Example', email });
    const err = await failure(create({ name: 'Hal Again', email: email.toUpperCase() }));
    expect(err.name).toBe('AppError');
    expect(JSON.parse(err.message)).toEqual({
      message: 'Hookline could not accept these values: email: another customer already has this email.',
      code: 'validation_failed',
      status: 422,
    });
  });

  test('invalid values name the field', async () => {
    const err = await failure(create({ name: 'Ivy Example', email: uniqueEmail('bad'), birthday: 'April 1st' }));
    const { message, status } = JSON.parse(err.message);
    expect(status).toBe(422);
    expect(message).toMatch(/^Hookline could not accept these values: .*birthday/);
  });

  test('a key without create:customer is told which permission it lacks', async () => {
    const key = await createKey('zap read only', ['read:customer']);
    const err = await failure(create({ name: 'Jo Example', email: uniqueEmail('perm') }, authData({ api_key: key })));
    expect(JSON.parse(err.message)).toEqual({
      message: 'This Hookline API key lacks the "create:customer" permission. Add it to the key, or reconnect with a key that has it.',
      code: 'forbidden',
      status: 403,
    });
  });
});

describe('Update Customer', () => {
  test('changes only the fields given; Fields to Clear empties others', async () => {
    const email = uniqueEmail('upd');
    const c = await create({ name: 'Kim Example', email, phone: '+1 555 0002', notes: 'keep me' });
    const u = await update({ id: c.id, name: 'Kim Changed', email: '', notes: '', clear_fields: ['phone'] });
    expect(u).toEqual(expect.objectContaining({ id: c.id, name: 'Kim Changed', email, notes: 'keep me', phone: '' }));
  });

  test('an unknown customer id is not found', async () => {
    const err = await failure(update({ id: 'cus_doesnotexist', name: 'X' }));
    const { message, status } = JSON.parse(err.message);
    expect(status).toBe(404);
    expect(message).toMatch(/^Not found in Hookline: /);
  });

  test('a field both given and cleared is refused before calling Hookline', async () => {
    const err = await failure(update({ id: 'cus_x', phone: '1', clear_fields: ['phone'] }));
    expect(userMessage(err)).toMatch(/both given a value and marked to clear/);
  });
});
