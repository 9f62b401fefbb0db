import 'reflect-metadata';
import { Controller, Injectable, Module, Optional } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import {
  Embedder,
  getEmbedderToken,
  getLLMToken,
  getRerankerToken,
  InjectLLM,
  InjectReranker,
  LLM,
  NoDefaultInstanceError,
  ProvidersConfigError,
  ProvidersModule,
  ProvidersRegistry,
  Reranker,
  UnknownInstanceError,
} from '@hush/providers';
import { FakeLLM } from '@hush/providers/testing';
import { scriptedEmbeddingProvider, scriptedLLMProvider, scriptedRerankerProvider } from './support/scripted-provider.js';

const twoLLMs = {
  llm: {
    chat: { type: 'scripted', model: 'chat-model' },
    summarize: { type: 'scripted', model: 'sum-model' },
  },
  defaults: { llm: 'chat' },
};

@Injectable()
class ChatService {
  constructor(
    @InjectLLM('chat') readonly chat: LLM,
    @InjectLLM('summarize') readonly summarize: LLM,
    readonly byType: LLM,
  ) {}
}

describe('ProvidersModule.forRoot', () => {
  it('injects named instances by decorator and the default by type (needs emitDecoratorMetadata)', async () => {
    const { definition } = scriptedLLMProvider();
    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: twoLLMs, providers: [definition] })],
      providers: [ChatService],
    }).compile();
    const service = module.get(ChatService);
    expect(service.chat.model).toBe('chat-model');
    expect(service.summarize.model).toBe('sum-model');
    expect(service.byType).toBe(service.chat);
    expect(module.get(getLLMToken('summarize'))).toBe(service.summarize);
    const answer = await service.summarize.generate([{ role: 'user', content: 'hi' }]);
    expect(answer.choices[0]!.message.content).toBe('summarize:');
    await module.close();
  });

  it('lets overrideProvider replace one token with a fake', async () => {
    const { definition } = scriptedLLMProvider();
    const fake = new FakeLLM({ name: 'chat', replies: ['scripted answer'] });
    const module = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: twoLLMs, providers: [definition] })],
      providers: [ChatService],
    })
      .overrideProvider(getLLMToken('chat'))
      .useValue(fake)
      .compile();
    const service = module.get(ChatService);
    expect(service.chat).toBe(fake);
    expect((await service.chat.generate([{ role: 'user', content: 'x' }])).choices[0]!.message.content).toBe('scripted answer');
    expect(service.summarize.model).toBe('sum-model');
    await module.close();
  });

  it('gives the registry every name by kind, and a clear error for an unknown one', async () => {
    const llm = scriptedLLMProvider();
    const embedding = scriptedEmbeddingProvider();
    const reranker = scriptedRerankerProvider();
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          providers: [llm.definition, embedding.definition, reranker.definition],
          config: { ...twoLLMs, embedding: { docs: { type: 'scripted', model: 'e' } }, reranker: { default: { type: 'scripted', model: 'r' } } },
        }),
      ],
    }).compile();
    const registry = module.get(ProvidersRegistry);
    expect(registry.names('llm')).toEqual(['chat', 'summarize']);
    expect(registry.names('embedding')).toEqual(['docs']);
    expect(registry.names('reranker')).toEqual(['default']);
    expect(registry.embedder()).toBe(module.get(getEmbedderToken('docs')));
    expect(registry.embedder()).toBe(module.get(Embedder));
    expect(registry.reranker()).toBe(module.get(getRerankerToken()));
    expect(module.get(Reranker)).toBe(module.get(getRerankerToken('default')));
    expect(() => registry.llm('nope')).toThrow(UnknownInstanceError);
    expect(() => registry.llm('nope')).toThrow(
      'No LLM named "nope" is configured. Configured llm names: chat, summarize. Add it under "llm:" in the providers YAML.',
    );
    await module.close();
  });

  it('closes every driver once on app.close(), and leaves no handle open', async () => {
    const { definition, drivers } = scriptedLLMProvider();
    const app = await NestFactory.createApplicationContext(
      (() => {
        @Module({ imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: twoLLMs, providers: [definition] })] })
        class AppModule {}
        return AppModule;
      })(),
      { logger: false },
    );
    await app
      .get(ProvidersRegistry)
      .llm('chat')
      .generate([{ role: 'user', content: 'x' }]);
    await app.close();
    expect([...drivers.values()].map((d) => d.closed)).toEqual([1, 1]);
  });

  it('keeps tokens inside the importing module when isGlobal is false', async () => {
    const { definition } = scriptedLLMProvider();
    @Module({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: twoLLMs, providers: [definition], isGlobal: false })],
      providers: [ChatService],
      exports: [ChatService],
    })
    class FeatureWithProviders {}
    @Module({ providers: [ChatService] })
    class FeatureWithout {}

    const ok = await Test.createTestingModule({ imports: [FeatureWithProviders] }).compile();
    expect(ok.get(ChatService).chat.model).toBe('chat-model');
    await ok.close();
    const failed = await Test.createTestingModule({ imports: [FeatureWithProviders, FeatureWithout] })
      .compile()
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(failed?.message).toContain("Nest can't resolve dependencies of the ChatService");
  });

  it('refuses a provider definition that is not one, and the same type registered twice', async () => {
    const { definition } = scriptedLLMProvider();
    const error = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: {}, providers: [definition, { ...definition }, { type: 'x' } as never] })],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(ProvidersConfigError);
    expect((error as ProvidersConfigError).issues.map((i) => `${i.file} ${i.message}`)).toEqual([
      'forRoot({ providers })[1] registers the llm type "scripted" a second time.',
      'forRoot({ providers })[2] is not a provider definition: it needs kind (llm, embedding or reranker), type, config (a class) and create().',
    ]);
  });

  it('reports a driver that cannot be created as a bootstrap error, without its secret', async () => {
    const { definition } = scriptedLLMProvider();
    const broken = {
      ...definition,
      type: 'broken',
      create: () => {
        throw new Error('cannot open model with key sk-abcdef123456');
      },
    };
    const error = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: { llm: { a: { type: 'broken', model: 'm' } } }, providers: [broken] })],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(ProvidersConfigError);
    expect((error as Error).message).toBe('Invalid providers config (1 problem):\n  1. llm.a: could not be created: cannot open model with key ***');
  });
});

