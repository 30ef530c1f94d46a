// aedes-persistence-redis ships no types; its promise-based persistence (the one aedes 1.x calls).
declare module 'aedes-persistence-redis/asyncPersistence.js' {
  import type Redis from 'ioredis';
  interface Options {
    conn?: Redis;
    maxSessionDelivery?: number;
    packetTTL?: (packet: unknown) => number;
  }
  class AsyncRedisPersistence {
    constructor(opts?: Options);
  }
  export = AsyncRedisPersistence;
}
