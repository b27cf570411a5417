/*
 * simnat.h - NAT routers on the simulator's filter hook, with the semantics
 * of the NAT lab (spec/natlab.md §2, §3, §5.4, §5.5)
 *
 * A simnat world installs itself as the sim's filter.  Routers have a
 * public IP and a set of member hosts (by IP).  Members of a NAT router
 * have private addresses that are unreachable from outside; members of
 * `none` and `fw` routers are public hosts (fw: a stateful firewall in
 * front of them).  Hosts of no router are plain public hosts.
 *
 *   type      mapping                         filtering
 *   pcone     EIM, port preserved if free     APDF
 *   fullcone  EIM, port preserved if free     EIF
 *   rcone     EIM, port preserved if free     ADF
 *   sym       APDM, a random port per flow    APDF
 *   none      no NAT                          none
 *   fw        no NAT                          APDF (conntrack)
 *
 * Hairpinning is off (natlab §2 (5)): a member sending to its own router's
 * public IP is dropped; members of one router reach each other directly on
 * their private addresses.  Mappings and flows live like conntrack
 * entries: 30 s until a reply was seen, 120 s after (configurable).  The
 * filter runs at send time, so one call translates at the sender's router
 * and at the receiver's.
 */
#ifndef HN_SIMNAT_H
#define HN_SIMNAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "sim.h"

enum simnat_type {
	SIMNAT_NONE = 0,
	SIMNAT_FW,
	SIMNAT_PCONE,
	SIMNAT_FULLCONE,
	SIMNAT_RCONE,
	SIMNAT_SYM,
};

struct simnat;
struct simnat_router;

struct simnat_stats {
	uint64_t	mapped;		/* mappings created */
	uint64_t	in_ok;		/* inbound datagrams let in */
	uint64_t	in_dropped;	/* inbound dropped by filtering */
	uint64_t	unroutable;	/* to a private address from outside, hairpin */
};

/* A NAT world on `s`: installs the filter.  NULL on -ENOMEM. */
struct simnat	*simnat_new(struct sim *s);
/* Removes the filter, frees routers and mappings. */
void		 simnat_free(struct simnat *w);

/* "pcone", "fullcone", "rcone", "sym", "none", "fw". */
int		 simnat_type_parse(const char *name, enum simnat_type *out);
const char	*simnat_type_name(enum simnat_type t);

/* A router with public IP `public_ip`; NULL if malformed or -ENOMEM. */
struct simnat_router *simnat_router_add(struct simnat *w, enum simnat_type t,
		    const char *public_ip);
/* Put the host with IP `ip` behind the router.  0, -EINVAL, -ENOMEM. */
int		 simnat_router_attach(struct simnat_router *r, const char *ip);
/* Conntrack timeouts (natlab §5.5): unreplied, replied. */
void		 simnat_router_set_timeouts(struct simnat_router *r,
		    uint32_t udp_ms, uint32_t stream_ms);
/* Live mappings (for tests). */
size_t		 simnat_router_mappings(struct simnat_router *r);
const struct simnat_stats *simnat_stats(const struct simnat *w);

#endif
