/*
 * ctl_msg.c - control protocol messages on libmnl
 */
#include <errno.h>
#include <string.h>

#include <linux/netlink.h>

#include "ctl_msg.h"

enum pol_type {
	POL_NONE = 0,		/* not known: skipped */
	POL_U8,
	POL_U16,
	POL_U32,
	POL_U64,
	POL_STR,
	POL_BIN,
};

struct pol {
	enum pol_type	type;
	uint16_t	len;	/* POL_BIN: exact length */
	const char	*name;
};

static const struct pol policy[HNCTL_A_MAX] = {
	[HNCTL_A_MESSAGE] = { POL_STR, 0, "message" },
	[HNCTL_A_VERSION] = { POL_STR, 0, "version" },
	[HNCTL_A_PID] = { POL_U32, 0, "pid" },
	[HNCTL_A_UPTIME] = { POL_U64, 0, "uptime" },
	[HNCTL_A_KEY] = { POL_BIN, 32, "key" },
	[HNCTL_A_CLIENT_KEY] = { POL_BIN, 32, "client key" },
	[HNCTL_A_CONFIG_PATH] = { POL_STR, 0, "config path" },
	[HNCTL_A_STATE_DIR] = { POL_STR, 0, "state dir" },
	[HNCTL_A_LOG_LEVEL] = { POL_U8, 0, "log level" },
	[HNCTL_A_DHT_STATE] = { POL_STR, 0, "dht state" },
	[HNCTL_A_KIND] = { POL_U8, 0, "kind" },
	[HNCTL_A_PROTO] = { POL_U8, 0, "proto" },
	[HNCTL_A_PORT] = { POL_U16, 0, "port" },
	[HNCTL_A_HOST] = { POL_BIN, 4, "host" },
	[HNCTL_A_LISTEN_IP] = { POL_BIN, 4, "listen address" },
	[HNCTL_A_LISTEN_PORT] = { POL_U16, 0, "listen port" },
	[HNCTL_A_PEER] = { POL_BIN, 32, "peer" },
	[HNCTL_A_ALLOW] = { POL_BIN, 32, "allow" },
	[HNCTL_A_ORIGIN] = { POL_U8, 0, "origin" },
	[HNCTL_A_SERVICE_KEY] = { POL_BIN, 32, "service key" },
	[HNCTL_A_STATE] = { POL_STR, 0, "state" },
	[HNCTL_A_N_EXPORTS] = { POL_U32, 0, "exports" },
	[HNCTL_A_N_IMPORTS] = { POL_U32, 0, "imports" },
	[HNCTL_A_N_RUNTIME] = { POL_U32, 0, "runtime" },
	[HNCTL_A_ADDED] = { POL_U32, 0, "added" },
	[HNCTL_A_REMOVED] = { POL_U32, 0, "removed" },
	[HNCTL_A_KEPT] = { POL_U32, 0, "kept" },
	[HNCTL_A_DROPPED] = { POL_U32, 0, "dropped" },
	[HNCTL_A_CONFIG_LINE] = { POL_U32, 0, "config line" },
	[HNCTL_A_TRANSPORT] = { POL_STR, 0, "transport" },
	[HNCTL_A_DHT_MODE] = { POL_STR, 0, "dht mode" },
	[HNCTL_A_DHT_BOOTSTRAPPED] = { POL_U8, 0, "dht bootstrapped" },
	[HNCTL_A_DHT_PERSISTENT] = { POL_U8, 0, "dht persistent" },
	[HNCTL_A_DHT_FIREWALLED] = { POL_U8, 0, "dht firewalled" },
	[HNCTL_A_DHT_PUBLIC] = { POL_STR, 0, "dht public address" },
	[HNCTL_A_DHT_NODES] = { POL_U32, 0, "dht nodes" },
	[HNCTL_A_DHT_ADDR] = { POL_STR, 0, "dht address" },
	[HNCTL_A_DHT_CLIENT_PORT] = { POL_U16, 0, "dht client port" },
	[HNCTL_A_DHT_N_BOOTSTRAP] = { POL_U32, 0, "dht bootstrap nodes" },
	[HNCTL_A_CONNS_OPEN] = { POL_U32, 0, "open connections" },
	[HNCTL_A_CONNS_TOTAL] = { POL_U64, 0, "connections" },
	[HNCTL_A_BYTES_IN] = { POL_U64, 0, "bytes in" },
	[HNCTL_A_BYTES_OUT] = { POL_U64, 0, "bytes out" },
	[HNCTL_A_DGRAMS_IN] = { POL_U64, 0, "datagrams in" },
	[HNCTL_A_DGRAMS_OUT] = { POL_U64, 0, "datagrams out" },
	[HNCTL_A_DROPS] = { POL_U64, 0, "drops" },
	[HNCTL_A_CONN_KEY] = { POL_BIN, 32, "connection key" },
	[HNCTL_A_CONN_PATH] = { POL_STR, 0, "connection path" },
	[HNCTL_A_CONN_REMOTE] = { POL_STR, 0, "connection remote" },
	[HNCTL_A_CONN_LOCAL] = { POL_STR, 0, "connection local" },
	[HNCTL_A_CONN_RTT] = { POL_U32, 0, "connection rtt" },
	[HNCTL_A_CONN_SECURE] = { POL_U8, 0, "connection encrypted" },
};

