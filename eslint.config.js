// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const LIB = './libs/providers/src';

/**
 * The library's layers, bottom first. A folder may import its own files and the folders listed as
 * below it, nothing else: the bottom knows no policy, the transport knows no vendor, a vendor knows
 * no other vendor (the OpenAI protocol excepted, which several vendors speak).
 */
const LAYERS = {
  core: [],
  config: ['core'],
  http: ['core'],
  toolkit: ['core', 'http'],
  providers: ['core', 'http', 'toolkit'],
  telemetry: ['core'],
  store: ['core', 'config'],
  resilience: ['core', 'telemetry', 'store'],
  managed: ['core', 'telemetry', 'store', 'resilience'],
  registry: ['core', 'config', 'telemetry'],
  module: ['core', 'config', 'http', 'toolkit', 'providers', 'telemetry', 'store', 'resilience', 'managed', 'registry'],
  health: ['core', 'registry'],
  testing: ['core', 'config', 'telemetry', 'store', 'resilience', 'registry', 'module'],
  cli: ['core', 'config', 'module', 'registry'],
};
const VENDORS = ['anthropic', 'azure-openai', 'cohere', 'gemini', 'jina', 'llama-cpp', 'ollama', 'openai', 'pinecone', 'tei', 'vllm', 'voyage'];

const layerZones = Object.entries(LAYERS).map(([layer, below]) => ({
  target: `${LIB}/${layer}`,
  from: LIB,
  except: [`./${layer}`, ...below.map((b) => `./${b}`)],
  message: `${layer}/ may import only ${[layer, ...below].join(', ')}: it sits below the others.`,
}));
const vendorZones = VENDORS.map((vendor) => ({
  target: `${LIB}/providers/${vendor}`,
  from: `${LIB}/providers`,
  except: [`./${vendor}`, ...(vendor === 'openai' ? [] : ['./openai'])],
  message: 'Everything about one vendor lives in its folder; a vendor imports no other vendor (only providers/openai, the protocol others speak).',
}));

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'models/**', 'coverage/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: globals.node },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // LLM, Embedder and Reranker are abstract classes merged with interfaces on purpose: the class is
      // the injection token of the default instance, the interface its type.
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['libs/providers/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: [...layerZones, ...vendorZones] }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // The gateway is a user of the library like any other: its public entry points only.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/libs/providers/**'], message: "Import '@hush/providers' (or /testing, /health)." }] }],
    },
  },
  {
    files: ['test/**/*.ts'],
    // Drivers and steps written as generators that throw before their first chunk, on purpose.
    rules: { 'require-yield': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
