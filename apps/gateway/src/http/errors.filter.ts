import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';

interface Response {
  headersSent: boolean;
  status(code: number): Response;
  json(body: unknown): void;
}

const CODES: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * Every error the REST API answers has one body: `{ error: { code, message, field? } }`. Errors we
 * raise have it already; Nest's own (an unknown route, a body that is not JSON or is too large)
 * are put in the same shape, with a message that says what to do.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) return;
    const status = exception instanceof HttpException ? exception.getStatus() : statusOf(exception);
    const body = exception instanceof HttpException ? exception.getResponse() : undefined;
    if (body && typeof body === 'object' && 'error' in body && typeof (body as { error: unknown }).error === 'object') {
      response.status(status).json(body);
      return;
    }
    response.status(status).json({ error: { code: CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'), message: messageOf(status, exception) } });
  }
}

function statusOf(exception: unknown): number {
  const status = (exception as { status?: unknown; statusCode?: unknown })?.status ?? (exception as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function messageOf(status: number, exception: unknown): string {
  if (status === 413) return 'the request body is too large (at most 1 MB): send a smaller one';
  if (status === 400 && /JSON/i.test(String((exception as Error)?.message))) return `the body is not valid JSON: ${(exception as Error).message}`;
  if (status === 404) return 'no such route: see /docs for the API';
  if (status >= 500) return 'the gateway failed to answer; the error is in its log';
  const response = exception instanceof HttpException ? exception.getResponse() : undefined;
  const message = typeof response === 'object' && response && 'message' in response ? (response as { message: unknown }).message : (exception as Error)?.message;
  return Array.isArray(message) ? message.join('; ') : String(message ?? 'bad request');
}
