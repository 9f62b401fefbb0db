// A fresh Nest 12 project's entry point, using @hush/providers as an installed package would.
import 'reflect-metadata';
import { createServer } from 'node:http';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Embedder, InjectEmbedder, InjectLLM, LLM, ProvidersModule } from '@hush/providers';

@Injectable()
class Assistant {
  constructor(
    @InjectLLM('chat') readonly chat: LLM,
    @InjectEmbedder('docs') readonly docs: Embedder,
  ) {}
}

// A one-route OpenAI stand-in, so the call below goes over real HTTP through the package's openai client.
const upstream = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: `pong from ${req.url}` }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    }),
  );
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
process.env.UPSTREAM_PORT = String((upstream.address() as { port: number }).port);

// forRoot() reads the YAML when the module is defined, so the module comes after the variable is set.
@Module({ imports: [ProvidersModule.forRoot()], providers: [Assistant] })
class AppModule {}

const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error'], abortOnError: false });
const assistant = app.get(Assistant);
const answer = await assistant.chat.generate([{ role: 'user', content: 'ping' }]);
console.log(
  JSON.stringify({
    chat: [assistant.chat.name, assistant.chat.type, assistant.chat.model],
    docs: [assistant.docs.name, assistant.docs.type, assistant.docs.model, assistant.docs.dimensions],
    answer: answer.choices[0]?.message.content,
  }),
);
await app.close();
upstream.close();