static const char *const msg_names[HNCTL_MSG_MAX] = {
	[HNCTL_MSG_STATUS] = "status",
	[HNCTL_MSG_KEY] = "key",
	[HNCTL_MSG_TUNNEL_LIST] = "list",
	[HNCTL_MSG_PEER_LIST] = "peers",
	[HNCTL_MSG_TUNNEL_ADD] = "add",
	[HNCTL_MSG_TUNNEL_DEL] = "del",
	[HNCTL_MSG_RELOAD] = "reload",
	[HNCTL_MSG_LOG_LEVEL] = "log-level",
	[HNCTL_MSG_CONN] = "connection",
};

static bool
has_family_hdr(uint16_t type)
{
	return type >= NLMSG_MIN_TYPE;
}

struct nlmsghdr *
ctl_msg_start(void *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct hnctl_hdr *h;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	if (has_family_hdr(type)) {
		h = mnl_nlmsg_put_extra_header(nlh, sizeof(*h));
		h->version = HNCTL_VERSION;
	}
	return nlh;
}

bool
ctl_msg_fits(const struct nlmsghdr *nlh, size_t payload)
{
	return nlh->nlmsg_len + MNL_ATTR_HDRLEN + MNL_ALIGN(payload) <=
	    HNCTL_RECORD_MAX;
}

void
ctl_attr_put_str(struct nlmsghdr *nlh, uint16_t type, const char *s)
{
	char buf[HNCTL_STR_MAX];
	size_t n = strlen(s);

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	mnl_attr_put(nlh, type, n + 1, buf);
}

struct nlmsghdr *
ctl_msg_error(void *buf, const struct nlmsghdr *req, uint32_t seq, int error,
    const char *msg)
{
	struct nlmsghdr *nlh = ctl_msg_start(buf, NLMSG_ERROR, 0, seq);
	struct nlmsgerr *e;

	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	if (req != NULL)
		memcpy(&e->msg, req, sizeof(*req));
	if (msg != NULL) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS | NLM_F_CAPPED;
		ctl_attr_put_str(nlh, HNCTL_A_MESSAGE, msg);
	} else {
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	}
	return nlh;
}

struct nlmsghdr *
ctl_msg_done(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = ctl_msg_start(buf, NLMSG_DONE, NLM_F_MULTI, seq);
	int32_t *err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));

	*err = 0;
	return nlh;
}

