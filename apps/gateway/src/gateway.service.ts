import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { gatewayContracts } from '@mycelium/contracts';
import { defineService } from '@mycelium/messaging';
import { GatewayModule } from './gateway.module.js';
import { HttpErrorsFilter } from './http/errors.filter.js';

/** The OpenAPI document of the REST API, served at /docs (and /docs-json). */
export function describeApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Mycelium')
      .setDescription('The grid’s REST API. Every /v1 request needs `Authorization: Bearer <api key>`; `npm start` prints an admin key.')
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an API key: myc_<key id>_<secret>' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}

/** The HTTP app before it listens: one error body everywhere, a 1 MB body limit, the OpenAPI page. */
export function configureGateway(app: INestApplication): void {
  (app as NestExpressApplication).useBodyParser('json', { limit: '1mb' });
  app.useGlobalFilters(new HttpErrorsFilter());
  describeApi(app);
}

export const gatewayService = defineService({ name: 'gateway', module: GatewayModule, contracts: gatewayContracts, configure: configureGateway });
