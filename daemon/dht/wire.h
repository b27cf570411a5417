/*
 * wire.h - HyperDHT payload codecs and signables (spec/dht.md §12.3, §12.4)
 *
 * The values carried in dht-rpc messages of the HyperDHT commands.  As in
 * msg.h, `has_*` booleans mirror flag bits so that decode + encode is
 * byte-identical, decoders ignore trailing bytes (§2.9), fill their output
 * only when the whole value decoded, and pointers in decoded structs alias
 * the input buffer.  Every function returns 0 (decoders), the encoded
 * length (encoders), or -EBADMSG / -ENOSPC / -EINVAL.
 */
#ifndef HN_DHT_WIRE_H
#define HN_DHT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "cenc.h"

/* Handshake / holepunch modes (§12.3.4). */
#define DHT_MODE_FROM_CLIENT		0
#define DHT_MODE_FROM_SERVER		1
#define DHT_MODE_FROM_RELAY		2
#define DHT_MODE_FROM_SECOND_RELAY	3
#define DHT_MODE_REPLY			4

/* Announce flags (§12.3.2). */
#define DHT_ANN_PEER		0x01
#define DHT_ANN_REFRESH		0x02
#define DHT_ANN_SIGNATURE	0x04
#define DHT_ANN_BUMP		0x08

/* Namespace indexes under NS_BASE = H("hyperswarm/dht") (§12.2). */
#define DHT_NS_PEER_HANDSHAKE	0
#define DHT_NS_PEER_HOLEPUNCH	1
#define DHT_NS_ANNOUNCE		4
#define DHT_NS_UNANNOUNCE	5
#define DHT_NS_MUTABLE_PUT	6
#define DHT_NS_PLUGIN		10

/* peer record (§12.3.1): see struct cenc_peer. */
int	dht_peer_decode(struct cenc_peer *p, const uint8_t *buf, size_t len);
int	dht_peer_encode(const struct cenc_peer *p, uint8_t *buf, size_t cap);

/* announce / unannounce value (§12.3.2). */
struct dht_announce {
	bool		 has_peer;
	struct cenc_peer peer;		/* relays truncated to 3 */
	const uint8_t	*peer_enc;	/* exact peer bytes as received (signed) */
	size_t		 peer_enc_len;
	bool		 has_refresh;
	uint8_t		 refresh[32];
	bool		 has_signature;
	uint8_t		 signature[64];
	uint64_t	 bump;		/* 0: absent (flag 0x08 clear) */
};

int	dht_announce_decode(struct dht_announce *a, const uint8_t *buf,
	    size_t len);
/* Encodes `peer` (peer_enc is ignored when encoding). */
int	dht_announce_encode(const struct dht_announce *a, uint8_t *buf,
	    size_t cap);

/* lookup reply (§12.3.3): array(peer) then an optional uint bump. */
#define DHT_LOOKUP_PEERS_MAX	32
struct dht_lookup_reply {
	size_t		 npeers;	/* at most DHT_LOOKUP_PEERS_MAX kept */
	struct cenc_peer peers[DHT_LOOKUP_PEERS_MAX];
	uint64_t	 bump;		/* absent on the wire (6.5.1) -> 0 */
};

int	dht_lookup_reply_decode(struct dht_lookup_reply *r, const uint8_t *buf,
	    size_t len);
/* Always writes the bump (6.34 form). */
int	dht_lookup_reply_encode(const struct dht_lookup_reply *r, uint8_t *buf,
	    size_t cap);

/* handshake (§12.3.4); noise is opaque. */
struct dht_handshake {
	uint64_t	 mode;
	const uint8_t	*noise;		/* NULL when absent or empty */
	size_t		 noise_len;
	bool		 has_peer_addr;
	struct hn_addr	 peer_addr;
	bool		 has_relay_addr;
	struct hn_addr	 relay_addr;
};

int	dht_handshake_decode(struct dht_handshake *h, const uint8_t *buf,
	    size_t len);
int	dht_handshake_encode(const struct dht_handshake *h, uint8_t *buf,
	    size_t cap);

/* holepunch (§12.3.5); payload is opaque. */
struct dht_holepunch {
	uint64_t	 mode;
	uint64_t	 id;
	const uint8_t	*payload;
	size_t		 payload_len;
	bool		 has_peer_addr;
	struct hn_addr	 peer_addr;
};

int	dht_holepunch_decode(struct dht_holepunch *h, const uint8_t *buf,
	    size_t len);
int	dht_holepunch_encode(const struct dht_holepunch *h, uint8_t *buf,
	    size_t cap);

/* mutablePut request value and mutableGet response value (§12.3.6). */
struct dht_mutable {
	uint8_t		 public_key[32];	/* put only */
	uint64_t	 seq;
	const uint8_t	*value;
	size_t		 value_len;
	uint8_t		 signature[64];
};

int	dht_mutable_put_decode(struct dht_mutable *m, const uint8_t *buf,
	    size_t len);
int	dht_mutable_put_encode(const struct dht_mutable *m, uint8_t *buf,
	    size_t cap);
int	dht_mutable_get_decode(struct dht_mutable *m, const uint8_t *buf,
	    size_t len);
int	dht_mutable_get_encode(const struct dht_mutable *m, uint8_t *buf,
	    size_t cap);

/* pluginRequest (§12.3.7, 6.34 only). */
struct dht_plugin_request {
	const char	*plugin;
	size_t		 plugin_len;
	uint64_t	 version;
	uint64_t	 command;
	bool		 has_value;
	const uint8_t	*value;
	size_t		 value_len;
};

int	dht_plugin_request_decode(struct dht_plugin_request *p,
	    const uint8_t *buf, size_t len);
int	dht_plugin_request_encode(const struct dht_plugin_request *p,
	    uint8_t *buf, size_t cap);

/* NS_<idx> = H(NS_BASE || idx). */
void	dht_ns(uint8_t out[32], uint8_t idx);

/*
 * The 64-byte announce / unannounce signable (§12.4):
 * ns || H(target || node_id || token || peer_enc || refresh?).
 * `ns_idx` is DHT_NS_ANNOUNCE or DHT_NS_UNANNOUNCE; refresh may be NULL.
 */
void	dht_announce_signable(uint8_t out[64], uint8_t ns_idx,
	    const uint8_t target[32], const uint8_t node_id[32],
	    const uint8_t token[32], const uint8_t *peer_enc, size_t peer_enc_len,
	    const uint8_t *refresh);

/* NS_MUTABLE_PUT || H(uint seq || buffer value). */
void	dht_mutable_signable(uint8_t out[64], uint64_t seq,
	    const uint8_t *value, size_t value_len);

#endif
