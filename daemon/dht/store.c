/*
 * store.c - two-generation caches (spec/dht.md §12.5)
 */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "store.h"

static size_t
bucket_of(const uint8_t key[32])
{
	return load_u32le(key) % DHT_CACHE_BUCKETS;
}

void
dht_cache_init(struct dht_cache *c, size_t max_size, uint64_t max_age_ms,
    uint64_t now_ms)
{
	memset(c, 0, sizeof(*c));
	c->max_size = max_size;
	c->max_age_ms = max_age_ms;
	c->gen = 2;
	if (max_age_ms > 0)
		c->next_gc_ms = now_ms + (2 * max_age_ms + 2) / 3;
}

static void
ent_free(struct dht_cache_ent *e)
{
	free(e->val);
	free(e);
}

void
dht_cache_free(struct dht_cache *c)
{
	struct dht_cache_ent *e, *n;
	size_t i;

	for (i = 0; i < DHT_CACHE_BUCKETS; i++) {
		for (e = c->buckets[i]; e; e = n) {
			n = e->next;
			ent_free(e);
		}
		c->buckets[i] = NULL;
	}
	c->size = c->nlatest = 0;
}

static bool
ent_match(const struct dht_cache_ent *e, const uint8_t key[32],
    const uint8_t *sub)
{
	static const uint8_t zero[32];

	return memcmp(e->key, key, 32) == 0 &&
	    memcmp(e->sub, sub ? sub : zero, 32) == 0;
}

struct dht_cache_ent *
dht_cache_get(struct dht_cache *c, const uint8_t key[32], const uint8_t *sub)
{
	struct dht_cache_ent *e;

	for (e = c->buckets[bucket_of(key)]; e; e = e->next)
		if (ent_match(e, key, sub))
			return e;
	return NULL;
}

bool
dht_cache_is_fresh(const struct dht_cache *c, const struct dht_cache_ent *e)
{
	return e->retained || e->gen == c->gen;
}

void
dht_cache_gc(struct dht_cache *c)
{
	struct dht_cache_ent **pp, *e;
	size_t i;

	c->gen++;
	c->nlatest = 0;
	for (i = 0; i < DHT_CACHE_BUCKETS; i++) {
		for (pp = &c->buckets[i]; (e = *pp) != NULL;) {
			if (!e->retained && e->gen + 1 < c->gen) {
				*pp = e->next;
				ent_free(e);
				c->size--;
			} else {
				pp = &e->next;
			}
		}
	}
}

void
dht_cache_touch(struct dht_cache *c, struct dht_cache_ent *e)
{
	if (e->retained || e->gen == c->gen)
		return;
	e->gen = c->gen;
	if (++c->nlatest >= c->max_size)
		dht_cache_gc(c);
}

static struct dht_cache_ent *
cache_put(struct dht_cache *c, const uint8_t key[32], const uint8_t *sub,
    const uint8_t *val, size_t len, bool retain)
{
	struct dht_cache_ent *e = dht_cache_get(c, key, sub);
	uint8_t *copy = NULL;

	if (e != NULL && e->retained && !retain)
		return e;
	if (len > 0 && (copy = malloc(len)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(copy, val, len);
	if (e == NULL) {
		size_t b = bucket_of(key);

		if ((e = calloc(1, sizeof(*e))) == NULL) {
			free(copy);
			return NULL;
		}
		memcpy(e->key, key, 32);
		if (sub)
			memcpy(e->sub, sub, 32);
		e->next = c->buckets[b];
		c->buckets[b] = e;
		c->size++;
		e->gen = 0;
	}
	free(e->val);
	e->val = copy;
	e->len = len;
	if (retain) {
		e->retained = true;
	} else if (e->gen != c->gen) {
		e->gen = c->gen;
		if (++c->nlatest >= c->max_size) {
			dht_cache_gc(c);
		}
	}
	return e;
}

struct dht_cache_ent *
dht_cache_set(struct dht_cache *c, const uint8_t key[32], const uint8_t *sub,
    const uint8_t *val, size_t len)
{
	return cache_put(c, key, sub, val, len, false);
}

struct dht_cache_ent *
dht_cache_retain(struct dht_cache *c, const uint8_t key[32], const uint8_t *sub,
    const uint8_t *val, size_t len)
{
	return cache_put(c, key, sub, val, len, true);
}

bool
dht_cache_delete(struct dht_cache *c, const uint8_t key[32], const uint8_t *sub)
{
	struct dht_cache_ent **pp, *e;

	for (pp = &c->buckets[bucket_of(key)]; (e = *pp) != NULL;
	    pp = &e->next) {
		if (ent_match(e, key, sub)) {
			*pp = e->next;
			if (!e->retained && e->gen == c->gen && c->nlatest > 0)
				c->nlatest--;
			ent_free(e);
			c->size--;
			return true;
		}
	}
	return false;
}

void
dht_cache_tick(struct dht_cache *c, uint64_t now_ms)
{
	if (c->max_age_ms == 0)
		return;
	while (now_ms >= c->next_gc_ms) {
		dht_cache_gc(c);
		c->next_gc_ms += (2 * c->max_age_ms + 2) / 3;
	}
}

size_t
dht_cache_list(struct dht_cache *c, const uint8_t key[32],
    struct dht_cache_ent **out, size_t max)
{
	struct dht_cache_ent *e;
	size_t n = 0;

	for (e = c->buckets[bucket_of(key)]; e && n < max; e = e->next)
		if (memcmp(e->key, key, 32) == 0)
			out[n++] = e;
	return n;
}
