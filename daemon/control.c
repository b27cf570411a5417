/*
 * control.c - control socket: listener, clients, dispatcher
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "base58.h"
#include "control.h"
#include "io.h"
#include "log.h"
#include "node.h"

_Static_assert(HNCTL_ALLOW_MAX == TUN_ALLOW_MAX, "allow-list limits differ");
_Static_assert((int)HNCTL_KIND_EXPORT == (int)TUN_EXPORT &&
    (int)HNCTL_KIND_IMPORT == (int)TUN_IMPORT, "kind numbers differ");
_Static_assert((int)HNCTL_PROTO_TCPUDP == (int)TUN_TCPUDP &&
    (int)HNCTL_PROTO_UDP == (int)TUN_UDP, "proto numbers differ");
_Static_assert((int)HNCTL_ORIGIN_RUNTIME == (int)TUN_ORIGIN_RUNTIME,
    "origin numbers differ");

/* One record waiting to be sent. */
struct outrec {
	struct outrec	*next;
	size_t		 len;
	uint8_t		 data[];
};

enum dump_kind {
	DUMP_NONE = 0,
	DUMP_TUNNELS,
	DUMP_PEERS,
};

struct client {
	struct client	*next;
	struct control	*ctl;
	int		 fd;
	ev_io		 rio, wio;
	ev_timer	 idle;
	struct ucred	 cred;
	/* the record being filled, then the queue of finished ones */
	uint8_t		 cur[HNCTL_RECORD_MAX];
	size_t		 curlen;
	struct outrec	*head, **tail;
	size_t		 queued;
	/* a dump in progress */
	enum dump_kind	 dump;
	size_t		 dump_pos;
	uint32_t	 dump_seq;
	uint16_t	 dump_type;
};

struct control {
	struct hnd		*h;
	struct ev_loop		*loop;
	struct control_hooks	 hooks;
	int			 fd;
	char			*path;
	dev_t			 dev;
	ino_t			 ino;
	ev_io			 aio;
	ev_timer		 resume;	/* accept again after EMFILE */
	struct client		*clients;
	unsigned		 nclients;
};

static void client_close(struct client *cl);
static void client_update(struct client *cl);

/* ------------------------------------------------------------ output */

static void
out_flush_cur(struct client *cl)
{
	struct outrec *r;

	if (cl->curlen == 0)
		return;
	if ((r = malloc(sizeof(*r) + cl->curlen)) == NULL) {
		log_warnx("control: out of memory, reply lost");
		cl->curlen = 0;
		return;
	}
	r->next = NULL;
	r->len = cl->curlen;
	memcpy(r->data, cl->cur, cl->curlen);
	*cl->tail = r;
	cl->tail = &r->next;
	cl->queued += r->len;
	cl->curlen = 0;
}

/* Append one finished message to the client's output. */
static void
out_put(struct client *cl, const struct nlmsghdr *nlh)
{
	if (cl->curlen + nlh->nlmsg_len > sizeof(cl->cur))
		out_flush_cur(cl);
	memcpy(cl->cur + cl->curlen, nlh, nlh->nlmsg_len);
	cl->curlen += nlh->nlmsg_len;
}

/* Append messages already laid out back to back (one group). */
static void
out_put_group(struct client *cl, const uint8_t *p, size_t len)
{
	if (cl->curlen + len > sizeof(cl->cur))
		out_flush_cur(cl);
	memcpy(cl->cur + cl->curlen, p, len);
	cl->curlen += len;
}

static void
reply_error(struct client *cl, const struct nlmsghdr *req, uint32_t seq,
    int error, const char *msg)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];

	out_put(cl, ctl_msg_error(buf, req, seq, error, msg));
}

/* ------------------------------------------------------------ messages */

static void
put_key(struct nlmsghdr *nlh, uint16_t type, const uint8_t *k)
{
	mnl_attr_put(nlh, type, KEYS_PK_LEN, k);
}

