/*
 * msg.h - the dht-rpc message envelope (spec/dht.md §3)
 *
 * One message per UDP datagram: a request (byte 0 = 0x03) or a response
 * (0x13).  Which optional fields are present is given by booleans that
 * mirror the flag bits one to one, so a decoded message re-encodes to the
 * same bytes.  Decoding is all or nothing: dht_msg_decode() fills `m` only
 * from a datagram that decoded whole; `value` then points into the
 * datagram, so the caller keeps the bytes alive while it uses `m`.
 */
#ifndef HN_DHT_MSG_H
#define HN_DHT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define DHT_MSG_VERSION		3
#define DHT_MSG_REQUEST		0x03	/* (0 << 4) | version */
#define DHT_MSG_RESPONSE	0x13	/* (1 << 4) | version */

/* Request flags (§3.2). */
#define DHT_REQ_ID		0x01
#define DHT_REQ_TOKEN		0x02
#define DHT_REQ_INTERNAL	0x04
#define DHT_REQ_TARGET		0x08
#define DHT_REQ_VALUE		0x10

/* Response flags (§3.3): bits 2 and 3 differ from the request's. */
#define DHT_RES_ID		0x01
#define DHT_RES_TOKEN		0x02
#define DHT_RES_CLOSER		0x04
#define DHT_RES_ERROR		0x08
#define DHT_RES_VALUE		0x10

#define DHT_MSG_REQ_MIN		11
#define DHT_MSG_RES_MIN		10

/* Internal (dht-rpc) commands, request flag 0x04 set (§7). */
#define DHT_CMD_PING		0
#define DHT_CMD_PING_NAT	1
#define DHT_CMD_FIND_NODE	2
#define DHT_CMD_DOWN_HINT	3
#define DHT_CMD_DELAYED_PING	4

/* HyperDHT commands, internal flag clear (§12.1). */
#define DHT_CMD_PEER_HANDSHAKE	0
#define DHT_CMD_PEER_HOLEPUNCH	1
#define DHT_CMD_FIND_PEER	2
#define DHT_CMD_LOOKUP		3
#define DHT_CMD_ANNOUNCE	4
#define DHT_CMD_UNANNOUNCE	5
#define DHT_CMD_MUTABLE_PUT	6
#define DHT_CMD_MUTABLE_GET	7
#define DHT_CMD_IMMUTABLE_PUT	8
#define DHT_CMD_IMMUTABLE_GET	9
#define DHT_CMD_PLUGIN		10

/* Error codes of the response `error` field (§3.4, §12.2). */
#define DHT_ERR_NONE		0
#define DHT_ERR_UNKNOWN_COMMAND	1
#define DHT_ERR_INVALID_TOKEN	2
#define DHT_ERR_SEQ_REUSED	16
#define DHT_ERR_SEQ_TOO_LOW	17

/*
 * closerNodes kept by the decoder; JS sends at most k = 20.  Longer lists
 * are accepted (as JS does) and the excess skipped.
 */
#define DHT_MSG_CLOSER_MAX	32

/* Largest datagram we build. */
#define DHT_MSG_MAX		2048

#define DHT_ID_LEN		32

struct dht_msg {
	uint8_t		 type;		/* DHT_MSG_REQUEST or DHT_MSG_RESPONSE */
	uint16_t	 tid;
	struct hn_addr	 to;
	bool		 has_id;
	uint8_t		 id[DHT_ID_LEN];
	bool		 has_token;
	uint8_t		 token[32];
	/* request only */
	bool		 internal;
	uint64_t	 command;
	bool		 has_target;
	uint8_t		 target[32];
	/* response only */
	size_t		 ncloser;	/* 0: field absent */
	struct hn_addr	 closer[DHT_MSG_CLOSER_MAX];
	uint64_t	 error;		/* 0: field absent */
	/* both */
	bool		 has_value;	/* flag 0x10; value may still be NULL (§2.3) */
	const uint8_t	*value;
	size_t		 value_len;
};

/*
 * Decode one datagram.  Returns 0, -EBADMSG for anything malformed (too
 * short, other type byte, a field running past the end).  Trailing bytes
 * after the last field are ignored (§2.9).
 */
int		 dht_msg_decode(struct dht_msg *m, const uint8_t *buf, size_t len);

/*
 * Encode `m` into buf (cap bytes).  Returns the length, or -ENOSPC, or
 * -EINVAL for a bad type or more closer nodes than DHT_MSG_CLOSER_MAX.
 */
int		 dht_msg_encode(const struct dht_msg *m, uint8_t *buf, size_t cap);

/* True when a datagram is a DHT message by its first byte and length (§1). */
bool		 dht_msg_is_rpc(const uint8_t *buf, size_t len);

#endif
