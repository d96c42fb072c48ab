import { AsyncLocalStorage } from 'node:async_hooks';

/** What a log line or an appended event should know about the message being handled. */
export interface MessageContext {
  correlationId?: string;
  causationId?: string;
  tenant?: string;
}

const storage = new AsyncLocalStorage<MessageContext>();

/** Runs `work` with `context` visible to every log line and append made inside it. */
export function withMessageContext<T>(context: MessageContext, work: () => T): T {
  return storage.run(context, work);
}

export function currentMessageContext(): MessageContext | undefined {
  return storage.getStore();
}