/* One TUNNEL or PEER message for table entry i. */
/* A tunnel's counters (or their sum) as attributes 40-46. */
static void
put_counters(struct nlmsghdr *nlh, const struct tun_stats *st)
{
	mnl_attr_put_u32(nlh, HNCTL_A_CONNS_OPEN, st->conns_open);
	mnl_attr_put_u64(nlh, HNCTL_A_CONNS_TOTAL, st->conns_total);
	mnl_attr_put_u64(nlh, HNCTL_A_BYTES_IN, st->bytes_in);
	mnl_attr_put_u64(nlh, HNCTL_A_BYTES_OUT, st->bytes_out);
	mnl_attr_put_u64(nlh, HNCTL_A_DGRAMS_IN, st->dgrams_in);
	mnl_attr_put_u64(nlh, HNCTL_A_DGRAMS_OUT, st->dgrams_out);
	mnl_attr_put_u64(nlh, HNCTL_A_DROPS, st->drops);
}

/*
 * CONN messages for the open connections of entry i, laid out from `p`
 * (at most `cap` bytes, HNCTL_CONN_SHOW_MAX messages).  Returns the bytes
 * used.
 */
static size_t
build_conns(struct control *c, uint8_t *p, size_t cap, uint32_t seq,
    size_t i)
{
	struct tun_peer tp[HNCTL_CONN_SHOW_MAX];
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct nlmsghdr *nlh;
	struct tun_stats st;
	char a[HN_ADDR_STRLEN];
	size_t n, k, used = 0;

	n = tuntab_peers(&c->h->tab, i, tp, HNCTL_CONN_SHOW_MAX);
	for (k = 0; k < n && k < HNCTL_CONN_SHOW_MAX; k++) {
		nlh = ctl_msg_start(buf, HNCTL_MSG_CONN, NLM_F_MULTI, seq);
		put_key(nlh, HNCTL_A_CONN_KEY, tp[k].remote_pk);
		ctl_attr_put_str(nlh, HNCTL_A_CONN_PATH, tp[k].path);
		ctl_attr_put_str(nlh, HNCTL_A_CONN_REMOTE,
		    addr_format(&tp[k].remote, a));
		ctl_attr_put_str(nlh, HNCTL_A_CONN_LOCAL,
		    addr_format(&tp[k].local, a));
		mnl_attr_put_u32(nlh, HNCTL_A_CONN_RTT, tp[k].rtt_us);
		mnl_attr_put_u8(nlh, HNCTL_A_CONN_SECURE, tp[k].secure);
		memset(&st, 0, sizeof(st));
		st.bytes_in = tp[k].bytes_in;
		st.bytes_out = tp[k].bytes_out;
		st.dgrams_in = tp[k].dgrams_in;
		st.dgrams_out = tp[k].dgrams_out;
		st.drops = tp[k].drops;
		st.conns_open = 1;
		st.conns_total = 1;
		put_counters(nlh, &st);
		if (used + nlh->nlmsg_len > cap)
			break;
		memcpy(p + used, nlh, nlh->nlmsg_len);
		used += nlh->nlmsg_len;
	}
	return used;
}

static struct nlmsghdr *
build_tunnel(struct control *c, void *buf, uint16_t type, uint16_t flags,
    uint32_t seq, size_t i, bool peers)
{
	const struct tuntab_entry *e = &c->h->tab.v[i];
	const struct tundef *d = &e->def;
	struct nlmsghdr *nlh = ctl_msg_start(buf, type, flags, seq);
	uint8_t sk[KEYS_PK_LEN];
	struct tun_stats st;
	char state[200];
	size_t k;

	mnl_attr_put_u8(nlh, HNCTL_A_KIND, (uint8_t)d->kind);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, (uint8_t)d->proto);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, d->port);
	if (d->kind == TUN_EXPORT) {
		mnl_attr_put(nlh, HNCTL_A_HOST, 4, d->host);
		if (identity_export_key(&c->h->id, tun_proto_name(d->proto),
		    d->port, sk) == 0)
			put_key(nlh, HNCTL_A_SERVICE_KEY, sk);
		for (k = 0; k < d->nallow && !peers; k++)
			put_key(nlh, HNCTL_A_ALLOW, d->allow[k]);
	} else {
		put_key(nlh, HNCTL_A_PEER, d->peer);
		mnl_attr_put(nlh, HNCTL_A_LISTEN_IP, 4, d->listen.ip);
		mnl_attr_put_u16(nlh, HNCTL_A_LISTEN_PORT, d->listen.port);
		if (identity_export_key_of(d->peer, tun_proto_name(d->proto),
		    d->port, sk) == 0)
			put_key(nlh, HNCTL_A_SERVICE_KEY, sk);
	}
	mnl_attr_put_u8(nlh, HNCTL_A_ORIGIN, (uint8_t)d->origin);
	if (d->origin == TUN_ORIGIN_CONFIG)
		mnl_attr_put_u32(nlh, HNCTL_A_CONFIG_LINE, d->line);
	tuntab_state(&c->h->tab, i, state, sizeof(state));
	ctl_attr_put_str(nlh, HNCTL_A_STATE, state);
	if (tuntab_stats(&c->h->tab, i, &st))
		put_counters(nlh, &st);
	return nlh;
}

