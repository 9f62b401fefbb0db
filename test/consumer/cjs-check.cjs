// CommonJS consumers load the ESM package through Node's require(esm).
const providers = require('@hush/providers');
const testing = require('@hush/providers/testing');
console.log(JSON.stringify({ cjs: typeof providers.ProvidersModule, testing: typeof testing.FakeLLM }));
