import { stringify } from 'yaml';
import { buildAsyncApi } from './asyncapi.js';
import type { ContractRegistry } from './registry.js';
import { schemaOf } from './schema.js';

export const ASYNCAPI_FILE = 'asyncapi.yaml';
export const SCHEMAS_DIR = 'schemas';

const GENERATED = '# Generated from the contract classes by `npm run contracts:generate`; do not edit.\n';

/** The documents generated from `registry`, keyed by path relative to `contracts/`. */
export function renderContractArtifacts(registry: ContractRegistry, version: string): Map<string, string> {
  const files = new Map<string, string>();
  const asyncapi = buildAsyncApi(registry, {
    title: 'Mycelium grid events and commands',
    version,
    description:
      'Every fact the grid records is published as a CloudEvent on the JetStream stream MYCELIUM_EVENTS, ' +
      'subject evt.<service>.<aggregate>.<event>. Commands are NATS request/reply on cmd.<service>.<command>.',
  });
  files.set(ASYNCAPI_FILE, GENERATED + stringify(asyncapi, { lineWidth: 0 }));
  for (const definition of [...registry.events(), ...registry.commands()]) {
    const name = definition.kind === 'event' ? definition.type : `${definition.subject}.v${definition.version}`;
    files.set(`${SCHEMAS_DIR}/${name}.json`, `${JSON.stringify(schemaOf(definition), null, 2)}\n`);
  }
  return files;
}
