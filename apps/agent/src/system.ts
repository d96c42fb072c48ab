import { availableParallelism, freemem, loadavg, totalmem } from 'node:os';
import { statfsSync } from 'node:fs';
import type { NodeCapabilitiesV1, NodeUsageV1 } from '@mycelium/contracts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface CapabilityOverrides {
  cpuCores?: number;
  memoryMiB?: number;
  diskGiB?: number;
  region: string;
  tags: string[];
  agentVersion: string;
}

/** What this machine offers: measured, unless the operator says otherwise. */
export function measureCapabilities(dataDir: string, overrides: CapabilityOverrides): NodeCapabilitiesV1 {
  const disk = statfsSync(dataDir);
  return {
    cpuCores: overrides.cpuCores ?? availableParallelism(),
    memoryMiB: overrides.memoryMiB ?? Math.floor(totalmem() / MiB),
    diskGiB: overrides.diskGiB ?? Math.floor((disk.blocks * disk.bsize) / GiB),
    region: overrides.region,
    tags: overrides.tags,
    agentVersion: overrides.agentVersion,
  };
}

export interface UsageMeasurement {
  usage: NodeUsageV1;
  /** The measures that failed this time, and why: their values are the last known ones. */
  failed: { measure: keyof NodeUsageV1; error: unknown }[];
}

/**
 * What is free right now, within what the node declared. A measure that fails (the data dir's
 * file system gone, say) keeps its last known value, or 0 when there is none: nothing is known to
 * be free. The heartbeat still goes out; it is what tells the grid the node lives.
 */
export function measureUsage(dataDir: string, capabilities: NodeCapabilitiesV1, lastKnown?: NodeUsageV1): UsageMeasurement {
  const failed: UsageMeasurement['failed'] = [];
  const measure = (name: keyof NodeUsageV1, read: () => number): number => {
    try {
      return read();
    } catch (error) {
      failed.push({ measure: name, error });
      return lastKnown?.[name] ?? 0;
    }
  };
  const usage: NodeUsageV1 = {
    cpuFree: measure('cpuFree', () => Math.max(0, Math.round((capabilities.cpuCores - loadavg()[0]!) * 100) / 100)),
    memoryFreeMiB: measure('memoryFreeMiB', () => Math.min(capabilities.memoryMiB, Math.floor(freemem() / MiB))),
    diskFreeGiB: measure('diskFreeGiB', () => {
      const disk = statfsSync(dataDir);
      return Math.min(capabilities.diskGiB, Math.floor((disk.bavail * disk.bsize) / GiB));
    }),
  };
  return { usage, failed };
}
