/*
 * natsampler.h - public address voting, as nat-sampler 1.0.1 (spec/dht.md
 * §10.1)
 *
 * Every response tells us how its sender saw us; add() those (host, port)
 * observations.  The result is a host and port, a host with port 0 (the
 * port is not predictable) or nothing.  The ring, the look-back of four
 * samples of the same kind and the thresholds follow the JS exactly so both
 * reach the same verdict from the same observations.
 */
#ifndef HN_DHT_NATSAMPLER_H
#define HN_DHT_NATSAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#define DHT_NAT_SLOTS	32
#define DHT_NAT_POOL	(DHT_NAT_SLOTS + 4)

struct dht_nat_sample {
	uint8_t		ip[4];
	uint16_t	port;
	int		hits;
	int		refs;	/* ring slots + best pointers holding it */
};

struct dht_natsampler {
	struct dht_nat_sample	pool[DHT_NAT_POOL];
	int			ring[DHT_NAT_SLOTS];	/* pool indexes */
	int			nring;
	int			top;
	int			size;
	int			threshold;
	int			best_full;	/* -1: none */
	int			best_host;
	/* the verdict */
	bool			has_host;
	uint8_t			ip[4];
	uint16_t		port;		/* 0: unknown */
};

void	dht_natsampler_init(struct dht_natsampler *s);
/* Add one observation; returns the hit count of the full sample. */
int	dht_natsampler_add(struct dht_natsampler *s, const uint8_t ip[4],
	    uint16_t port);

#endif
