// The smallest app the grid runs: who answered (replica, app, version, host, pid) as JSON on GET /,
// and a health check on GET /healthz. No dependencies, so any node can run it from this one file.
//   PORT                 where to listen (the agent sets it)
//   HELLO_HEALTHY=false  /healthz answers 503 forever: a version whose health check never passes
//   HELLO_CRASH=1        exits at once with code 1: a version that crashes on start
import { createServer } from 'node:http';
import { hostname } from 'node:os';

if (process.env.HELLO_CRASH === '1') {
  console.error('hello: HELLO_CRASH=1, exiting at once');
  process.exit(1);
}

const healthy = process.env.HELLO_HEALTHY !== 'false';
const port = Number(process.env.PORT ?? 8080);
const identity = {
  replica: process.env.MYCELIUM_REPLICA_ID ?? null,
  app: process.env.MYCELIUM_APP ?? 'hello',
  version: process.env.MYCELIUM_APP_VERSION ?? null,
  hostname: hostname(),
  pid: process.pid,
};

const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://hello').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET' });
  if (path === '/healthz') return healthy ? send(res, 200, { status: 'ok' }) : send(res, 503, { status: 'unhealthy', reason: 'HELLO_HEALTHY=false' });
  if (path === '/') return send(res, 200, identity);
  return send(res, 404, { error: `no route ${path}` });
});

server.listen(port, () => console.log(`hello: replica ${identity.replica} of ${identity.app} ${identity.version} listening on ${port}`));

// Finish what is in flight, then go: the agent sends SIGTERM and waits its grace before SIGKILL.
const stop = (signal) => {
  console.log(`hello: ${signal}, stopping`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
