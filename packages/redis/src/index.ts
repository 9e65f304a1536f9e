export { RedisStore, StoreTimeoutError, type RedisStoreOptions } from './store.ts';
export { DurableDelivery, DeliveryUnavailableError, type DurableDeliveryOptions, type DeadJob } from './durable/engine.ts';
export { ConversationOrder } from './durable/order.ts';
export { classifySendError, type SendVerdict } from './durable/classify.ts';
