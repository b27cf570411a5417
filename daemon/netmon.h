/*
 * netmon.h - rtnetlink address and route changes (libmnl), DESIGN.md §7
 *
 * Listens on NETLINK_ROUTE for IPv4 address changes (RTMGRP_IPV4_IFADDR)
 * and IPv4 route changes (RTMGRP_IPV4_ROUTE), logs each one, and after a
 * quiet spell of NETMON_SETTLE_MS (a DHCP renewal or an interface coming
 * up sends several messages at once) reports the machine's non-loopback
 * IPv4 addresses to its callback when they, or the default route, changed.
 * A netlink buffer overrun (ENOBUFS) counts as a change: events were lost.
 */
#ifndef HN_NETMON_H
#define HN_NETMON_H

#include <stddef.h>

#include "addr.h"

struct ev_loop;
struct netmon;

#define NETMON_SETTLE_MS	300
#define NETMON_MAX_ADDRS	8

/* The addresses now (port 0), at most NETMON_MAX_ADDRS of them. */
typedef void	netmon_fn(void *arg, const struct hn_addr *local, size_t n);

/*
 * Start watching on `loop`.  Returns the monitor, or NULL with -errno in
 * *err (the daemon runs on without it: the caller logs and goes on).
 */
struct netmon	*netmon_new(struct ev_loop *loop, netmon_fn *fn, void *arg,
		    int *err);
/* Stop and free; NULL is a no-op. */
void		 netmon_free(struct netmon *m);

/* The machine's non-loopback IPv4 addresses (port 0); returns how many. */
size_t		 netmon_local_addrs(struct hn_addr *out, size_t max);

#endif
