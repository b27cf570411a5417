/*
 * payload.h - the messages around the Noise handshake and hole punching
 *
 *   noise_payload_*     handshake payload, the plaintext inside Noise
 *                       messages 1 and 2 (spec/connect.md §4)
 *   peer_handshake_*    PEER_HANDSHAKE request/response value (§5.1)
 *   peer_holepunch_*    PEER_HOLEPUNCH request/response value (§7.1)
 *   holepunch_payload_* holepunch payload (§7.2), its secretbox (§7.3)
 *                       and the address tokens (§7.4)
 *
 * Decoders follow the reference: non-minimal varints accepted, trailing
 * bytes ignored, nothing written to the output unless the whole message
 * decoded (on error *out is zeroed).  Lists longer than the fixed capacity
 * here are accepted and their extra entries skipped (a JS peer would accept
 * them; none sends that many).  Decoders return 0 or -EBADMSG; encoders 0,
 * -ENOSPC (output too small) or -EINVAL (a value the reference could not
 * have produced), and set *len.
 */
#ifndef HN_NOISE_PAYLOAD_H
#define HN_NOISE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* FIREWALL values (§4) */
#define NOISE_FIREWALL_UNKNOWN		0
#define NOISE_FIREWALL_OPEN		1
#define NOISE_FIREWALL_CONSISTENT	2
#define NOISE_FIREWALL_RANDOM		3

/* ERROR values (§4) */
#define NOISE_ERROR_NONE		0
#define NOISE_ERROR_ABORTED		1
#define NOISE_ERROR_VERSION_MISMATCH	2
#define NOISE_ERROR_TRY_LATER		3	/* hyperdht 6.34 only */

/* noisePayload flag bits */
#define NOISE_PAYLOAD_F_HOLEPUNCH	0x01
#define NOISE_PAYLOAD_F_ADDRESSES4	0x02
#define NOISE_PAYLOAD_F_ADDRESSES6	0x04
#define NOISE_PAYLOAD_F_UDX		0x08
#define NOISE_PAYLOAD_F_SECRET_STREAM	0x10
#define NOISE_PAYLOAD_F_RELAY_THROUGH	0x20	/* not sent by 6.5.1 */
#define NOISE_PAYLOAD_F_RELAY_ADDRS	0x40	/* not sent by 6.5.1 */

#define NOISE_PAYLOAD_RELAYS_MAX	32
#define NOISE_PAYLOAD_ADDR4_MAX		32
#define NOISE_PAYLOAD_ADDR6_MAX		8
#define NOISE_PAYLOAD_RELAY_ADDRS_MAX	8

/* PEER_HANDSHAKE / PEER_HOLEPUNCH modes (§5.1) */
#define PEER_MODE_FROM_CLIENT		0
#define PEER_MODE_FROM_SERVER		1
#define PEER_MODE_FROM_RELAY		2
#define PEER_MODE_FROM_SECOND_RELAY	3
#define PEER_MODE_REPLY			4

struct noise_ipv6 {
	uint8_t		ip[16];		/* network order */
	uint16_t	port;
};

/* holepunch relayInfo: an announce node and the server as it saw it. */
struct noise_relay_info {
	struct hn_addr	relay;		/* relayAddress */
	struct hn_addr	peer;		/* peerAddress */
};

/*
 * The handshake payload.  The encoder always writes version 1 and derives
 * the flags from the has_* fields and the list counts (flag 2/4 only for
 * non-empty lists, flag 64 whenever has_relay_addresses), in flag order;
 * `version` and `flags` are ignored when encoding.  A decoded payload whose
 * version is not 1 has only `version` set.
 */
struct noise_payload {
	uint64_t		version;
	uint64_t		flags;		/* as received */
	uint64_t		error;
	uint64_t		firewall;

	bool			has_holepunch;
	uint64_t		holepunch_id;
	size_t			nrelays;
	struct noise_relay_info	relays[NOISE_PAYLOAD_RELAYS_MAX];

	size_t			naddr4;
	struct hn_addr		addr4[NOISE_PAYLOAD_ADDR4_MAX];
	size_t			naddr6;
	struct noise_ipv6	addr6[NOISE_PAYLOAD_ADDR6_MAX];

	bool			has_udx;
	uint64_t		udx_version;	/* encoder writes 1 */
	bool			udx_reusable;	/* features bit 0 */
	uint64_t		udx_id;
	uint64_t		udx_seq;

	bool			has_secret_stream;
	uint64_t		secret_stream_version;	/* encoder writes 1 */

	bool			has_relay_through;
	uint64_t		relay_through_version;	/* encoder writes 1 */
	uint8_t			relay_through_pk[32];
	uint8_t			relay_through_token[32];

