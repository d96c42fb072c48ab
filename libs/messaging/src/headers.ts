/** NATS headers the grid sets besides the JetStream and trace ones. */
export const Headers = {
  ContentType: 'Content-Type',
  EventType: 'Mycelium-Event-Type',
  Position: 'Mycelium-Position',
  CorrelationId: 'Mycelium-Correlation-Id',
  Tenant: 'Mycelium-Tenant',
  CommandVersion: 'Mycelium-Command-Version',
  DeadLetterReason: 'Mycelium-Dlq-Reason',
  DeadLetterService: 'Mycelium-Dlq-Service',
  DeadLetterConsumer: 'Mycelium-Dlq-Consumer',
  DeadLetterSubject: 'Mycelium-Dlq-Subject',
  DeadLetterDeliveries: 'Mycelium-Dlq-Deliveries',
  DeadLetterStreamSequence: 'Mycelium-Dlq-Stream-Sequence',
  DeadLetterAt: 'Mycelium-Dlq-At',
} as const;
