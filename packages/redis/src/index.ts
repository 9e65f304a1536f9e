export { RedisStore, StoreTimeoutError, type RedisStoreOptions } from './store.ts';