	bool			has_relay_addrs;
	size_t			nrelay_addrs;
	struct hn_addr		relay_addrs[NOISE_PAYLOAD_RELAY_ADDRS_MAX];
};

/* Upper bound of an encoded struct noise_payload. */
size_t	noise_payload_max_size(void);
int	noise_payload_encode(const struct noise_payload *p, uint8_t *out,
	    size_t cap, size_t *len);
int	noise_payload_decode(struct noise_payload *p, const uint8_t *in,
	    size_t len);

/*
 * PEER_HANDSHAKE value.  `noise` points into the decoded buffer (NULL with
 * noise_len 0 for an empty buffer, which no Noise message is).
 */
struct peer_handshake {
	uint64_t	mode;
	const uint8_t	*noise;
	size_t		noise_len;
	bool		has_peer;
	struct hn_addr	peer;		/* peerAddress */
	bool		has_relay;
	struct hn_addr	relay;		/* relayAddress */
};

int	peer_handshake_encode(const struct peer_handshake *m, uint8_t *out,
	    size_t cap, size_t *len);
int	peer_handshake_decode(struct peer_handshake *m, const uint8_t *in,
	    size_t len);

/* PEER_HOLEPUNCH value; `payload` points into the decoded buffer. */
struct peer_holepunch {
	uint64_t	mode;
	uint64_t	id;
	const uint8_t	*payload;
	size_t		payload_len;
	bool		has_peer;
	struct hn_addr	peer;		/* peerAddress */
};

int	peer_holepunch_encode(const struct peer_holepunch *m, uint8_t *out,
	    size_t cap, size_t *len);
int	peer_holepunch_decode(struct peer_holepunch *m, const uint8_t *in,
	    size_t len);

/* holepunch payload flag bits (§7.2) */
#define HOLEPUNCH_F_CONNECTED		0x01
#define HOLEPUNCH_F_PUNCHING		0x02
#define HOLEPUNCH_F_ADDRESSES		0x04
#define HOLEPUNCH_F_REMOTE_ADDRESS	0x08
#define HOLEPUNCH_F_TOKEN		0x10
#define HOLEPUNCH_F_REMOTE_TOKEN	0x20

#define HOLEPUNCH_ADDRS_MAX		16

/* The holepunch payload; encoder flags come from the bools/has_* fields. */
struct holepunch_payload {
	uint64_t	error;
	uint64_t	firewall;
	uint64_t	round;
	bool		connected;
	bool		punching;
	bool		has_addresses;
	size_t		naddresses;
	struct hn_addr	addresses[HOLEPUNCH_ADDRS_MAX];
	bool		has_remote_address;
	struct hn_addr	remote_address;
	bool		has_token;
	uint8_t		token[32];
	bool		has_remote_token;
	uint8_t		remote_token[32];
};

#define HOLEPUNCH_NONCE_LEN	24
#define HOLEPUNCH_MAC_LEN	16
#define HOLEPUNCH_BOX_OVERHEAD	(HOLEPUNCH_NONCE_LEN + HOLEPUNCH_MAC_LEN)

/* Upper bound of an encoded struct holepunch_payload. */
#define HOLEPUNCH_PAYLOAD_MAX_SIZE \
	(4 * 9 + 9 + HOLEPUNCH_ADDRS_MAX * 6 + 6 + 32 + 32)
size_t	holepunch_payload_max_size(void);
int	holepunch_payload_encode(const struct holepunch_payload *p,
	    uint8_t *out, size_t cap, size_t *len);
int	holepunch_payload_decode(struct holepunch_payload *p,
	    const uint8_t *in, size_t len);

/*
 * Secure payload (§7.3): out = nonce || crypto_secretbox_easy(encoded p),
 * key = the handshake's holepunch secret.  `nonce` NULL means 24 random
 * bytes (always, outside tests).  Returns 0, -ENOSPC or -EINVAL.
 */
int	holepunch_payload_seal(const struct holepunch_payload *p,
	    const uint8_t key[32], const uint8_t *nonce, uint8_t *out,
	    size_t cap, size_t *len);
/*
 * Open and decode a secure payload.  Like the reference, anything of 40
 * bytes or less, a MAC failure or an undecodable plaintext is -EBADMSG
 * (the caller drops it silently); -ENOMEM if no scratch buffer could be
 * had.  The input is not modified.
 */
int	holepunch_payload_open(struct holepunch_payload *p,
	    const uint8_t key[32], const uint8_t *in, size_t len);

/* token(host) = BLAKE2b-256(dotted host text; key = local_secret) (§7.4). */
void	holepunch_token(uint8_t out[32], const uint8_t local_secret[32],
	    const uint8_t ip[4]);

#endif
