import { defineService } from '@mycelium/messaging';
import { StorageModule } from './storage.module.js';

export const storageService = defineService({ name: 'storage', module: StorageModule });