/*
 * Produce the next record of a dump: as many entries as fit, and
 * NLMSG_DONE after the last.  The table may change between records (a
 * dump is not a snapshot); positions past the end just end it.
 */
static void
dump_step(struct client *cl)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	uint64_t group[HNCTL_RECORD_MAX / 8];
	struct control *c = cl->ctl;
	struct nlmsghdr *nlh;
	bool peers = cl->dump == DUMP_PEERS;
	size_t len;

	while (cl->dump_pos < c->h->tab.n) {
		/* a tunnel and its connections go in one record */
		nlh = build_tunnel(c, buf, cl->dump_type, NLM_F_MULTI,
		    cl->dump_seq, cl->dump_pos, peers);
		memcpy(group, nlh, nlh->nlmsg_len);
		len = nlh->nlmsg_len;
		if (peers)
			len += build_conns(c, (uint8_t *)group + len,
			    sizeof(group) - len, cl->dump_seq, cl->dump_pos);
		if (cl->curlen + len > sizeof(cl->cur) && cl->curlen > 0) {
			out_flush_cur(cl);
			return;		/* the rest when this one is sent */
		}
		out_put_group(cl, (const uint8_t *)group, len);
		cl->dump_pos++;
	}
	out_put(cl, ctl_msg_done(buf, cl->dump_seq));
	out_flush_cur(cl);
	cl->dump = DUMP_NONE;
}

/* ------------------------------------------------------------ handlers */

struct request {
	struct client		*cl;
	const struct nlmsghdr	*nlh;
	const struct ctl_attrs	*a;
	char			 msg[HND_MSG_LEN];
};

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The DHT node's state as STATUS attributes 31-39 (ctl_proto.h). */
static void
put_dht(struct nlmsghdr *nlh, const struct node *n)
{
	struct node_status st;
	char a[HN_ADDR_STRLEN];

	node_get_status(n, &st);
	ctl_attr_put_str(nlh, HNCTL_A_DHT_MODE, st.mode);
	mnl_attr_put_u8(nlh, HNCTL_A_DHT_BOOTSTRAPPED, st.bootstrapped);
	mnl_attr_put_u8(nlh, HNCTL_A_DHT_PERSISTENT, st.persistent);
	mnl_attr_put_u8(nlh, HNCTL_A_DHT_FIREWALLED, st.firewalled);
	if (st.has_public)
		ctl_attr_put_str(nlh, HNCTL_A_DHT_PUBLIC,
		    addr_format(&st.public_addr, a));
	mnl_attr_put_u32(nlh, HNCTL_A_DHT_NODES, st.table_size);
	ctl_attr_put_str(nlh, HNCTL_A_DHT_ADDR, addr_format(&st.server, a));
	mnl_attr_put_u16(nlh, HNCTL_A_DHT_CLIENT_PORT, st.client_port);
	mnl_attr_put_u32(nlh, HNCTL_A_DHT_N_BOOTSTRAP, st.nbootstrap);
}

