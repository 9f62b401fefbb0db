import { bootstrap } from './app.js';

// The whole of `npm start`; tests use createApp() from app.ts instead.
try {
  await bootstrap();
} catch (err) {
  // A ProvidersConfigError lists every config problem (file, line, key path) in its message.
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
}