describe('ProvidersModule.forRootAsync', () => {
  it('takes its options from a factory that uses ConfigService, binding declared names and defaults', async () => {
    const { definition } = scriptedLLMProvider();
    @Injectable()
    class UsesDeclared {
      constructor(
        @InjectLLM('chat') readonly chat: LLM,
        readonly byType: LLM,
      ) {}
    }
    const module = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ chatModel: 'from-config-service' })] }),
        ProvidersModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          names: { llm: ['chat'] },
          providers: [definition],
          useFactory: (config: ConfigService) => ({
            configPath: [],
            env: {},
            config: {
              llm: { chat: { type: 'scripted', model: config.getOrThrow<string>('chatModel') }, other: { type: 'scripted', model: 'o' } },
              defaults: { llm: 'chat' },
            },
          }),
        }),
      ],
      providers: [UsesDeclared],
    }).compile();
    const service = module.get(UsesDeclared);
    expect(service.chat.model).toBe('from-config-service');
    expect(service.byType).toBe(service.chat);
    expect(module.get(ProvidersRegistry).llm('other').model).toBe('o');
    await module.close();
  });

  it('binds undeclared names in a feature module through forFeature', async () => {
    const { definition } = scriptedLLMProvider();
    @Injectable()
    class Summaries {
      constructor(@InjectLLM('summarize') readonly llm: LLM) {}
    }
    @Module({ imports: [ProvidersModule.forFeature({ llm: ['summarize'] })], providers: [Summaries], exports: [Summaries] })
    class SummariesModule {}
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRootAsync({ providers: [definition], useFactory: async () => ({ configPath: [], env: {}, config: twoLLMs }) }),
        SummariesModule,
      ],
    }).compile();
    expect(module.get(Summaries).llm.model).toBe('sum-model');
    await module.close();
  });

  it('fails bootstrap when a declared name is not in the config the factory gave', async () => {
    const { definition } = scriptedLLMProvider();
    const error = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRootAsync({ names: { llm: ['chta'] }, providers: [definition], useFactory: () => ({ configPath: [], env: {}, config: twoLLMs }) }),
      ],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(UnknownInstanceError);
  });

  it('reports config errors from the factory as one ProvidersConfigError', async () => {
    const error = await Test.createTestingModule({
      imports: [ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: { llm: { a: { type: 'nope' } } } }) })],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(ProvidersConfigError);
    expect((error as ProvidersConfigError).issues[0]).toMatchObject({ file: 'inline config', path: 'llm.a.type', message: 'Unknown llm type "nope".' });
  });
});

