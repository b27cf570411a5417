/*
 * nat.c - NAT analysis of one puncher socket (spec/connect.md §8.1)
 */
#include <string.h>

#include "daemon/connect/nat.h"
#include "daemon/noise/payload.h"

/* Count one hit of `a`, keeping the list sorted by hits, stable. */
static void
hits_add(struct nat_hits *list, size_t *n, const struct hn_addr *a)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (!addr_eq(&list[i].addr, a))
			continue;
		list[i].hits++;
		for (; i > 0 && list[i - 1].hits < list[i].hits; i--) {
			struct nat_hits t = list[i - 1];

			list[i - 1] = list[i];
			list[i] = t;
		}
		return;
	}
	if (*n == NAT_SAMPLES_MAX)
		return;
	list[*n].addr = *a;
	list[*n].hits = 1;
	(*n)++;
}

static void
update_firewall(struct nat *n)
{
	int max;

	if (!n->firewalled) {
		n->firewall = NOISE_FIREWALL_OPEN;
		return;
	}
	if (n->sampled < 3 || n->nfull == 0)
		return;
	max = n->full[0].hits;
	if (max >= 3) {
		n->firewall = NOISE_FIREWALL_CONSISTENT;
	} else if (max == 1) {
		n->firewall = NOISE_FIREWALL_RANDOM;
	} else if (n->nhost == 1 && n->sampled > 3) {
		/* one host, two bad samples of four */
		n->firewall = NOISE_FIREWALL_RANDOM;
	} else if (n->nhost > 1 && n->nfull > 1 && n->full[1].hits > 1) {
		/* a double hit on two hosts: consistent */
		n->firewall = NOISE_FIREWALL_CONSISTENT;
	} else if (n->sampled > 4) {
		n->firewall = NOISE_FIREWALL_RANDOM;
	}
}

static void
update_addresses(struct nat *n)
{
	n->naddrs = 0;
	if (n->firewall == NOISE_FIREWALL_RANDOM && n->nhost > 0) {
		n->addrs[n->naddrs++] = n->host[0].addr;
		return;
	}
	if (n->firewall != NOISE_FIREWALL_CONSISTENT)
		return;	/* UNKNOWN; OPEN keeps none, as the reference */
	for (size_t i = 0; i < n->nfull && n->naddrs < NAT_ADDRS_MAX; i++)
		if (n->full[i].hits >= 2 || n->naddrs < 2)
			n->addrs[n->naddrs++] = n->full[i].addr;
}

static void
update(struct nat *n)
{
	update_firewall(n);
	update_addresses(n);
}

void
nat_init(struct nat *n, bool firewalled)
{
	memset(n, 0, sizeof(*n));
	n->firewalled = firewalled;
	n->min_samples = 4;
	n->firewall = firewalled ? NOISE_FIREWALL_UNKNOWN : NOISE_FIREWALL_OPEN;
}

bool
nat_add(struct nat *n, const struct hn_addr *to, const struct hn_addr *from)
{
	struct hn_addr host = *to;

	for (size_t i = 0; i < n->nvisited; i++)
		if (addr_eq(&n->visited[i], from))
			return false;
	if (n->nvisited == NAT_SAMPLES_MAX)
		return false;
	n->visited[n->nvisited++] = *from;
	host.port = 0;
	hits_add(n->host, &n->nhost, &host);
	hits_add(n->full, &n->nfull, to);
	if ((++n->sampled >= 3 || !n->firewalled) && !n->frozen)
		update(n);
	return true;
}

bool
nat_finished(const struct nat *n)
{
	return n->firewall == NOISE_FIREWALL_CONSISTENT ||
	    n->firewall == NOISE_FIREWALL_OPEN || n->sampled >= n->min_samples;
}

void
nat_freeze(struct nat *n)
{
	n->frozen = true;
}

void
nat_unfreeze(struct nat *n)
{
	n->frozen = false;
	update(n);
}

size_t
nat_addresses(const struct nat *n, struct hn_addr *out, size_t max)
{
	size_t i;

	for (i = 0; i < n->naddrs && i < max; i++)
		out[i] = n->addrs[i];
	return i;
}
