// Compile-once caches of promises: concurrent callers share one compilation; a failed one is forgotten,
// so a later call retries instead of replaying the error.

export function memoPromise<K, V>(cache: Map<K, Promise<V>>, key: K, make: () => Promise<V>): Promise<V> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}
