/*
 * natsampler.c - nat-sampler 1.0.1 in C (spec/dht.md §10.1)
 */
#include <string.h>

#include "natsampler.h"

void
dht_natsampler_init(struct dht_natsampler *s)
{
	memset(s, 0, sizeof(*s));
	s->best_full = s->best_host = -1;
}

static int
pool_new(struct dht_natsampler *s, const uint8_t ip[4], uint16_t port)
{
	int i;

	/* a sample is free once neither a slot nor a best pointer holds it */
	for (i = 0; i < DHT_NAT_POOL; i++) {
		if (s->pool[i].refs == 0 && i != s->best_full &&
		    i != s->best_host)
			break;
	}
	if (i == DHT_NAT_POOL)	/* cannot happen: 32 slots + 2 bests + 2 new */
		i = 0;
	memcpy(s->pool[i].ip, ip, 4);
	s->pool[i].port = port;
	s->pool[i].hits = 1;
	return i;
}

/* _bump: look at the last four samples of the same kind. */
static int
bump(struct dht_natsampler *s, const uint8_t ip[4], uint16_t port, int inc,
    int fresh_a)
{
	int i, j;
	struct dht_nat_sample *x;

	for (i = 0; i < 4; i++) {
		j = (s->top - inc - 2 * i) & 31;
		if (j >= s->nring)
			break;
		x = &s->pool[s->ring[j]];
		if (x->port == port && memcmp(x->ip, ip, 4) == 0) {
			x->hits++;
			return s->ring[j];
		}
	}
	if (fresh_a >= 0) {
		/* keep the first new sample from being reused for the second */
		s->pool[fresh_a].refs++;
		i = pool_new(s, ip, port);
		s->pool[fresh_a].refs--;
		return i;
	}
	return pool_new(s, ip, port);
}

static void
slot_set(struct dht_natsampler *s, int slot, int idx)
{
	s->pool[idx].refs++;
	s->ring[slot] = idx;
}

int
dht_natsampler_add(struct dht_natsampler *s, const uint8_t ip[4],
    uint16_t port)
{
	int a, b, o;
	struct dht_nat_sample *pa, *pb;

	a = bump(s, ip, port, 2, -1);
	b = bump(s, ip, 0, 1, a);
	if (s->nring < DHT_NAT_SLOTS) {
		s->size++;
		s->threshold = s->size - (s->size < 4 ? 0 : s->size < 8 ? 1 :
		    s->size < 12 ? 2 : 3);
		slot_set(s, s->nring++, a);
		slot_set(s, s->nring++, b);
		s->top += 2;
	} else {
		if (s->top == DHT_NAT_SLOTS)
			s->top = 0;
		o = s->ring[s->top];
		slot_set(s, s->top++, a);
		s->pool[o].refs--;
		s->pool[o].hits--;
		o = s->ring[s->top];
		slot_set(s, s->top++, b);
		s->pool[o].refs--;
		s->pool[o].hits--;
	}
	pa = &s->pool[a];
	pb = &s->pool[b];
	if (s->best_full < 0 || s->pool[s->best_full].hits < pa->hits)
		s->best_full = a;
	if (s->best_host < 0 || s->pool[s->best_host].hits < pb->hits)
		s->best_host = b;
	if (s->pool[s->best_full].hits >= s->threshold) {
		s->has_host = true;
		memcpy(s->ip, s->pool[s->best_full].ip, 4);
		s->port = s->pool[s->best_full].port;
	} else if (s->pool[s->best_host].hits >= s->threshold) {
		s->has_host = true;
		memcpy(s->ip, s->pool[s->best_host].ip, 4);
		s->port = 0;
	} else {
		s->has_host = false;
		memset(s->ip, 0, 4);
		s->port = 0;
	}
	return pa->hits;
}