int
ctl_msg_check(const struct nlmsghdr *nlh, size_t len)
{
	const struct hnctl_hdr *h;

	if (len < sizeof(*nlh) || !mnl_nlmsg_ok(nlh, (int)len) ||
	    nlh->nlmsg_len > HNCTL_RECORD_MAX)
		return -EBADMSG;
	if (!has_family_hdr(nlh->nlmsg_type))
		return 0;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*h))
		return -EBADMSG;
	h = mnl_nlmsg_get_payload(nlh);
	if (h->version != HNCTL_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

static int
check_attr(const struct nlattr *at, const struct pol *p)
{
	const char *s;
	uint16_t len = mnl_attr_get_payload_len(at);

	switch (p->type) {
	case POL_U8:
		return len == 1 ? 0 : -EINVAL;
	case POL_U16:
		return len == 2 ? 0 : -EINVAL;
	case POL_U32:
		return len == 4 ? 0 : -EINVAL;
	case POL_U64:
		return len == 8 ? 0 : -EINVAL;
	case POL_STR:
		s = mnl_attr_get_payload(at);
		if (len == 0 || len > HNCTL_STR_MAX || s[len - 1] != '\0' ||
		    strlen(s) != (size_t)len - 1)
			return -EINVAL;
		return 0;
	case POL_BIN:
		return len == p->len ? 0 : -EINVAL;
	case POL_NONE:
		break;
	}
	return 0;
}

/* Walk the attributes from byte `off` of the message to its end. */
static int
parse_from(const struct nlmsghdr *nlh, size_t off, struct ctl_attrs *a)
{
	const struct nlattr *at;
	const struct pol *p;
	uint16_t type;
	size_t len = nlh->nlmsg_len;

	memset(a, 0, sizeof(*a));
	while (off < len) {
		at = (const struct nlattr *)(const void *)
		    ((const char *)nlh + off);
		if (len - off < sizeof(*at) || !mnl_attr_ok(at, (int)(len - off))) {
			a->bad = "attribute runs past the message";
			return -EINVAL;
		}
		off += MNL_ALIGN(at->nla_len);
		type = mnl_attr_get_type(at);
		if (type >= HNCTL_A_MAX || policy[type].type == POL_NONE)
			continue;	/* unknown: skipped, ctl_proto.h rules */
		p = &policy[type];
		if (check_attr(at, p) < 0) {
			a->bad = p->name;
			return -EINVAL;
		}
		if (type == HNCTL_A_ALLOW) {
			if (a->nallow >= HNCTL_ALLOW_MAX) {
				a->bad = "too many allow keys";
				return -EINVAL;
			}
			a->allow[a->nallow++] = at;
		}
		a->tb[type] = at;
	}
	return 0;
}

int
ctl_msg_parse(const struct nlmsghdr *nlh, struct ctl_attrs *a)
{
	size_t off = MNL_NLMSG_HDRLEN;

	if (has_family_hdr(nlh->nlmsg_type))
		off += MNL_ALIGN(sizeof(struct hnctl_hdr));
	return parse_from(nlh, off, a);
}

int
ctl_msg_parse_error(const struct nlmsghdr *nlh, int *error,
    struct ctl_attrs *a)
{
	const struct nlmsgerr *e;

	memset(a, 0, sizeof(*a));
	if (nlh->nlmsg_type != NLMSG_ERROR ||
	    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e))
		return -EBADMSG;
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error > 0 || e->error < -4095)
		return -EBADMSG;
	*error = e->error;
	return parse_from(nlh, MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*e)), a);
}

uint8_t
ctl_attr_u8(const struct ctl_attrs *a, int type, uint8_t def)
{
	return a->tb[type] ? mnl_attr_get_u8(a->tb[type]) : def;
}

uint16_t
ctl_attr_u16(const struct ctl_attrs *a, int type, uint16_t def)
{
	return a->tb[type] ? mnl_attr_get_u16(a->tb[type]) : def;
}

uint32_t
ctl_attr_u32(const struct ctl_attrs *a, int type, uint32_t def)
{
	return a->tb[type] ? mnl_attr_get_u32(a->tb[type]) : def;
}

uint64_t
ctl_attr_u64(const struct ctl_attrs *a, int type, uint64_t def)
{
	uint64_t v;

	if (a->tb[type] == NULL)
		return def;
	/* attributes are only 4-byte aligned: copy, do not cast */
	memcpy(&v, mnl_attr_get_payload(a->tb[type]), sizeof(v));
	return v;
}

const char *
ctl_attr_str(const struct ctl_attrs *a, int type, const char *def)
{
	return a->tb[type] ? mnl_attr_get_str(a->tb[type]) : def;
}

const uint8_t *
ctl_attr_bin(const struct ctl_attrs *a, int type)
{
	return a->tb[type] ? mnl_attr_get_payload(a->tb[type]) : NULL;
}

const char *
ctl_msg_name(uint16_t type)
{
	if (type == NLMSG_ERROR)
		return "error";
	if (type == NLMSG_DONE)
		return "done";
	if (type < HNCTL_MSG_MAX && msg_names[type] != NULL)
		return msg_names[type];
	return "unknown";
}
