/*
 * store.h - HyperDHT storage: two-generation caches (xache / record-cache
 * semantics, spec/dht.md §12.5)
 *
 * Writes land in the fresh generation.  Every ceil(2/3 maxAge), or when
 * the fresh generation reaches maxSize, the old generation is dropped and
 * the fresh one becomes old, so an untouched entry lives 2/3..4/3 maxAge.
 * dht_cache_touch() moves an entry back into the fresh generation.
 * Retained entries (local servers) never expire.  Entries are keyed by a
 * 32-byte key and an optional 32-byte sub-key (records: topic + public
 * key); all entries of one key share a hash chain so they can be listed.
 */
#ifndef HN_DHT_STORE_H
#define HN_DHT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct dht_cache_ent {
	struct dht_cache_ent *next;
	uint8_t		 key[32];
	uint8_t		 sub[32];
	unsigned	 gen;
	bool		 retained;
	uint8_t		*val;
	size_t		 len;
	/* payload-specific extras */
	struct hn_addr	 addr;
	uint64_t	 num;
	bool		 flag;
	void		*ptr;
};

#define DHT_CACHE_BUCKETS	1024

struct dht_cache {
	struct dht_cache_ent *buckets[DHT_CACHE_BUCKETS];
	size_t		 max_size;
	uint64_t	 max_age_ms;
	uint64_t	 next_gc_ms;
	unsigned	 gen;
	size_t		 nlatest;
	size_t		 size;
};

void	dht_cache_init(struct dht_cache *c, size_t max_size, uint64_t max_age_ms,
	    uint64_t now_ms);
void	dht_cache_free(struct dht_cache *c);
struct dht_cache_ent *dht_cache_get(struct dht_cache *c, const uint8_t key[32],
	    const uint8_t *sub);
/*
 * Store a copy of val under key/sub in the fresh generation (no-op on a
 * retained entry).  Returns the entry or NULL on ENOMEM.
 */
struct dht_cache_ent *dht_cache_set(struct dht_cache *c, const uint8_t key[32],
	    const uint8_t *sub, const uint8_t *val, size_t len);
/* Like set, but the entry never expires. */
struct dht_cache_ent *dht_cache_retain(struct dht_cache *c,
	    const uint8_t key[32], const uint8_t *sub, const uint8_t *val,
	    size_t len);
bool	dht_cache_is_fresh(const struct dht_cache *c,
	    const struct dht_cache_ent *e);
void	dht_cache_touch(struct dht_cache *c, struct dht_cache_ent *e);
bool	dht_cache_delete(struct dht_cache *c, const uint8_t key[32],
	    const uint8_t *sub);
/* Drop the old generation now. */
void	dht_cache_gc(struct dht_cache *c);
/* Time-driven gc; call at least once per tick. */
void	dht_cache_tick(struct dht_cache *c, uint64_t now_ms);
/* Entries with this key (any sub-key); returns the count written. */
size_t	dht_cache_list(struct dht_cache *c, const uint8_t key[32],
	    struct dht_cache_ent **out, size_t max);

struct dht_store {
	struct dht_cache records;	/* key topic, sub publicKey */
	struct dht_cache forwards;	/* router: target -> relay, record */
	struct dht_cache refreshes;
	struct dht_cache bumps;
	struct dht_cache mutables;
	struct dht_cache immutables;
};

#endif
