export { type CloudEvent, type LoggedEvent, parseCloudEvent, toCloudEvent } from './envelope.js';
export {
  type CommandError,
  type CommandReply,
  CommandRejection,
  ContractViolation,
  ErrorCodes,
} from './errors.js';
export {
  commandSubject,
  deadLetterSubject,
  eventSubject,
  eventType,
  isNameToken,
  parseEventType,
  parseStreamId,
  streamId,
  subjectToken,
} from './naming.js';
export {
  type CommandDefinition,
  type ContractDefinition,
  ContractRegistry,
  type DecodedEvent,
  defineCommand,
  defineEvent,
  type EventDefinition,
  type TypedEventDefinition,
  type Upcaster,
  validatePayload,
} from './registry.js';
export { type JsonSchema, payloadSchemas, schemaOf } from './schema.js';
export { type AsyncApiInfo, buildAsyncApi } from './asyncapi.js';
export { renderContractArtifacts } from './artifacts.js';
export {
  INSTANCE_STOP_REASONS,
  instanceLifecycle,
  type InstanceLifecycleContracts,
  InstanceStartedV1,
  InstanceStoppedV1,
} from './platform/instance-lifecycle.v1.js';
export { type AggregateAt, LOG_POINT, type StateAt, StateAtV1, STATEFUL_SERVICES, type StatefulService, stateAtOf } from './platform/state-at.command.js';
export { GRID_SERVICES, type GridService, gridContracts, gridRegistry, lifecycleOf } from './services.js';
export * from './spores/index.js';
export * from './gateway/index.js';
export * from './deployment/index.js';
export * from './billing/index.js';
export * from './healing/index.js';
export * from './consensus/index.js';
export { CREDIT_AMOUNT, DEFAULT_TENANT, IsCreditAmount, IsTenant, TENANT } from './tenancy.js';
