/**
 * `@wxbot/core/delivery`: the extension points of reply delivery, for packages that deliver
 * replies in another way than the in-process default (as `@wxbot/redis` does durably): the
 * outbox job, the one rule set that splits a reply and picks passive or active, and the send.
 * @module
 */
export {
  planDelivery,
  partsOf,
  sendNow,
  whyActive,
  isHumanHoldsSession,
  logDeliveryFailure,
  InProcessOutbox,
  type Outbox,
  type OutboxJob,
  type PassiveSlot,
} from './delivery/outbox.ts';
export { sendIdOf } from './message/recipient.ts';
export { offersDeliveryEngine, type DeliveryEngine, type DeliveryHost, type QueueOperations, type DurableCapableStore } from './delivery/engine.ts';