static int
handle_status(struct request *r)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct hnd *h = r->cl->ctl->h;
	struct nlmsghdr *nlh;
	struct tun_stats st, sum;
	unsigned ex, im, rt;
	uint64_t up = (uint64_t)(mono_now() - h->started);
	char line[128];
	bool any = false;
	size_t i;

	nlh = ctl_msg_start(buf, HNCTL_MSG_STATUS, 0, r->nlh->nlmsg_seq);
	ctl_attr_put_str(nlh, HNCTL_A_VERSION, HND_VERSION);
	mnl_attr_put_u32(nlh, HNCTL_A_PID, (uint32_t)getpid());
	mnl_attr_put(nlh, HNCTL_A_UPTIME, sizeof(up), &up);
	put_key(nlh, HNCTL_A_KEY, h->id.base.pk);
	ctl_attr_put_str(nlh, HNCTL_A_CONFIG_PATH,
	    h->config_path ? h->config_path : "");
	ctl_attr_put_str(nlh, HNCTL_A_STATE_DIR, h->state_dir);
	mnl_attr_put_u8(nlh, HNCTL_A_LOG_LEVEL, (uint8_t)log_get_level());
	ctl_attr_put_str(nlh, HNCTL_A_DHT_STATE, hnd_dht_state(h, line,
	    sizeof(line)));
	if (hnd_node(h))
		put_dht(nlh, hnd_node(h));
	ctl_attr_put_str(nlh, HNCTL_A_TRANSPORT,
	    h->transport ? h->transport : "not built");
	hnd_counts(h, &ex, &im, &rt);
	mnl_attr_put_u32(nlh, HNCTL_A_N_EXPORTS, ex);
	mnl_attr_put_u32(nlh, HNCTL_A_N_IMPORTS, im);
	mnl_attr_put_u32(nlh, HNCTL_A_N_RUNTIME, rt);
	/* the sum of every running tunnel's counters */
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < h->tab.n; i++) {
		if (!tuntab_stats(&h->tab, i, &st))
			continue;
		any = true;
		sum.conns_open += st.conns_open;
		sum.conns_total += st.conns_total;
		sum.bytes_in += st.bytes_in;
		sum.bytes_out += st.bytes_out;
		sum.dgrams_in += st.dgrams_in;
		sum.dgrams_out += st.dgrams_out;
		sum.drops += st.drops;
	}
	if (any)
		put_counters(nlh, &sum);
	out_put(r->cl, nlh);
	return 0;
}

static int
handle_key(struct request *r)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct hnd *h = r->cl->ctl->h;
	struct nlmsghdr *nlh;

	nlh = ctl_msg_start(buf, HNCTL_MSG_KEY, 0, r->nlh->nlmsg_seq);
	put_key(nlh, HNCTL_A_KEY, h->id.base.pk);
	put_key(nlh, HNCTL_A_CLIENT_KEY, h->id.client.pk);
	out_put(r->cl, nlh);
	return 0;
}

static int
start_dump(struct request *r, enum dump_kind kind)
{
	r->cl->dump = kind;
	r->cl->dump_pos = 0;
	r->cl->dump_seq = r->nlh->nlmsg_seq;
	r->cl->dump_type = r->nlh->nlmsg_type;
	return 0;
}

static int
handle_list(struct request *r)
{
	return start_dump(r, DUMP_TUNNELS);
}

static int
handle_peers(struct request *r)
{
	return start_dump(r, DUMP_PEERS);
}

int
control_tundef_from_attrs(const struct ctl_attrs *a, uint16_t type,
    struct tundef *d, char *why, size_t cap)
{
	static const uint8_t lo[4] = { 127, 0, 0, 1 };
	const uint8_t *p;
	size_t i, j;