describe('default instances', () => {
  const openai = (model: string) => ({ type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', model });
  /** Two LLMs and nothing that picks one: the default LLM cannot be decided. */
  const undecided = { llm: { chat: openai('c'), b: openai('b') } };
  const noDefaultLLM =
    'No default LLM: there are 2 llm entries (chat, b), none is named "default" and defaults.llm is not set. Set defaults.llm, or inject by name.';

  const appWith = async (imports: unknown[], providers: unknown[] = [], controllers: unknown[] = []) => {
    @Module({ imports: imports as never, providers: providers as never, controllers: controllers as never })
    class AppModule {}
    return NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
  };
  const bootstrapError = (imports: unknown[], providers: unknown[] = [], controllers: unknown[] = []) =>
    appWith(imports, providers, controllers).then(
      async (app) => {
        await app.close();
        throw new Error('expected bootstrap to fail');
      },
      (err: unknown) => err,
    );
  const thrownBy = (use: () => unknown): unknown => {
    try {
      use();
    } catch (err) {
      return err;
    }
    throw new Error('expected a throw');
  };
  const expectNoDefault = (error: unknown, message: string) => {
    expect(error).toBeInstanceOf(NoDefaultInstanceError);
    expect((error as Error).message).toBe(message);
  };

  it("forRootAsync: app.get(LLM) and get(getLLMToken()) give the registry's default, one instance", async () => {
    const app = await appWith([
      ProvidersModule.forRootAsync({ useFactory: async () => ({ configPath: [], env: {}, config: { llm: { chat: openai('c') } } }) }),
    ]);
    const registry = app.get(ProvidersRegistry);
    expect(app.get(LLM)).toBe(registry.llm());
    expect(app.get(getLLMToken())).toBe(registry.llm('chat'));
    expect(app.get(LLM).model).toBe('c');
    await app.close();

    const moduleRef = await Test.createTestingModule({
      imports: [ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: { llm: { chat: openai('c') } } }) })],
    }).compile();
    expect(moduleRef.get(getLLMToken())).toBe(moduleRef.get(ProvidersRegistry).llm());
    await moduleRef.close();
  });

  it('forRootAsync: an undecidable default is a stand-in that fails with NoDefaultInstanceError on first use', async () => {
    const app = await appWith([ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: undecided }) })]);
    const standIn = app.get(LLM);
    expect(app.get(getLLMToken())).toBe(standIn);
    expectNoDefault(
      thrownBy(() => standIn.generate([{ role: 'user', content: 'x' }])),
      noDefaultLLM,
    );
    expectNoDefault(
      thrownBy(() => standIn.model),
      noDefaultLLM,
    );
    expectNoDefault(
      thrownBy(() => app.get(Embedder).embed('x')),
      'No default embedder: there is no embedding entry at all.',
    );
    // Named instances are unaffected; closing the app (lifecycle hooks) does not trip the stand-in.
    expect(app.get(ProvidersRegistry).llm('b').model).toBe('b');
    await app.close();
  });

  it('forRoot: an undecidable default is a stand-in too, not a scoped provider', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: undecided })] }).compile();
    expectNoDefault(
      thrownBy(() => moduleRef.get(LLM).generate([])),
      noDefaultLLM,
    );
    await moduleRef.close();
  });

  it('fails bootstrap when a service injects an undecidable default, naming the service', async () => {
    @Injectable()
    class SearchService {
      constructor(readonly llm: LLM) {}
    }
    expectNoDefault(
      await bootstrapError([ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: undecided }) })], [SearchService]),
      `${noDefaultLLM} (asked for by SearchService)`,
    );
    const compiling = await Test.createTestingModule({
      imports: [ProvidersModule.forRoot({ configPath: [], env: {}, config: undecided })],
      providers: [SearchService],
    })
      .compile()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expectNoDefault(compiling, `${noDefaultLLM} (asked for by SearchService)`);
  });

  it('names every provider, controller and factory that asks (by type, @InjectLLM(), inject, property), and skips @Optional()', async () => {
    @Injectable()
    class Decorated {
      constructor(@InjectLLM() readonly llm: LLM) {}
    }
    @Injectable()
    class Tolerant {
      constructor(@Optional() readonly llm?: LLM) {}
    }
    @Injectable()
    class ByProperty {
      @InjectLLM() readonly llm!: LLM;
    }
    @Controller()
    class AskController {
      constructor(readonly llm: LLM) {}
    }
    const answerer = { provide: 'answerer', useFactory: (llm: LLM) => llm, inject: [getLLMToken()] };
    const error = await bootstrapError(
      [ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: undecided }) })],
      [Decorated, Tolerant, answerer, ByProperty],
      [AskController],
    );
    expectNoDefault(error, `${noDefaultLLM} (asked for by Decorated, answerer, ByProperty, AskController)`);

    // Only @Optional() ones: bootstrap succeeds, and they get the stand-in.
    const app = await appWith([ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: undecided }) })], [Tolerant]);
    expectNoDefault(
      thrownBy(() => app.get(Tolerant).llm!.generate([])),
      noDefaultLLM,
    );
    await app.close();
  });

  it('does not blame a class that gets its LLM from a provider of its own module', async () => {
    const local = new FakeLLM({ name: 'local' });
    @Injectable()
    class UsesLocal {
      constructor(readonly llm: LLM) {}
    }
    @Module({ providers: [{ provide: LLM, useValue: local }, UsesLocal], exports: [UsesLocal] })
    class LocalModule {}
    const app = await appWith([ProvidersModule.forRootAsync({ useFactory: () => ({ configPath: [], env: {}, config: undecided }) }), LocalModule]);
    expect(app.get(UsesLocal).llm).toBe(local);
    await app.close();
  });
});

