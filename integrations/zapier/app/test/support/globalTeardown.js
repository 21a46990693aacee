'use strict';

const hookline = require('./hookline');
const processes = require('./processes');

module.exports = async () => {
  await hookline.stop(globalThis.__HOOKLINE_TEST__);
  await processes.stopAll();
};
