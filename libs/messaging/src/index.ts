export { type GridConfig, DEFAULT_PORTS, embeddedStoreDir, loadConfig } from './config.js';
export { closeNats, connectNats, type ConnectNatsOptions, natsConnectedSince, natsLinkState, NatsUnreachableError } from './connect.js';
export { ensureStreams, type StreamOptions } from './streams.js';
export { Topology } from './topology.js';
export { Headers } from './headers.js';
export { extractTraceContext, injectTraceHeaders, traceContextOf } from './trace-headers.js';
export { Relay, type RelayOptions, type RelayState } from './relay.js';
export { type DeadLetter, DeadLetters } from './dead-letters.js';
export { recently } from './recently.js';
export { stateAt, type StateView } from './state-at.js';
export { type DeliveryPolicy, type DeliveryResult, deliverWebhook, SIGNATURE_HEADER, signBody, type WebhookRequest } from './webhooks.js';
export { type ConsumerOptions, type DeliveredEvent, EventConsumer, type EventHandler } from './consumer.js';
export {
  CommandClient,
  type CommandHandler,
  type CommandMetadata,
  CommandServer,
  type CommandServerOptions,
  type ReceivedCommand,
  type SendOptions,
  toCommandError,
} from './commands.js';
export {
  CommandContext,
  type ConsumerTuning,
  EventContext,
  type EventPatternExtras,
  MyceliumTransport,
  type MyceliumTransportOptions,
  PassErrorsToTransport,
} from './transport.js';
export {
  COMMAND_CLIENT,
  CONTRACT_REGISTRY,
  EVENT_STORE,
  InjectCommandClient,
  InjectEventStore,
  InjectLogger,
  NATS_CONNECTION,
  PROCESS_METRICS,
  SERVICE_INFO,
  SERVICE_LOGGER,
  SERVICE_METRICS,
  TOPOLOGY,
} from './tokens.js';
export { HealthController, type ServiceInfo } from './health.controller.js';
export {
  defineService,
  openRuntime,
  type OpenRuntimeOptions,
  type RunningService,
  type Runtime,
  type ServiceDefinition,
  startService,
  type StartServiceOptions,
} from './service.js';
export { type HostedGrid, hostServices, type HostServicesOptions, runServiceProcess, startupHint } from './process.js';
export { OnCommand, OnEvent, OnEvents } from './decorators.js';
