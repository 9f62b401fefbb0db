import { createServer, type Server } from 'node:http';

/** The fictional Acme Rerank API of the guide: POST /v1/score {model, query, candidates} → {scores}. */
export async function startAcme(): Promise<{ url: string; requests: Array<{ headers: Record<string, unknown>; body: any }>; close: () => Promise<void> }> {
  const requests: Array<{ headers: Record<string, unknown>; body: any }> = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method !== 'POST' || req.url !== '/v1/score') return void res.writeHead(404).end('{"message":"not found"}');
      if (req.headers['x-acme-key'] !== 'acme-secret-key') return void res.writeHead(401).end('{"message":"bad key"}');
      const body = JSON.parse(raw) as { query: string; candidates: string[] };
      requests.push({ headers: req.headers, body });
      if (body.candidates.length > 50) return void res.writeHead(400).end('{"message":"too many candidates"}');
      // Score: how many letters of the query the candidate contains.
      const scores = body.candidates.map((c) => [...new Set(body.query)].filter((ch) => c.includes(ch)).length);
      res.end(JSON.stringify({ scores }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
