import { openPostgresTestStore } from '@mycelium/testing';
import { describeEventStoreContract } from './event-store.contract.js';

describeEventStoreContract('PostgreSQL', () => openPostgresTestStore());
