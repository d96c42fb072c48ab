import { type DynamicModule, Module } from '@nestjs/common';
import { AlertHandlers } from './handlers/alert.handlers.js';
import { FactHandlers } from './handlers/fact.handlers.js';
import { IncidentHandlers } from './handlers/incident.handlers.js';
import { StateHandlers } from './handlers/state.handlers.js';
import { HEALING_CONFIG, type HealingConfig, healingConfigFromEnv } from './healing.config.js';
import { Incidents } from './incidents/incidents.js';
import { Reconciler } from './reconciler/reconciler.js';

/** Incidents: watching the grid and repairing what fails, through the owning services' commands. */
@Module({})
export class HealingModule {
  /** With `config`, or read from the environment when the service starts. */
  static forRoot(config?: HealingConfig): DynamicModule {
    return {
      module: HealingModule,
      controllers: [FactHandlers, AlertHandlers, IncidentHandlers, StateHandlers],
      providers: [
        config ? { provide: HEALING_CONFIG, useValue: config } : { provide: HEALING_CONFIG, useFactory: () => healingConfigFromEnv() },
        Incidents,
        Reconciler,
      ],
    };
  }
}
