/*
 * nat.h - NAT analysis of one puncher socket (spec/connect.md §8.1, the
 * reference's lib/nat.js)
 *
 * Pure bookkeeping: samples in, a firewall type and observed addresses out.
 * Who pings whom (the sampling walk over the DHT table) is holepunch.c's.
 * Each responding node counts once; classification needs >= 3 samples and
 * does not change while frozen.
 */
#ifndef HN_CONNECT_NAT_H
#define HN_CONNECT_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define NAT_SAMPLES_MAX		16	/* distinct nodes remembered */
#define NAT_ADDRS_MAX		8

struct nat_hits {
	struct hn_addr	addr;		/* port 0 in the per-host list */
	int		hits;
};

struct nat {
	bool		firewalled;	/* false: we are OPEN whatever we see */
	bool		frozen;
	int		firewall;	/* NOISE_FIREWALL_* */
	int		sampled;
	int		min_samples;	/* 4 */
	/* Nodes whose sample was taken (each counts once). */
	struct hn_addr	visited[NAT_SAMPLES_MAX];
	size_t		nvisited;
	/* Hits per (host, port) and per host, most hits first. */
	struct nat_hits	full[NAT_SAMPLES_MAX];
	size_t		nfull;
	struct nat_hits	host[NAT_SAMPLES_MAX];
	size_t		nhost;
	size_t		naddrs;
	struct hn_addr	addrs[NAT_ADDRS_MAX];
};

/* Start empty: OPEN if !firewalled, else UNKNOWN. */
void	nat_init(struct nat *n, bool firewalled);
/*
 * One sample: node `from` saw us at `to`.  Returns true if it counted
 * (first sample from that node).
 */
bool	nat_add(struct nat *n, const struct hn_addr *to,
	    const struct hn_addr *from);
/* The firewall type is decided, or enough samples arrived ("analyzing" resolves). */
bool	nat_finished(const struct nat *n);
void	nat_freeze(struct nat *n);
void	nat_unfreeze(struct nat *n);
/* Our observed addresses (§8.1): RANDOM gives one host with port 0. */
size_t	nat_addresses(const struct nat *n, struct hn_addr *out, size_t max);

#endif
