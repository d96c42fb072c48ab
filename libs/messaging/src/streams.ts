import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Topology } from './topology.js';

export interface StreamOptions {
  /** How long JetStream keeps events; the event store keeps them forever. Default 7 days. */
  eventsMaxAgeMs?: number;
  /** Window in which a republished event id is recognised and dropped. Default 10 minutes. */
  duplicateWindowMs?: number;
  /** Copies of each message in a NATS cluster; 1 on a single server. */
  replicas?: number;
}

const DAY = 24 * 60 * 60 * 1000;

/** Creates (or updates) the JetStream streams of the grid: events and dead letters. */
export async function ensureStreams(jsm: JetStreamManager, topology: Topology, options: StreamOptions = {}): Promise<void> {
  await ensureStream(jsm, {
    name: topology.eventsStream,
    subjects: [topology.subject('evt.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(options.eventsMaxAgeMs ?? 7 * DAY),
    duplicate_window: nanos(options.duplicateWindowMs ?? 10 * 60 * 1000),
    num_replicas: options.replicas ?? 1,
  });
  await ensureStream(jsm, {
    name: topology.deadLetterStream,
    subjects: [topology.subject('dlq.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(30 * DAY),
    num_replicas: options.replicas ?? 1,
  });
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Another process may have created it between our look and our add; then it exists now.
      await jsm.streams.info(config.name).catch(() => {
        throw addError;
      });
    }
  }
}
