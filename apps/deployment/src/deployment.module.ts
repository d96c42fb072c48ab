import { type DynamicModule, Module } from '@nestjs/common';
import { AgentLink } from './agents/agent-link.js';
import { ReplicaObservations } from './agents/replica-observations.js';
import { DEPLOYMENT_CONFIG, type DeploymentConfig, deploymentConfigFromEnv } from './deployment.config.js';
import { AppDirectory } from './directory/app-directory.js';
import { AppsHandlers } from './handlers/apps.handlers.js';
import { StateHandlers } from './handlers/state.handlers.js';
import { SagaRunner } from './saga/saga-runner.js';

/** Applications, their replicas and the deploy saga. */
@Module({})
export class DeploymentModule {
  /** With `config`, or read from the environment when the service starts. */
  static forRoot(config?: DeploymentConfig): DynamicModule {
    return {
      module: DeploymentModule,
      controllers: [AppsHandlers, StateHandlers],
      providers: [
        config ? { provide: DEPLOYMENT_CONFIG, useValue: config } : { provide: DEPLOYMENT_CONFIG, useFactory: () => deploymentConfigFromEnv() },
        AppDirectory,
        ReplicaObservations,
        AgentLink,
        SagaRunner,
      ],
      exports: [AppDirectory, SagaRunner],
    };
  }
}
