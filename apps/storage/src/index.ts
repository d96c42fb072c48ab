export { StorageModule } from './storage.module.js';
export { storageService } from './storage.service.js';
