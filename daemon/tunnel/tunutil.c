/*
 * tunutil.c - queues, backoff, counters and state lines for the tunnels
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunutil.h"

void
tunq_init(struct tunq *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

void
tunq_free(struct tunq *q)
{
	free(q->buf);
	q->buf = NULL;
	q->off = q->len = q->cap = 0;
}

static int
tunq_reserve(struct tunq *q, size_t len)
{
	size_t need = q->len + len, ncap;
	uint8_t *nb;

	if (q->off + need <= q->cap)
		return 0;
	if (need <= q->cap) {
		memmove(q->buf, q->buf + q->off, q->len);
		q->off = 0;
		return 0;
	}
	ncap = q->cap ? q->cap : 4096;
	while (ncap < need)
		ncap *= 2;
	if (ncap > q->max && q->max >= need)
		ncap = q->max;
	if ((nb = malloc(ncap)) == NULL)
		return -ENOMEM;
	if (q->len)
		memcpy(nb, q->buf + q->off, q->len);
	free(q->buf);
	q->buf = nb;
	q->cap = ncap;
	q->off = 0;
	return 0;
}

int
tunq_push(struct tunq *q, const void *p, size_t len)
{
	int r;

	if (len > q->max || q->len > q->max - len)
		return -ENOBUFS;
	if (len == 0)
		return 0;
	if ((r = tunq_reserve(q, len)) != 0)
		return r;
	memcpy(q->buf + q->off + q->len, p, len);
	q->len += len;
	return 0;
}

const uint8_t *
tunq_peek(const struct tunq *q, size_t *len)
{
	*len = q->len;
	return q->len ? q->buf + q->off : NULL;
}

void
tunq_consume(struct tunq *q, size_t n)
{
	if (n >= q->len) {
		q->off = q->len = 0;
		return;
	}
	q->off += n;
	q->len -= n;
}

int
tunq_push_dgram(struct tunq *q, const void *p, size_t len)
{
	uint8_t hdr[2];
	int r;

	if (len > 0xffff)
		return -EMSGSIZE;
	if (q->len > q->max || q->max - q->len < len + 2)
		return -ENOBUFS;
	hdr[0] = len & 0xff;
	hdr[1] = len >> 8;
	if ((r = tunq_reserve(q, len + 2)) != 0)
		return r;
	memcpy(q->buf + q->off + q->len, hdr, 2);
	if (len)
		memcpy(q->buf + q->off + q->len + 2, p, len);
	q->len += len + 2;
	return 0;
}

int
tunq_pop_dgram(struct tunq *q, void *out, size_t cap)
{
	const uint8_t *p;
	size_t n, dl;

	p = tunq_peek(q, &n);
	if (n < 2)
		return 0;
	dl = (size_t)p[0] | (size_t)p[1] << 8;
	if (n < 2 + dl) {	/* cannot happen: records are pushed whole */
		tunq_consume(q, n);
		return 0;
	}
	if (dl > cap) {
		tunq_consume(q, 2 + dl);
		return -EMSGSIZE;
	}
	memcpy(out, p + 2, dl);
	tunq_consume(q, 2 + dl);
	return (int)dl;
}

uint32_t
tun_backoff_ms(unsigned attempt, uint32_t rnd)
{
	uint32_t d = TUN_BACKOFF_BASE_MS;

	while (attempt-- > 0 && d < TUN_BACKOFF_MAX_MS)
		d *= 2;
	if (d > TUN_BACKOFF_MAX_MS)
		d = TUN_BACKOFF_MAX_MS;
	return d + rnd % (d / 4 + 1);
}

char *
tun_state_format(char *buf, size_t cap, const char *head,
    const struct tunnel_stats *s, const char *const path_names[TUN_NPATHS])
{
	size_t o = 0;
	bool first = true;
	uint64_t drops = tunnel_stats_drops(s);
	int i, r;

#define APPEND(...) do {						\
	r = snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__);	\
	if (r > 0)							\
		o += (size_t)r;						\
} while (0)
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	APPEND("%s, %u connection%s", head, s->conns_open,
	    s->conns_open == 1 ? "" : "s");
	if (s->conns_open) {
		for (i = 1; i < TUN_NPATHS; i++) {
			if (!s->by_path[i])
				continue;
			APPEND("%s%s %u", first ? " (" : ", ", path_names[i],
			    s->by_path[i]);
			first = false;
		}
		if (!first)
			APPEND(")");
	}
	if (drops)
		APPEND(", %llu drop%s", (unsigned long long)drops,
		    drops == 1 ? "" : "s");
#undef APPEND
	return buf;
}

const char *
tunutil_proto_name(int proto)
{
	switch (proto) {
	case 1: return "tcp";
	case 2: return "udp";
	case 3: return "tcpudp";
	}
	return NULL;
}

int
tunutil_proto_parse(const char *s, int *proto)
{
	for (int p = 1; p <= 3; p++) {
		if (strcmp(s, tunutil_proto_name(p)) == 0) {
			*proto = p;
			return 0;
		}
	}
	return -EINVAL;
}
