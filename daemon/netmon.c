/*
 * netmon.c - rtnetlink address and route changes (netmon.h)
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ev.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>

#include "io.h"
#include "log.h"
#include "netmon.h"

struct netmon {
	struct ev_loop		*loop;
	struct mnl_socket	*nl;
	ev_io			 io;
	ev_timer		 settle;
	netmon_fn		*fn;
	void			*arg;
	struct hn_addr		 addrs[NETMON_MAX_ADDRS];
	size_t			 n;
	bool			 route_changed;
	bool			 lost;
	uint64_t		 buf[8192 / 8];
};

/* ------------------------------------------------------------ addresses */

size_t
netmon_local_addrs(struct hn_addr *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	const struct sockaddr_in *sin;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
		memset(&out[n], 0, sizeof(out[n]));
		addr_from_sockaddr(&out[n], sin);
		out[n].port = 0;
		if (out[n].ip[0] != 127)
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

static bool
addr_in(const struct hn_addr *a, const struct hn_addr *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v[i].ip, a->ip, 4) == 0)
			return true;
	return false;
}

/* The same set of addresses, in any order. */
static bool
same_set(const struct hn_addr *a, size_t na, const struct hn_addr *b,
    size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (!addr_in(&a[i], b, nb))
			return false;
	return true;
}

/* ------------------------------------------------------------ messages */

static void
settle_later(struct netmon *m)
{
	ev_timer_stop(m->loop, &m->settle);
	ev_timer_set(&m->settle, NETMON_SETTLE_MS / 1000.0, 0.);
	ev_timer_start(m->loop, &m->settle);
}

static int
ifa_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static void
on_addr(struct netmon *m, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	const struct nlattr *a;
	const struct ifaddrmsg *ifa;
	char ifname[IF_NAMESIZE] = "?", ip[INET_ADDRSTRLEN] = "?";

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != AF_INET)
		return;
	if (mnl_attr_parse(nlh, sizeof(*ifa), ifa_attr_cb, tb) < 0)
		return;
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (a && mnl_attr_get_payload_len(a) == 4)
		inet_ntop(AF_INET, mnl_attr_get_payload(a), ip, sizeof(ip));
	if (if_indextoname(ifa->ifa_index, ifname) == NULL)
		snprintf(ifname, sizeof(ifname), "#%u", ifa->ifa_index);
	log_info("netmon: address %s/%u %s %s", ip, ifa->ifa_prefixlen,
	    nlh->nlmsg_type == RTM_NEWADDR ? "added on" : "removed from",
	    ifname);
	settle_later(m);
}

static void
on_route(struct netmon *m, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return;
	rtm = mnl_nlmsg_get_payload(nlh);
	/* only the default route says where our traffic leaves */
	if (rtm->rtm_family != AF_INET || rtm->rtm_table != RT_TABLE_MAIN ||
	    rtm->rtm_dst_len != 0)
		return;
	log_info("netmon: default route %s", nlh->nlmsg_type == RTM_NEWROUTE ?
	    "added or changed" : "removed");
	m->route_changed = true;
	settle_later(m);
}

static int
msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netmon *m = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(m, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		on_route(m, nlh);
		break;
	}
	return MNL_CB_OK;
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct netmon *m = container_of(w, struct netmon, io);
	struct sockaddr_nl sa;
	socklen_t salen;
	ssize_t n;

	for (;;) {
		salen = sizeof(sa);
		n = recvfrom(mnl_socket_get_fd(m->nl), m->buf, sizeof(m->buf),
		    MSG_DONTWAIT, (struct sockaddr *)&sa, &salen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				log_warnx("netmon: events lost (receive buffer "
				    "overrun); re-reading the addresses");
				m->lost = true;
				settle_later(m);
				continue;
			}
			if (errno != EAGAIN)
				log_warn("netmon: recv");
			return;
		}
		/* only the kernel speaks for the routing tables */
		if (salen < sizeof(sa) || sa.nl_pid != 0)
			continue;
		(void)mnl_cb_run(m->buf, (size_t)n, 0, 0, msg_cb, m);
	}
}

static void
settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct netmon *m = container_of(w, struct netmon, settle);
	struct hn_addr cur[NETMON_MAX_ADDRS];
	size_t n = netmon_local_addrs(cur, NETMON_MAX_ADDRS);
	bool changed = !same_set(cur, n, m->addrs, m->n);

	if (!changed && !m->route_changed && !m->lost)
		return;
	memcpy(m->addrs, cur, n * sizeof(cur[0]));
	m->n = n;
	m->route_changed = m->lost = false;
	m->fn(m->arg, m->addrs, m->n);
}

/* ------------------------------------------------------------ lifecycle */

struct netmon *
netmon_new(struct ev_loop *loop, netmon_fn *fn, void *arg, int *err)
{
	struct netmon *m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	m->loop = loop;
	m->fn = fn;
	m->arg = arg;
	if ((m->nl = mnl_socket_open2(NETLINK_ROUTE,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == NULL)
		goto fail;
	if (mnl_socket_bind(m->nl, RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE,
	    MNL_SOCKET_AUTOPID) < 0)
		goto fail_close;
	m->n = netmon_local_addrs(m->addrs, NETMON_MAX_ADDRS);
	ev_io_init(&m->io, read_cb, mnl_socket_get_fd(m->nl), EV_READ);
	ev_io_start(loop, &m->io);
	ev_timer_init(&m->settle, settle_cb, NETMON_SETTLE_MS / 1000.0, 0.);
	return m;
fail_close:
	*err = -errno;
	mnl_socket_close(m->nl);
	free(m);
	return NULL;
fail:
	*err = -errno;
	free(m);
	return NULL;
}

void
netmon_free(struct netmon *m)
{
	if (m == NULL)
		return;
	ev_io_stop(m->loop, &m->io);
	ev_timer_stop(m->loop, &m->settle);
	mnl_socket_close(m->nl);
	free(m);
}