	memset(d, 0, sizeof(*d));
	d->kind = a->tb[HNCTL_A_PEER] ? TUN_IMPORT : TUN_EXPORT;
	if (a->tb[HNCTL_A_KIND] &&
	    ctl_attr_u8(a, HNCTL_A_KIND, 0) != (uint8_t)d->kind) {
		snprintf(why, cap, "kind does not match the attributes");
		return -EINVAL;
	}
	d->proto = (enum tun_proto)ctl_attr_u8(a, HNCTL_A_PROTO, 0);
	if (tun_proto_name(d->proto) == NULL) {
		snprintf(why, cap, "proto must be tcp, udp or tcpudp");
		return -EINVAL;
	}
	if ((d->port = ctl_attr_u16(a, HNCTL_A_PORT, 0)) == 0) {
		snprintf(why, cap, "port must be 1-65535");
		return -EINVAL;
	}
	if (d->kind == TUN_IMPORT) {
		memcpy(d->peer, ctl_attr_bin(a, HNCTL_A_PEER), KEYS_PK_LEN);
		p = ctl_attr_bin(a, HNCTL_A_LISTEN_IP);
		memcpy(d->listen.ip, p ? p : lo, 4);
		d->listen.port = ctl_attr_u16(a, HNCTL_A_LISTEN_PORT, d->port);
		if (d->listen.port == 0) {
			snprintf(why, cap, "listen port must be 1-65535");
			return -EINVAL;
		}
		if (a->nallow || a->tb[HNCTL_A_HOST]) {
			snprintf(why, cap, "host and allow are for exports");
			return -EINVAL;
		}
		return 0;
	}
	if (a->tb[HNCTL_A_LISTEN_IP] || a->tb[HNCTL_A_LISTEN_PORT]) {
		snprintf(why, cap, "listen is for imports (give a peer key)");
		return -EINVAL;
	}
	if (type == HNCTL_MSG_TUNNEL_DEL)
		return 0;
	p = ctl_attr_bin(a, HNCTL_A_HOST);
	memcpy(d->host, p ? p : lo, 4);
	for (i = 0; i < a->nallow; i++) {
		memcpy(d->allow[i], mnl_attr_get_payload(a->allow[i]),
		    KEYS_PK_LEN);
		for (j = 0; j < i; j++) {
			if (memcmp(d->allow[i], d->allow[j], KEYS_PK_LEN) == 0) {
				snprintf(why, cap, "allow key listed twice");
				return -EINVAL;
			}
		}
	}
	d->nallow = a->nallow;
	return 0;
}

static void
log_change(const struct request *r, int rc)
{
	const struct ucred *u = &r->cl->cred;

	log_info("control: %s by uid %u gid %u pid %d: %s%s",
	    ctl_msg_name(r->nlh->nlmsg_type), (unsigned)u->uid,
	    (unsigned)u->gid, (int)u->pid, rc < 0 ? "refused: " : "",
	    r->msg);
}

static int
handle_add(struct request *r)
{
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	struct control *c = r->cl->ctl;
	struct tundef d;
	int rc, i;

	if ((rc = control_tundef_from_attrs(r->a, HNCTL_MSG_TUNNEL_ADD, &d,
	    r->msg, sizeof(r->msg))) < 0)
		return rc;
	if ((rc = hnd_tunnel_add(c->h, &d, r->msg)) < 0)
		return rc;
	if ((i = tuntab_find(&c->h->tab, &d)) >= 0) {
		struct nlmsghdr *nlh = build_tunnel(c, buf,
		    HNCTL_MSG_TUNNEL_ADD, 0, r->nlh->nlmsg_seq, (size_t)i,
		    false);

		/* what the other side needs to import it */
		put_key(nlh, HNCTL_A_KEY, c->h->id.base.pk);
		out_put(r->cl, nlh);
	}
	return 0;
}

static int
handle_del(struct request *r)
{
	struct tundef d;
	int rc;

	if ((rc = control_tundef_from_attrs(r->a, HNCTL_MSG_TUNNEL_DEL, &d,
	    r->msg, sizeof(r->msg))) < 0)
		return rc;
	return hnd_tunnel_del(r->cl->ctl->h, &d, r->msg);
}

static int
handle_reload(struct request *r)
{
	struct control *c = r->cl->ctl;
	struct tuntab_diff diff;
	int rc;

	if (c->hooks.reload)
		rc = c->hooks.reload(c->hooks.ctx, &diff, r->msg);
	else
		rc = hnd_reload(c->h, &diff, r->msg);
	return rc;
}

static int
handle_log_level(struct request *r)
{
	int lvl = ctl_attr_u8(r->a, HNCTL_A_LOG_LEVEL, 0);

	if (lvl < LOG_LVL_ERR || lvl > LOG_LVL_DEBUG) {
		snprintf(r->msg, sizeof(r->msg), "log level must be 3 (error) "
		    "to 7 (debug)");
		return -EINVAL;
	}
	log_set_level((enum log_level)lvl);
	snprintf(r->msg, sizeof(r->msg), "log level is %s",
	    log_level_name((enum log_level)lvl));
	return 0;
}

