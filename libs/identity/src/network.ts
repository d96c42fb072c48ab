import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, writeFileAtomically, writeSecretFile } from './files.js';
import { generateKeyMaterial, networkIdOf, Signer } from './keys.js';
import { createNatsAuthority, NatsAuthority, type NatsAuthorityPublic, type NatsAuthoritySeeds } from './nats-authority.js';

/** What anyone may know about a network. */
export interface NetworkInfo {
  networkId: string;
  publicKey: string;
  createdAt: string;
  /** Present on networks whose NATS runs in operator mode (secured). */
  nats?: NatsAuthorityPublic;
}

/** A network as its operator holds it: the public facts, and the keys when this process has them. */
export interface Network {
  info: NetworkInfo;
  dir: string;
  /** Signs join tokens and seed snapshots; absent where only the public part was copied. */
  signer?: Signer;
  nats?: NatsAuthority;
  /** Credentials the grid's services connect to NATS with (secured networks). */
  servicesCreds?: string;
}

const FILES = {
  info: 'network.json',
  key: 'network.key',
  natsSeeds: 'nats-seeds.json',
  servicesCreds: 'services.creds',
};

export class NetworkExistsError extends Error {
  constructor(dir: string) {
    super(`a network already exists in ${dir}: use it, or remove that directory to start a new one`);
    this.name = 'NetworkExistsError';
  }
}

export class NoNetworkError extends Error {
  constructor(dir: string) {
    super(`no network in ${dir}: create one with \`myc network init\``);
    this.name = 'NoNetworkError';
  }
}

/** Creates a network: its Ed25519 key and, when secured, its NATS operator, account and service credentials. */
export async function initNetwork(dir: string, options: { secured?: boolean } = {}): Promise<Network> {
  if (existsSync(join(dir, FILES.info))) throw new NetworkExistsError(dir);
  const key = generateKeyMaterial();
  const info: NetworkInfo = { networkId: networkIdOf(key.publicKey), publicKey: key.publicKey, createdAt: new Date().toISOString() };
  writeSecretFile(join(dir, FILES.key), key.privateKeyPem);
  let servicesCreds: string | undefined;
  let nats: NatsAuthority | undefined;
  if (options.secured ?? true) {
    const authority = await createNatsAuthority();
    info.nats = authority.public;
    nats = new NatsAuthority(authority.public, authority.seeds);
    writeSecretFile(join(dir, FILES.natsSeeds), `${JSON.stringify(authority.seeds, null, 2)}\n`);
    servicesCreds = await nats.issueCreds('services');
    writeSecretFile(join(dir, FILES.servicesCreds), servicesCreds);
  }
  writeFileAtomically(join(dir, FILES.info), `${JSON.stringify(info, null, 2)}\n`);
  return { info, dir, signer: Signer.fromPem(key.privateKeyPem), nats, servicesCreds };
}

export function networkExists(dir: string): boolean {
  return existsSync(join(dir, FILES.info));
}

/** Loads a network, with whatever keys are present in `dir`. */
export function loadNetwork(dir: string): Network {
  if (!networkExists(dir)) throw new NoNetworkError(dir);
  const info = readJson<NetworkInfo>(join(dir, FILES.info));
  const keyFile = join(dir, FILES.key);
  const seedsFile = join(dir, FILES.natsSeeds);
  const credsFile = join(dir, FILES.servicesCreds);
  const signer = existsSync(keyFile) ? Signer.fromPem(readSecret(keyFile)) : undefined;
  const nats = info.nats
    ? new NatsAuthority(info.nats, existsSync(seedsFile) ? readJson<NatsAuthoritySeeds>(seedsFile) : undefined)
    : undefined;
  const servicesCreds = existsSync(credsFile) ? readSecret(credsFile) : undefined;
  return { info, dir, signer, nats, servicesCreds };
}

function readSecret(path: string): string {
  return readFileSync(path, 'utf8');
}