describe('rerankers and embedders through the module', () => {
  @Injectable()
  class Ranker {
    constructor(@InjectReranker() readonly reranker: Reranker) {}
  }

  it('splits a large document set at the service limit, merges, sorts, then applies threshold and topK', async () => {
    const { definition, drivers } = scriptedRerankerProvider(2);
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({ configPath: [], env: {}, providers: [definition], config: { reranker: { default: { type: 'scripted', model: 'r' } } } }),
      ],
      providers: [Ranker],
    }).compile();
    const docs = ['cat', 'cat cat cat', 'dog', 'cat cat', 'cat dog cat cat cat'];
    const ranker = module.get(Ranker).reranker;
    expect(await ranker.rerank('cat please', docs)).toEqual([
      { index: 4, score: 4, document: 'cat dog cat cat cat' },
      { index: 1, score: 3, document: 'cat cat cat' },
      { index: 3, score: 2, document: 'cat cat' },
      { index: 0, score: 1, document: 'cat' },
      { index: 2, score: 0, document: 'dog' },
    ]);
    expect(drivers.get('default')!.batches).toEqual([['cat', 'cat cat cat'], ['dog', 'cat cat'], ['cat dog cat cat cat']]);
    expect((await ranker.rerank('cat', docs, { threshold: 2, topK: 2 })).map((r) => r.index)).toEqual([4, 1]);
    expect((await ranker.rerank('cat', docs, { threshold: 1 })).map((r) => r.index)).toEqual([4, 1, 3, 0]);
    expect(await ranker.rerank('cat', [])).toEqual([]);
    await module.close();
  });

  it('embeds in batches of the service limit (or batchSize), in input order, and checks dimensions', async () => {
    const { definition, drivers } = scriptedEmbeddingProvider(3);
    const module = await Test.createTestingModule({
      imports: [
        ProvidersModule.forRoot({
          configPath: [],
          env: {},
          providers: [definition],
          config: { embedding: { docs: { type: 'scripted', model: 'e', dimensions: 4 }, small: { type: 'scripted', model: 'e', batchSize: 2 } } as never },
        }),
      ],
    }).compile();
    const registry = module.get(ProvidersRegistry);
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'g'];
    const result = await registry.embedder('docs').embed(texts);
    expect(result.embeddings.map((v) => v[0])).toEqual([1, 2, 3, 4, 5, 6, 1]);
    expect(result.embeddings.map((v) => v[1])).toEqual(texts.map((t) => t.charCodeAt(0)));
    expect(result).toMatchObject({ model: 'e', dimensions: 4, usage: { promptTokens: 7, totalTokens: 7 } });
    expect(drivers.get('docs')!.batches.map((b) => b.length)).toEqual([3, 3, 1]);

    await registry.embedder('small').embed(texts);
    expect(drivers.get('small')!.batches.map((b) => b.length)).toEqual([2, 2, 2, 1]);

    // No call for no input.
    const before = drivers.get('docs')!.batches.length;
    expect(await registry.embedder('docs').embed([])).toMatchObject({ embeddings: [], dimensions: 4 });
    expect(drivers.get('docs')!.batches.length).toBe(before);

    // A call's dimensions override the configured ones, and are sent.
    expect((await registry.embedder('docs').embed('x', { dimensions: 2 })).embeddings[0]).toHaveLength(2);
    expect(drivers.get('docs')!.dimensionsAsked.at(-1)).toBe(2);

    // A vector of another length than configured is an error, never returned.
    drivers.get('docs')!.answerLength = 5;
    drivers.get('docs')!.supportsDimensions = false;
    await expect(registry.embedder('docs').embed(['x'])).rejects.toMatchObject({
      name: 'ProviderError',
      code: 'dimensions',
      instance: 'docs',
      retryable: false,
      message:
        'embedding "docs" (scripted): returned vectors of 5 dimensions where 4 are configured. Fix "dimensions" (or the model), or the vectors will not match your index.',
    });
    await module.close();
  });
});
