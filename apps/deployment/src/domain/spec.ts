import {
  type AppSpecV1,
  CommandRejection,
  DEFAULT_HEALTH,
  DEFAULT_STOP_GRACE_MS,
  DeploymentErrors,
  ErrorCodes,
  RESERVED_ENV,
  type StartReplica,
  type StoredAppSpecV1,
} from '@mycelium/contracts';
import type { SecretBox } from '@mycelium/identity';

const secretContext = (appId: string, name: string) => `${appId}/env/${name}`;

/**
 * The spec as the log keeps it: defaults filled in, secrets sealed. Refuses what no node could run
 * or what would clash with what the runtime sets, naming the field.
 */
export function storedSpec(spec: AppSpecV1, appId: string, secrets: SecretBox): StoredAppSpecV1 {
  if (spec.workload.image !== undefined) {
    throw new CommandRejection({
      code: DeploymentErrors.RuntimeUnavailable,
      message: 'no node of this grid offers a container runtime yet, so workload.image cannot run: give workload.command (argv run by the process runtime) instead',
      field: 'spec.workload.image',
    });
  }
  if (!spec.workload.command) {
    throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: 'workload.command is required: the argv the process runtime runs, e.g. ["node", "server.js"]', field: 'spec.workload.command' });
  }
  const env = spec.env ?? [];
  const seen = new Set<string>();
  for (const [index, variable] of env.entries()) {
    if (RESERVED_ENV.test(variable.name)) {
      throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: `${variable.name} is set by the runtime (PORT and MYCELIUM_*): choose another name`, field: `spec.env[${index}].name` });
    }
    if (seen.has(variable.name)) throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: `${variable.name} is given twice`, field: `spec.env[${index}].name` });
    seen.add(variable.name);
  }
  const health = { ...DEFAULT_HEALTH, ...spec.health };
  if (health.timeoutMs > health.intervalMs) {
    throw new CommandRejection({ code: ErrorCodes.ValidationFailed, message: 'health.timeoutMs must not exceed health.intervalMs', field: 'spec.health.timeoutMs' });
  }
  return {
    name: spec.name,
    version: spec.version,
    replicas: spec.replicas,
    workload: { command: spec.workload.command },
    resources: spec.resources,
    ports: spec.ports ?? [{ name: 'http', protocol: 'http' }],
    env: env.map((variable) => (variable.secret ? { name: variable.name, sealed: secrets.seal(variable.value, secretContext(appId, variable.name)) } : { name: variable.name, value: variable.value })),
    health,
    placement: spec.placement ?? {},
    strategy: spec.strategy ?? 'round-robin',
    stopGraceMs: spec.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
  };
}

/** What a node needs to run one replica, secrets opened. */
export function startMessage(app: { appId: string; tenant: string }, spec: StoredAppSpecV1, replicaId: string, secrets: SecretBox): StartReplica {
  return {
    replicaId,
    appId: app.appId,
    tenant: app.tenant,
    app: spec.name,
    version: spec.version,
    command: spec.workload.command ?? [],
    env: Object.fromEntries(spec.env.map((variable) => [variable.name, variable.sealed ? secrets.open(variable.sealed, secretContext(app.appId, variable.name)) : (variable.value ?? '')])),
    health: { path: spec.health.path, intervalMs: spec.health.intervalMs, timeoutMs: spec.health.timeoutMs, failureThreshold: spec.health.failureThreshold },
    resources: spec.resources,
    stopGraceMs: spec.stopGraceMs,
  };
}