/*
 * The dispatcher.  `changes`: log who asked.  `dump`: the handler starts
 * a dump, which ends with NLMSG_DONE instead of an acknowledgement.
 */
static const struct handler {
	uint16_t	type;
	bool		changes;
	bool		dump;
	int		(*fn)(struct request *r);
} handlers[] = {
	{ HNCTL_MSG_STATUS,	false,	false,	handle_status },
	{ HNCTL_MSG_KEY,	false,	false,	handle_key },
	{ HNCTL_MSG_TUNNEL_LIST, false,	true,	handle_list },
	{ HNCTL_MSG_PEER_LIST,	false,	true,	handle_peers },
	{ HNCTL_MSG_TUNNEL_ADD,	true,	false,	handle_add },
	{ HNCTL_MSG_TUNNEL_DEL,	true,	false,	handle_del },
	{ HNCTL_MSG_RELOAD,	true,	false,	handle_reload },
	{ HNCTL_MSG_LOG_LEVEL,	true,	false,	handle_log_level },
};

static const struct handler *
handler_find(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == type)
			return &handlers[i];
	return NULL;
}

/* One request message that passed ctl_msg_check(): always answered. */
static void
dispatch(struct client *cl, const struct nlmsghdr *nlh)
{
	const struct handler *hd;
	struct ctl_attrs a;
	struct request r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.cl = cl;
	r.nlh = nlh;
	r.a = &a;
	if (!(nlh->nlmsg_flags & NLM_F_REQUEST)) {
		reply_error(cl, nlh, nlh->nlmsg_seq, -EINVAL,
		    "not a request (NLM_F_REQUEST missing)");
		return;
	}
	if ((hd = handler_find(nlh->nlmsg_type)) == NULL) {
		snprintf(r.msg, sizeof(r.msg), "unknown request type %u",
		    nlh->nlmsg_type);
		reply_error(cl, nlh, nlh->nlmsg_seq, -EOPNOTSUPP, r.msg);
		return;
	}
	if (ctl_msg_parse(nlh, &a) < 0) {
		snprintf(r.msg, sizeof(r.msg), "malformed attribute: %s",
		    a.bad);
		reply_error(cl, nlh, nlh->nlmsg_seq, -EINVAL, r.msg);
		return;
	}
	rc = hd->fn(&r);
	if (hd->changes)
		log_change(&r, rc);
	if (hd->changes && rc == 0 && cl->ctl->hooks.changed)
		cl->ctl->hooks.changed(cl->ctl->hooks.ctx);
	if (hd->dump && rc == 0)
		return;
	reply_error(cl, nlh, nlh->nlmsg_seq, rc, r.msg[0] ? r.msg : NULL);
}

/*
 * Every message of one received record, in order.  A dump must be the
 * last request of its record: later ones get -EBUSY (before the dump's
 * entries, which are produced as the client reads).
 */
static void
client_input(struct client *cl, const uint8_t *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	char msg[128];
	size_t adv;
	int rc;

	while (len > 0) {
		nlh = (const struct nlmsghdr *)(const void *)buf;
		if ((rc = ctl_msg_check(nlh, len)) < 0) {
			uint32_t seq = len >= sizeof(*nlh) ? nlh->nlmsg_seq : 0;

			if (rc == -EPROTONOSUPPORT)
				snprintf(msg, sizeof(msg), "control protocol "
				    "version %u is not supported (hypernatd "
				    "speaks %d)", ((const struct hnctl_hdr *)
				    mnl_nlmsg_get_payload(nlh))->version,
				    HNCTL_VERSION);
			else
				snprintf(msg, sizeof(msg), "malformed message "
				    "(%zu bytes)", len);
			reply_error(cl, len >= sizeof(*nlh) ? nlh : NULL, seq,
			    rc, msg);
			log_debug("control: client pid %d: %s",
			    (int)cl->cred.pid, msg);
			return;	/* framing lost: drop the rest */
		}
		if (cl->dump != DUMP_NONE)
			reply_error(cl, nlh, nlh->nlmsg_seq, -EBUSY, "a dump "
			    "must be the last request of its record");
		else if (cl->queued + cl->curlen > CONTROL_QUEUE_MAX)
			reply_error(cl, nlh, nlh->nlmsg_seq, -ENOBUFS, "too "
			    "many requests in one record");
		else
			dispatch(cl, nlh);
		adv = MNL_ALIGN(nlh->nlmsg_len);
		if (adv >= len)
			break;
		buf += adv;
		len -= adv;
	}
}

