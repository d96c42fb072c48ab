import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyMaterial, newNatsUserKey, nodeIdOf, Signer, writeSecretFile } from '@mycelium/identity';

/** A node's own keys: the Ed25519 identity it signs with, and the key of its NATS user. */
export interface NodeIdentity {
  nodeId: string;
  signer: Signer;
  publicKey: string;
  nats: { publicKey: string; seed: string };
}

export function newNodeIdentity(): NodeIdentity {
  const key = generateKeyMaterial();
  const signer = Signer.fromPem(key.privateKeyPem);
  return { nodeId: nodeIdOf(signer.publicKey), signer, publicKey: signer.publicKey, nats: newNatsUserKey() };
}

interface StoredIdentity {
  privateKeyPem: string;
  nats: { publicKey: string; seed: string };
}

/** Loads the node's keys from `dataDir`, creating them on first start (files only the owner reads). */
export function loadOrCreateNodeIdentity(dataDir: string): NodeIdentity {
  const file = join(dataDir, 'node-key.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredIdentity;
    const signer = Signer.fromPem(stored.privateKeyPem);
    return { nodeId: nodeIdOf(signer.publicKey), signer, publicKey: signer.publicKey, nats: stored.nats };
  }
  const key = generateKeyMaterial();
  const nats = newNatsUserKey();
  writeSecretFile(file, `${JSON.stringify({ privateKeyPem: key.privateKeyPem, nats } satisfies StoredIdentity, null, 2)}\n`);
  const signer = Signer.fromPem(key.privateKeyPem);
  return { nodeId: nodeIdOf(signer.publicKey), signer, publicKey: signer.publicKey, nats };
}
