import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadNetwork, type Network, networkExists } from '@mycelium/identity';
import { CommandClient, connectNats, NatsUnreachableError, Topology } from '@mycelium/messaging';

/** Where the local grid keeps its state (MYCELIUM_HOME, default ./.mycelium). */
export function gridHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MYCELIUM_HOME || '.mycelium');
}

export function networkDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MYCELIUM_NETWORK_DIR ? resolve(env.MYCELIUM_NETWORK_DIR) : join(gridHome(env), 'network');
}

/** What `myc up` wrote about the grid it runs. */
export interface GridFile {
  pid: number;
  natsUrl?: string;
  namespace?: string;
  services?: Record<string, string>;
  gateway?: string;
  /** The ingress' base URL. */
  ingress?: string;
  starting?: boolean;
}

export function readGridFile(home = gridHome()): GridFile | undefined {
  const file = join(home, 'grid.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GridFile) : undefined;
}

export function readNetwork(): Network | undefined {
  const dir = networkDir();
  return networkExists(dir) ? loadNetwork(dir) : undefined;
}

/** The grid's NATS as this machine knows it: NATS_URL, or the running local grid's. */
export function natsTarget(): { url: string; namespace: string } {
  const grid = readGridFile();
  return {
    url: process.env.NATS_URL || grid?.natsUrl || 'nats://127.0.0.1:4222',
    namespace: process.env.MYCELIUM_NAMESPACE ?? grid?.namespace ?? '',
  };
}

/** A connection to the grid with the operator's (services') credentials, and a command client. */
export async function connectToGrid(): Promise<{ nc: NatsConnection; client: CommandClient; close(): Promise<void> }> {
  const target = natsTarget();
  let nc: NatsConnection;
  try {
    nc = await connectNats({ url: target.url, name: 'myc', timeoutMs: 3000, creds: readNetwork()?.servicesCreds });
  } catch (error) {
    if (error instanceof NatsUnreachableError) {
      throw new Error(`no grid answers at ${target.url}: start one with \`npm start\` (myc up), or set NATS_URL`);
    }
    throw error;
  }
  return { nc, client: new CommandClient(nc, new Topology(target.namespace)), close: () => nc.close() };
}

/** `90s`, `30m`, `24h`, `7d` → seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`${text} is not a duration: use a number with s, m, h or d, e.g. 24h`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
}

/**
 * The gateway and an API key to call it with: MYCELIUM_GATEWAY and MYCELIUM_API_KEY, else the
 * running local grid's gateway and the admin key `myc up` keeps in credentials.json.
 */
export function readCredentials(home = gridHome()): { gateway: string; apiKey: string } | undefined {
  const file = join(home, 'credentials.json');
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { apiKey?: string; gateway?: string }) : {};
  const apiKey = process.env.MYCELIUM_API_KEY || saved.apiKey;
  const gateway = process.env.MYCELIUM_GATEWAY || readGridFile(home)?.gateway || saved.gateway;
  return apiKey && gateway ? { gateway: gateway.replace(/\/$/, ''), apiKey } : undefined;
}
