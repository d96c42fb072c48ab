import { type DynamicModule, Module } from '@nestjs/common';
import { NetworkHandlers } from './handlers/network.handlers.js';
import { StateHandlers } from './handlers/state.handlers.js';
import { NodesHandlers } from './handlers/nodes.handlers.js';
import { Leadership } from './leadership/leadership.js';
import { LivenessMonitor } from './leadership/liveness-monitor.js';
import { AgentProtocol } from './protocol/agent-protocol.js';
import { SecurityLog } from './protocol/security-log.js';
import { NodeCommands } from './registry/node-commands.js';
import { NodeRegistry } from './registry/node-registry.js';
import { SeedExporter } from './seed/seed-exporter.js';
import { SPORES_CONFIG, type SporesConfig, sporesConfigFromEnv } from './spores.config.js';

/** Discovery and node identity: the registry of the grid's nodes and the three spores. */
@Module({})
export class SporesModule {
  /** With `config`, or read from the environment when the service starts. */
  static forRoot(config?: SporesConfig): DynamicModule {
    return {
      module: SporesModule,
      controllers: [NodesHandlers, NetworkHandlers, StateHandlers],
      providers: [
        config ? { provide: SPORES_CONFIG, useValue: config } : { provide: SPORES_CONFIG, useFactory: () => sporesConfigFromEnv() },
        NodeRegistry,
        NodeCommands,
        Leadership,
        LivenessMonitor,
        SecurityLog,
        AgentProtocol,
        SeedExporter,
      ],
      exports: [NodeRegistry, SeedExporter, LivenessMonitor, Leadership],
    };
  }
}
