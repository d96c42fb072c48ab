import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import type { ContractDefinition } from './registry.js';

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schemas of every class-validator class loaded in this process, keyed by class name, with
 * `$ref`s pointing at `refPrefix<ClassName>`. They are generated from the same decorators that
 * validate messages, so the documentation cannot drift from the checks.
 */
export function payloadSchemas(refPrefix = '#/components/schemas/'): Record<string, JsonSchema> {
  return validationMetadatasToSchemas({
    classTransformerMetadataStorage: defaultMetadataStorage,
    refPointerPrefix: refPrefix,
  }) as Record<string, JsonSchema>;
}

/**
 * The JSON Schema of one contract's payload; nested classes are inlined under `$defs`. Pass `all`
 * (payloadSchemas('#/$defs/')) when making many: computing it is most of the cost.
 */
export function schemaOf(definition: ContractDefinition, all: Record<string, JsonSchema> = payloadSchemas('#/$defs/')): JsonSchema {
  const root = all[definition.payload.name];
  if (!root) throw new Error(`no validation rules found for ${definition.payload.name}`);
  // Inline every class the root refers to, directly or through another nested class.
  const defs: Record<string, JsonSchema> = {};
  const pending = [root];
  while (pending.length > 0) {
    const text = JSON.stringify(pending.pop());
    for (const [, name] of text.matchAll(/"#\/\$defs\/([^"]+)"/g)) {
      if (name && !defs[name] && all[name]) {
        defs[name] = all[name];
        pending.push(all[name]);
      }
    }
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://mycelium.dev/schemas/${definition.kind === 'event' ? definition.type : `${definition.subject}.v${definition.version}`}.json`,
    title: definition.payload.name,
    description: definition.description,
    ...root,
    ...(Object.keys(defs).length > 0 ? { $defs: defs } : {}),
  };
}
