import { type CanActivate, type ExecutionContext, Injectable, SetMetadata, UnauthorizedException, ForbiddenException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiKeyScope } from '@mycelium/contracts';
import { type ApiKeyHolder, ApiKeys } from './api-keys.js';

const SCOPES = 'mycelium:scopes';

/** The scope a route needs (an `admin` key has every scope). */
export const RequiresScope = (scope: ApiKeyScope) => SetMetadata(SCOPES, scope);

/** Every request to a scoped route needs `Authorization: Bearer <api key>` with that scope. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeys,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const scope = this.reflector.get<ApiKeyScope | undefined>(SCOPES, context.getHandler());
    if (!scope) return true;
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; apiKey?: ApiKeyHolder }>();
    const header = request.headers.authorization ?? '';
    const holder = header.startsWith('Bearer ') ? this.keys.check(header.slice(7).trim()) : undefined;
    if (!holder) {
      throw new UnauthorizedException({
        error: { code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <api key>; `npm start` prints an admin key and keeps it in .mycelium/credentials.json' },
      });
    }
    if (!holder.scopes.includes('admin') && !holder.scopes.includes(scope)) {
      throw new ForbiddenException({ error: { code: 'FORBIDDEN', message: `this key lacks the ${scope} scope` } });
    }
    request.apiKey = holder;
    return true;
  }
}
