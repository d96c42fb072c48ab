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

/** What is free right now, within what the node declared. */
export function measureUsage(dataDir: string, capabilities: NodeCapabilitiesV1): NodeUsageV1 {
  const disk = statfsSync(dataDir);
  return {
    cpuFree: Math.max(0, Math.round((capabilities.cpuCores - loadavg()[0]!) * 100) / 100),
    memoryFreeMiB: Math.min(capabilities.memoryMiB, Math.floor(freemem() / MiB)),
    diskFreeGiB: Math.min(capabilities.diskGiB, Math.floor((disk.bavail * disk.bsize) / GiB)),
  };
}
