import { request } from 'node:http';

export interface HealthResult {
  ok: boolean;
  /** Something answered HTTP on the port, whatever it said. */
  listening: boolean;
  /** Why the check failed, in words. */
  reason?: string;
}

/**
 * One HTTP GET of `path` on the replica's port: any 2xx or 3xx passes. node:http rather than fetch,
 * which would load undici into the agent (docs/adr/0012).
 */
export function checkHealth(port: number, path: string, timeoutMs: number, host = '127.0.0.1'): Promise<HealthResult> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const settle = (result: HealthResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request({ host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'mycelium-agent' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      settle(status >= 200 && status < 400 ? { ok: true, listening: true } : { ok: false, listening: true, reason: `GET ${path} answered ${status}` });
      req.destroy();
    });
    const timer = setTimeout(() => {
      settle({ ok: false, listening: connected, reason: `GET ${path} did not answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    req.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, listening: false, reason: `GET ${path} failed: ${error.code ?? error.message}` }));
    req.end();
  });
}
