import { Inject } from '@nestjs/common';

/** DI tokens the service host provides to every service module. */
export const EVENT_STORE = Symbol('mycelium:event-store');
export const NATS_CONNECTION = Symbol('mycelium:nats-connection');
export const COMMAND_CLIENT = Symbol('mycelium:command-client');
export const CONTRACT_REGISTRY = Symbol('mycelium:contract-registry');
export const SERVICE_METRICS = Symbol('mycelium:service-metrics');
export const PROCESS_METRICS = Symbol('mycelium:process-metrics');
export const SERVICE_LOGGER = Symbol('mycelium:service-logger');
export const SERVICE_INFO = Symbol('mycelium:service-info');
export const TOPOLOGY = Symbol('mycelium:topology');

export const InjectEventStore = (): ParameterDecorator => Inject(EVENT_STORE);
export const InjectCommandClient = (): ParameterDecorator => Inject(COMMAND_CLIENT);
export const InjectLogger = (): ParameterDecorator => Inject(SERVICE_LOGGER);
