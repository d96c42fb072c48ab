import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ProbeOptions {
  /** Wait for an answer per try. */
  timeoutMs: number;
  tries: number;
}

export const DEFAULT_PROBE: ProbeOptions = { timeoutMs: 1000, tries: 2 };

/**
 * Is the node behind this gossip address up? Any HTTP answer says its process runs (the gossip
 * server answers 404 to a GET): 'up'. Refused, reset or silent on every try: 'down'. A node that
 * lost the control plane but still answers its peers is up, which is the point of asking them.
 */
export async function probeLiveness(address: string, options: ProbeOptions = DEFAULT_PROBE): Promise<'up' | 'down'> {
  for (let attempt = 0; attempt < options.tries; attempt += 1) {
    if (await answers(address, options.timeoutMs)) return 'up';
  }
  return 'down';
}

/** Plain node:http(s), as gossip does: fetch would load undici into every agent (docs/adr/0012). */
function answers(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      resolve(false);
      return;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'GET', timeout: timeoutMs, agent: false, headers: { connection: 'close' } }, (response) => {
      response.resume();
      resolve(true);
    });
    request.on('timeout', () => request.destroy(new Error(`${address} did not answer within ${timeoutMs} ms`)));
    request.on('error', () => resolve(false));
    request.end();
  });
}
