/*
 * packet.h - the UDX v1 wire format (spec/udx.md §4-§6)
 *
 * A UDX packet is a 20-byte little-endian header, `data_offset` extension
 * bytes, then the payload.  The header names the *destination* stream id.
 * Decoding never copies: the result points into the caller's buffer and is
 * valid as long as that buffer is.  Nothing here allocates.
 */
#ifndef HN_UDX_PACKET_H
#define HN_UDX_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDX_HEADER_SIZE		20
#define UDX_MAGIC		0xff
#define UDX_VERSION		0x01

/* Type bits (§4); unknown bits are ignored by receivers. */
#define UDX_TYPE_DATA		0x01
#define UDX_TYPE_END		0x02
#define UDX_TYPE_SACK		0x04
#define UDX_TYPE_MESSAGE	0x08
#define UDX_TYPE_DESTROY	0x10
#define UDX_TYPE_HEARTBEAT	0x20

#define UDX_SACK_BLOCK_SIZE	8
#define UDX_MAX_SACK_BLOCKS	50
/* libudx reads every datagram into a buffer this big (§23). */
#define UDX_MAX_DATAGRAM	2048

/*
 * A decoded packet.  `sacks` points at `nsacks` raw 8-byte blocks (read them
 * with udx_packet_sack()); `payload` at the bytes after the extension.  When
 * `offset_overrun` is set, data_offset points past the end of the datagram:
 * the header fields are valid but there is no payload and no SACK area, and
 * a receiver drops the packet after answering a HEARTBEAT (§4, §9 step 4).
 */
struct udx_packet {
	uint8_t		 type;
	uint8_t		 data_offset;
	uint32_t	 id;
	uint32_t	 rwnd;
	uint32_t	 seq;
	uint32_t	 ack;
	const uint8_t	*sacks;
	size_t		 nsacks;
	size_t		 sack_area;	/* bytes of the SACK area, incl. a
					   partial block (0: nsacks * 8) */
	const uint8_t	*payload;
	size_t		 payload_len;
	bool		 offset_overrun;
};

/* True when `buf` starts with a UDX v1 header (magic, version, >= 20 bytes). */
bool		 udx_packet_is_udx(const uint8_t *buf, size_t len);

/*
 * Decode `len` bytes at `buf`.  Returns 0, or -EBADMSG when the datagram is
 * not UDX v1 (then `p` is zeroed).  A bad data offset is not an error: it is
 * reported in `p->offset_overrun`.
 */
int		 udx_packet_decode(const uint8_t *buf, size_t len,
		    struct udx_packet *p);

/* Block `i` (< p->nsacks) of a decoded packet: seqs [start, end) arrived. */
void		 udx_packet_sack(const struct udx_packet *p, size_t i,
		    uint32_t *start, uint32_t *end);

/* Write the 20-byte header at `buf` (which has room for it). */
void		 udx_header_write(uint8_t *buf, uint8_t type, uint8_t data_offset,
		    uint32_t id, uint32_t rwnd, uint32_t seq, uint32_t ack);

/*
 * Encode `p` into `buf` (capacity `cap`): header, then the extension (the
 * SACK blocks when they live in it, else `data_offset` zero bytes of
 * padding), then either the SACK blocks (SACK packets without extension)
 * or the payload.  Returns the datagram length, or -ENOSPC, or -EINVAL for
 * a packet with `offset_overrun` (it has no defined encoding).
 */
int		 udx_packet_encode(uint8_t *buf, size_t cap,
		    const struct udx_packet *p);

/* A short name for the kind of packet ("DATA", "ACK+SACK", ...), for logs. */
const char	*udx_packet_kind(uint8_t type);

/* Wrapping sequence comparisons (§7). */
static inline int32_t
udx_seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool
udx_seq_lt(uint32_t a, uint32_t b)
{
	return udx_seq_diff(a, b) < 0;
}

static inline bool
udx_seq_le(uint32_t a, uint32_t b)
{
	return udx_seq_diff(a, b) <= 0;
}

#endif
