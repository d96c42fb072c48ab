import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  ServiceUnavailableException,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiKeyScope } from '@mycelium/contracts';
import { HealthController } from '@mycelium/messaging';
import { type ApiKeyHolder, ApiKeys } from './api-keys.js';

const SCOPES = 'mycelium:scopes';
const PUBLIC = 'mycelium:public';
/** How long a request waits, at startup, for the keys to be loaded before it is told to retry. */
export const KEYS_READY_WAIT_MS = 5000;

/** The scope a route needs (an `admin` key has every scope). */
export const RequiresScope = (scope: ApiKeyScope) => SetMetadata(SCOPES, scope);

/** A route anyone may call, without a key. */
export const Public = () => SetMetadata(PUBLIC, true);

interface Request {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  apiKey?: ApiKeyHolder;
}

/**
 * Guards every HTTP route of the gateway: a route needs `Authorization: Bearer <api key>` with the
 * scope it declares. A route that declares neither a scope nor `@Public()` is closed, so a
 * forgotten decorator cannot open one. Public: /healthz and /metrics (the service host's, for
 * orchestrators and Prometheus), /readyz, and /docs (served outside Nest's routing).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeys,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Commands over NATS (issuing keys) are authorized by the bus: only operator credentials reach them.
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (context.getClass() === HealthController || this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const scope = this.reflector.getAllAndOverride<ApiKeyScope | undefined>(SCOPES, targets);
    if (!scope) {
      throw new ForbiddenException({
        error: { code: 'FORBIDDEN', message: `${request.method} ${request.url.split('?')[0]} declares no scope, so no key may call it: report this gateway bug` },
      });
    }
    const header = request.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) throw unauthenticated();
    if (!(await this.keys.whenReady(KEYS_READY_WAIT_MS))) {
      context.switchToHttp().getResponse<{ setHeader(name: string, value: string): void }>().setHeader('Retry-After', '5');
      throw new ServiceUnavailableException({
        error: {
          code: 'SERVICE_UNAVAILABLE',
          message: 'the gateway is still loading API keys from the event store: retry in a few seconds (GET /readyz answers 200 once it can check keys)',
        },
      });
    }
    const holder = this.keys.check(header.slice(7).trim());
    if (!holder) throw unauthenticated();
    if (!holder.scopes.includes('admin') && !holder.scopes.includes(scope)) {
      throw new ForbiddenException({ error: { code: 'FORBIDDEN', message: `this key lacks the ${scope} scope` } });
    }
    request.apiKey = holder;
    return true;
  }
}

function unauthenticated(): UnauthorizedException {
  return new UnauthorizedException({
    error: { code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <api key>; `npm start` prints an admin key and keeps it in .mycelium/credentials.json' },
  });
}