/* ------------------------------------------------------------ clients */

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *cl = container_of(w, struct client, rio);
	uint64_t buf[HNCTL_RECORD_MAX / 8];
	ssize_t n;

	n = recv(cl->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("control: client pid %d: %s", (int)cl->cred.pid,
		    strerror(errno));
		client_close(cl);
		return;
	}
	if (n == 0) {
		client_close(cl);
		return;
	}
	ev_timer_again(loop, &cl->idle);
	if ((size_t)n > sizeof(buf)) {
		reply_error(cl, NULL, 0, -EMSGSIZE, "record larger than "
		    "16384 bytes");
	} else {
		client_input(cl, (const uint8_t *)buf, (size_t)n);
	}
	if (cl->dump != DUMP_NONE && cl->head == NULL)
		dump_step(cl);
	out_flush_cur(cl);
	client_update(cl);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *cl = container_of(w, struct client, wio);
	struct outrec *r;
	ssize_t n;

	while ((r = cl->head) != NULL) {
		n = send(cl->fd, r->data, r->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_debug("control: client pid %d: %s",
			    (int)cl->cred.pid, strerror(errno));
			client_close(cl);
			return;
		}
		cl->head = r->next;
		if (cl->head == NULL)
			cl->tail = &cl->head;
		cl->queued -= r->len;
		free(r);
		if (cl->head == NULL && cl->dump != DUMP_NONE)
			dump_step(cl);
	}
	client_update(cl);
}

/*
 * Watchers follow the queue: write while anything waits; read only while
 * nothing waits and no dump runs, so output is bounded per client.
 */
static void
client_update(struct client *cl)
{
	struct ev_loop *loop = cl->ctl->loop;

	if (cl->head != NULL)
		ev_io_start(loop, &cl->wio);
	else
		ev_io_stop(loop, &cl->wio);
	if (cl->head == NULL && cl->dump == DUMP_NONE)
		ev_io_start(loop, &cl->rio);
	else
		ev_io_stop(loop, &cl->rio);
}

static void
client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *cl = container_of(w, struct client, idle);

	log_debug("control: client pid %d idle, closed", (int)cl->cred.pid);
	client_close(cl);
}

static void accept_resume(struct control *c);

static void
client_close(struct client *cl)
{
	struct control *c = cl->ctl;
	struct client **pp;
	struct outrec *r;

	ev_io_stop(c->loop, &cl->rio);
	ev_io_stop(c->loop, &cl->wio);
	ev_timer_stop(c->loop, &cl->idle);
	close(cl->fd);
	while ((r = cl->head) != NULL) {
		cl->head = r->next;
		free(r);
	}
	for (pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	c->nclients--;
	free(cl);
	accept_resume(c);
}

static void
accept_pause(struct control *c, double seconds)
{
	ev_io_stop(c->loop, &c->aio);
	if (seconds > 0) {
		ev_timer_set(&c->resume, seconds, 0.);
		ev_timer_start(c->loop, &c->resume);
	}
}

static void
accept_resume(struct control *c)
{
	if (c->fd >= 0 && c->nclients < CONTROL_CLIENTS_MAX &&
	    !ev_is_active(&c->resume))
		ev_io_start(c->loop, &c->aio);
}

static void
resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	accept_resume(container_of(w, struct control, resume));
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *c = container_of(w, struct control, aio);
	struct client *cl;
	socklen_t len;
	int fd;

	fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("control: accept paused for 1 s");
			accept_pause(c, 1.);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED) {
			log_warn("control: accept");
		}
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warnx("control: out of memory for a client");
		close(fd);
		return;
	}
	cl->ctl = c;
	cl->fd = fd;
	cl->tail = &cl->head;
	len = sizeof(cl->cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cl->cred, &len) < 0) {
		cl->cred.pid = -1;
		cl->cred.uid = cl->cred.gid = (unsigned)-1;
	}
	ev_io_init(&cl->rio, client_read_cb, fd, EV_READ);
	ev_io_init(&cl->wio, client_write_cb, fd, EV_WRITE);
	ev_timer_init(&cl->idle, client_idle_cb, 0., CONTROL_IDLE_SECONDS);
	ev_timer_again(c->loop, &cl->idle);
	ev_io_start(c->loop, &cl->rio);
	cl->next = c->clients;
	c->clients = cl;
	if (++c->nclients >= CONTROL_CLIENTS_MAX) {
		log_warnx("control: %d clients, accept paused",
		    CONTROL_CLIENTS_MAX);
		accept_pause(c, 0.);
	}
}

