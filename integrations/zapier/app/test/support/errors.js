'use strict';

// The message a Zapier user would read for an error thrown by the app:
// z.errors.Error carries {message, code, status} as JSON; other classes get
// a "What happened" context appended by the SDK after our message.
const userMessage = (err) => {
  const text = String(err && err.message);
  if (err && err.name === 'AppError') return JSON.parse(text).message;
  return text.split('\nWhat happened')[0];
};

// Resolves to the error a promise rejects with; fails when it resolves.
const failure = (p) =>
  p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e) => e,
  );

module.exports = { userMessage, failure };
