// The gateway for `npm run bench`, in its own process (forked by scripts/bench.mjs): the built app's
// exported createApp() (dist/gateway/app.js), providers pointing at the fake upstream, docs and
// logging off, listening on 127.0.0.1:0. Sends { ready, url } to the parent; exits when the parent
// goes away (closing the app first), and after its lifetime whatever happens.
// argv[2]: JSON { baseURL, appPath }
import { pathToFileURL } from 'node:url';
import { libraryConfig } from './contenders.mjs';
import { childLifetime } from './util.mjs';

childLifetime(Number(process.env.BENCH_CHILD_LIFETIME_MS ?? 10 * 60_000));
const { baseURL, appPath } = JSON.parse(process.argv[2]);

try {
  const { createApp } = await import(pathToFileURL(appPath).href);
  const app = await createApp({ providers: { configPath: [], env: {}, config: libraryConfig(baseURL) }, docs: false }, { logger: false });
  await app.listen(0, '127.0.0.1');
  // getUrl() is Nest's own (express or fastify alike); the host is the one listened on.
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  process.removeAllListeners('disconnect');
  process.on('disconnect', () => {
    const forced = setTimeout(() => process.exit(0), 3_000);
    app.close().finally(() => {
      clearTimeout(forced);
      process.exit(0);
    });
  });
  process.send({ ready: true, url });
} catch (err) {
  process.send({ error: `gateway: ${err?.stack ?? err}` }, () => process.exit(1));
}
