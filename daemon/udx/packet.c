/*
 * packet.c - the UDX v1 wire format (spec/udx.md §4-§6)
 */
#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "packet.h"

bool
udx_packet_is_udx(const uint8_t *buf, size_t len)
{
	return len >= UDX_HEADER_SIZE && buf[0] == UDX_MAGIC &&
	    buf[1] == UDX_VERSION;
}

int
udx_packet_decode(const uint8_t *buf, size_t len, struct udx_packet *p)
{
	size_t rest, area;

	memset(p, 0, sizeof(*p));
	if (!udx_packet_is_udx(buf, len))
		return -EBADMSG;
	p->type = buf[2];
	p->data_offset = buf[3];
	p->id = load_u32le(buf + 4);
	p->rwnd = load_u32le(buf + 8);
	p->seq = load_u32le(buf + 12);
	p->ack = load_u32le(buf + 16);

	rest = len - UDX_HEADER_SIZE;
	if (p->data_offset > rest) {
		/* §4: dropped by the receiver (HEARTBEATs are answered first) */
		p->offset_overrun = true;
		return 0;
	}
	p->payload = buf + UDX_HEADER_SIZE + p->data_offset;
	p->payload_len = rest - p->data_offset;
	if (p->type & UDX_TYPE_SACK) {
		/* §4: blocks live in the extension if it is a proper prefix of
		 * the body, else they are the whole body. */
		if (p->data_offset > 0 && p->data_offset < rest) {
			area = p->data_offset;
		} else {
			area = rest;
			p->payload = buf + len;
			p->payload_len = 0;
		}
		p->sacks = buf + UDX_HEADER_SIZE;
		p->nsacks = area / UDX_SACK_BLOCK_SIZE;
		p->sack_area = area;
	}
	return 0;
}

void
udx_packet_sack(const struct udx_packet *p, size_t i, uint32_t *start,
    uint32_t *end)
{
	*start = load_u32le(p->sacks + i * UDX_SACK_BLOCK_SIZE);
	*end = load_u32le(p->sacks + i * UDX_SACK_BLOCK_SIZE + 4);
}

void
udx_header_write(uint8_t *buf, uint8_t type, uint8_t data_offset, uint32_t id,
    uint32_t rwnd, uint32_t seq, uint32_t ack)
{
	buf[0] = UDX_MAGIC;
	buf[1] = UDX_VERSION;
	buf[2] = type;
	buf[3] = data_offset;
	store_u32le(buf + 4, id);
	store_u32le(buf + 8, rwnd);
	store_u32le(buf + 12, seq);
	store_u32le(buf + 16, ack);
}

int
udx_packet_encode(uint8_t *buf, size_t cap, const struct udx_packet *p)
{
	size_t sack_bytes = p->nsacks * UDX_SACK_BLOCK_SIZE;
	size_t pad_len;
	bool sack_in_ext;
	struct cur c;
	uint8_t *hdr, *pad;

	if (p->offset_overrun)
		return -EINVAL;
	/* a decoded packet carries its trailing partial block along */
	if (p->sack_area > sack_bytes &&
	    p->sack_area < sack_bytes + UDX_SACK_BLOCK_SIZE)
		sack_bytes = p->sack_area;
	sack_in_ext = (p->type & UDX_TYPE_SACK) && p->data_offset > 0;
	if (sack_in_ext && sack_bytes > p->data_offset)
		return -EINVAL;
	cur_init_write(&c, buf, cap);
	hdr = cur_reserve(&c, UDX_HEADER_SIZE);
	if (hdr == NULL)
		return -ENOSPC;
	udx_header_write(hdr, p->type, p->data_offset, p->id, p->rwnd, p->seq,
	    p->ack);
	pad_len = p->data_offset;
	if (sack_in_ext) {
		cur_put_bytes(&c, p->sacks, sack_bytes);
		pad_len -= sack_bytes;
	}
	pad = cur_reserve(&c, pad_len);
	if (pad != NULL)
		memset(pad, 0, pad_len);
	if ((p->type & UDX_TYPE_SACK) && !sack_in_ext)
		cur_put_bytes(&c, p->sacks, sack_bytes);
	if (p->payload_len > 0)
		cur_put_bytes(&c, p->payload, p->payload_len);
	if (!cur_ok(&c))
		return -ENOSPC;
	return (int)c.off;
}

const char *
udx_packet_kind(uint8_t type)
{
	if (type & UDX_TYPE_HEARTBEAT)
		return "HEARTBEAT";
	if (type & UDX_TYPE_DESTROY)
		return "DESTROY";
	if ((type & (UDX_TYPE_DATA | UDX_TYPE_END)) ==
	    (UDX_TYPE_DATA | UDX_TYPE_END))
		return "DATA+END";
	if (type & UDX_TYPE_DATA)
		return "DATA";
	if (type & UDX_TYPE_END)
		return "END";
	if (type & UDX_TYPE_MESSAGE)
		return "MESSAGE";
	if (type & UDX_TYPE_SACK)
		return "ACK+SACK";
	return "ACK";
}
