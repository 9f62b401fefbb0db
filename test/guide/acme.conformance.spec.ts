import { describe, it } from 'vitest';
import { describeProviderConformance, ServiceFake } from '@hush/providers/testing';
import { acmeService } from './acme-service.js';
import { acmeEmbedder } from './acme.embedder.js';
import { acmeReranker } from './acme.reranker.js';

const ACME_API_KEY = 'acme-secret-key';

// Each check starts a fake Acme of its own, and closes it.
const fake = () => ServiceFake.start(acmeService({ apiKey: ACME_API_KEY }));

describeProviderConformance(
  acmeEmbedder,
  { fake, entry: { model: 'acme-embed-1', apiKey: ACME_API_KEY }, dimensions: [256, 512] },
  { describe, it },
);

describeProviderConformance(
  acmeReranker,
  { fake, entry: { model: 'acme-rerank-2', apiKey: ACME_API_KEY } },
  { describe, it },
);
