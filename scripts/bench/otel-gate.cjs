// Preloaded with `node --require` into every process of the bench's telemetry part
// (telemetry-worker.mjs). With BENCH_HIDE_OTEL=1 (the "no instrumentation" process),
// '@opentelemetry/api' cannot be resolved there, as in an app that has not installed the optional
// peer: every require of it (the library's createRequire included) fails with a MODULE_NOT_FOUND
// error. In every process it records which files asked for it, so the worker can check that the
// library did (and was refused, or served).
'use strict';
const Module = require('node:module');

const API = '@opentelemetry/api';
const hide = process.env.BENCH_HIDE_OTEL === '1';
const state = { hidden: hide, refused: 0, askedBy: new Set() };
Object.defineProperty(globalThis, '__benchOtelGate', { value: state, enumerable: false });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function benchOtelGate(request, parent, ...rest) {
  if (request === API || request.startsWith(`${API}/`)) {
    state.askedBy.add(parent?.filename ?? '(unknown)');
    if (hide) {
      state.refused++;
      const err = new Error(`Cannot find module '${request}' (hidden by scripts/bench/otel-gate.cjs)`);
      err.code = 'MODULE_NOT_FOUND';
      err.requireStack = parent?.filename ? [parent.filename] : [];
      throw err;
    }
  }
  return resolveFilename.call(this, request, parent, ...rest);
};
