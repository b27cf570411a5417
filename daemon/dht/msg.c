/*
 * msg.c - dht-rpc message envelope (spec/dht.md §3)
 */
#include <errno.h>
#include <string.h>

#include "cenc.h"
#include "cursor.h"
#include "msg.h"

bool
dht_msg_is_rpc(const uint8_t *buf, size_t len)
{
	/* §1: shorter than 2 bytes is a holepunch probe */
	if (len < 2)
		return false;
	return buf[0] == DHT_MSG_REQUEST || buf[0] == DHT_MSG_RESPONSE;
}

static void
decode_closer(struct cur *c, struct dht_msg *m)
{
	size_t n, i;
	struct hn_addr skip;

	n = cenc_get_array_len(c, CENC_ARRAY_MAX, CENC_IPV4_SIZE);
	for (i = 0; i < n && cur_ok(c); i++) {
		if (i < DHT_MSG_CLOSER_MAX)
			cenc_get_ipv4(c, &m->closer[i]);
		else
			cenc_get_ipv4(c, &skip);
	}
	m->ncloser = n < DHT_MSG_CLOSER_MAX ? n : DHT_MSG_CLOSER_MAX;
}

int
dht_msg_decode(struct dht_msg *out, const uint8_t *buf, size_t len)
{
	struct dht_msg m;
	struct cur c;
	uint64_t flags;

	if (len < 2 || (buf[0] != DHT_MSG_REQUEST && buf[0] != DHT_MSG_RESPONSE))
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	cur_init_read(&c, buf, len);
	m.type = cur_get_u8(&c);
	flags = cenc_get_uint(&c);
	m.tid = cur_get_u16le(&c);
	cenc_get_ipv4(&c, &m.to);
	if ((m.has_id = (flags & DHT_REQ_ID) != 0))
		cenc_get_fixed32(&c, m.id);
	if ((m.has_token = (flags & DHT_REQ_TOKEN) != 0))
		cenc_get_fixed32(&c, m.token);
	if (m.type == DHT_MSG_REQUEST) {
		m.internal = (flags & DHT_REQ_INTERNAL) != 0;
		m.command = cenc_get_uint(&c);
		if ((m.has_target = (flags & DHT_REQ_TARGET) != 0))
			cenc_get_fixed32(&c, m.target);
	} else {
		if (flags & DHT_RES_CLOSER)
			decode_closer(&c, &m);
		if (flags & DHT_RES_ERROR)
			m.error = cenc_get_uint(&c);
	}
	if ((m.has_value = (flags & DHT_REQ_VALUE) != 0))
		m.value = cenc_get_buffer(&c, &m.value_len);
	if (!cur_ok(&c))
		return -EBADMSG;
	*out = m;
	return 0;
}

int
dht_msg_encode(const struct dht_msg *m, uint8_t *buf, size_t cap)
{
	struct cur c;
	unsigned flags = 0;

	if (m->type != DHT_MSG_REQUEST && m->type != DHT_MSG_RESPONSE)
		return -EINVAL;
	if (m->ncloser > DHT_MSG_CLOSER_MAX)
		return -EINVAL;
	if (m->has_id)
		flags |= DHT_REQ_ID;
	if (m->has_token)
		flags |= DHT_REQ_TOKEN;
	if (m->has_value)
		flags |= DHT_REQ_VALUE;
	if (m->type == DHT_MSG_REQUEST) {
		if (m->internal)
			flags |= DHT_REQ_INTERNAL;
		if (m->has_target)
			flags |= DHT_REQ_TARGET;
	} else {
		if (m->ncloser > 0)
			flags |= DHT_RES_CLOSER;
		if (m->error > 0)
			flags |= DHT_RES_ERROR;
	}
	cur_init_write(&c, buf, cap);
	cur_put_u8(&c, m->type);
	cenc_put_uint(&c, flags);
	cur_put_u16le(&c, m->tid);
	cenc_put_ipv4(&c, &m->to);
	if (m->has_id)
		cenc_put_fixed32(&c, m->id);
	if (m->has_token)
		cenc_put_fixed32(&c, m->token);
	if (m->type == DHT_MSG_REQUEST) {
		cenc_put_uint(&c, m->command);
		if (m->has_target)
			cenc_put_fixed32(&c, m->target);
	} else {
		if (m->ncloser > 0)
			cenc_put_ipv4_array(&c, m->closer, m->ncloser);
		if (m->error > 0)
			cenc_put_uint(&c, m->error);
	}
	if (m->has_value)
		cenc_put_buffer(&c, m->value, m->value_len);
	if (!cur_ok(&c))
		return -ENOSPC;
	return (int)c.off;
}