/* ------------------------------------------------------------ listener */

struct control *
control_new(struct hnd *h, struct ev_loop *loop,
    const struct control_hooks *hooks)
{
	struct control *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->h = h;
	c->loop = loop;
	if (hooks)
		c->hooks = *hooks;
	c->fd = -1;
	ev_init(&c->resume, resume_cb);
	return c;
}

/*
 * Is somebody listening on `path`?  0: nobody (a stale file was removed,
 * or there was none), -EADDRINUSE: a live daemon, other -errno: cannot
 * tell.
 */
static int
probe_stale(const struct sockaddr_un *sun, char *err)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, HND_MSG_LEN, "control socket %s: exists and is "
		    "not a socket", sun->sun_path);
		return -EEXIST;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, HND_MSG_LEN, "control socket %s: another "
		    "hypernatd is running", sun->sun_path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED) {
		rc = -errno;
		snprintf(err, HND_MSG_LEN, "control socket %s: %s",
		    sun->sun_path, strerror(errno));
		return rc;
	}
	log_info("control: removing stale socket %s", sun->sun_path);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, HND_MSG_LEN, "control socket %s: %s",
		    sun->sun_path, strerror(errno));
		return rc;
	}
	return 0;
}

static void
set_group(const char *path, const char *group)
{
	struct group *gr;

	if (group == NULL || group[0] == '\0')
		return;
	if ((gr = getgrnam(group)) == NULL) {
		log_debug("control: group %s does not exist, socket group "
		    "unchanged", group);
		return;
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_warn("control: chown %s to group %s", path, group);
}

int
control_listen(struct control *c, const char *path, const char *group,
    char *err)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, HND_MSG_LEN, "control socket %s: path too long",
		    path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	err[0] = '\0';
	if ((rc = probe_stale(&sun, err)) < 0) {
		if (err[0] == '\0')
			snprintf(err, HND_MSG_LEN, "control socket %s: %s",
			    path, strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0)
		goto fail_close;
	if (chmod(path, 0660) < 0 || lstat(path, &st) < 0 ||
	    listen(fd, 16) < 0) {
		rc = -errno;
		unlink(path);
		close(fd);
		snprintf(err, HND_MSG_LEN, "control socket %s: %s", path,
		    strerror(-rc));
		return rc;
	}
	set_group(path, group);
	if ((c->path = strdup(path)) == NULL) {
		unlink(path);
		close(fd);
		snprintf(err, HND_MSG_LEN, "out of memory");
		return -ENOMEM;
	}
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	ev_io_init(&c->aio, accept_cb, fd, EV_READ);
	ev_io_start(c->loop, &c->aio);
	return 0;
fail_close:
	rc = -errno;
	close(fd);
	snprintf(err, HND_MSG_LEN, "control socket %s: %s", path,
	    strerror(-rc));
	return rc;
fail:
	rc = -errno;
	snprintf(err, HND_MSG_LEN, "control socket: %s", strerror(errno));
	return rc;
}

void
control_close(struct control *c)
{
	struct stat st;

	while (c->clients)
		client_close(c->clients);
	ev_timer_stop(c->loop, &c->resume);
	if (c->fd < 0)
		return;
	ev_io_stop(c->loop, &c->aio);
	close(c->fd);
	c->fd = -1;
	/* only our own socket: a newer daemon may have replaced it */
	if (lstat(c->path, &st) == 0 && st.st_dev == c->dev &&
	    st.st_ino == c->ino)
		unlink(c->path);
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	control_close(c);
	free(c->path);
	free(c);
}
