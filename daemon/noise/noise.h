/*
 * noise.h - Noise IK as HyperDHT uses it (spec/connect.md §2.1, §3)
 *
 * Noise_IK_Ed25519_ChaChaPoly_BLAKE2b with prologue NS_PEER_HANDSHAKE, the
 * responder's static key hashed as the pre-message, Diffie-Hellman on the
 * Ed25519 keys themselves (crypto_scalarmult_ed25519_noclamp with the
 * key pair's scalar), BLAKE2b-512 hash/HMAC/HKDF and ChaCha20-Poly1305 IETF
 * with the nonce 4 zero bytes || n (uint64 LE), as noise-handshake 3.x/4.x
 * and noise-curve-ed do it.
 *
 * Sans-I/O: the caller moves the two messages; this code only turns bytes
 * into bytes.  A key pair works from its scalar alone (a keypear-derived
 * key pair has no seed).
 *
 * Initiator (client):  noise_ik_init(initiator = true, server pk)
 *                      noise_ik_write()  -> message 1
 *                      noise_ik_read(message 2) -> complete
 * Responder (server):  noise_ik_init(initiator = false, NULL)
 *                      noise_ik_read(message 1), noise_ik_remote_static()
 *                      noise_ik_write() -> message 2 -> complete
 * then noise_ik_split() gives the keys and the handshake hash.
 *
 * Any failure (bad length, a point libsodium refuses, a MAC that does not
 * verify) wipes the state and leaves it failed: every later call returns
 * -EINVAL.  A server facing a retransmitted message 1 answers from its own
 * cache; this state machine runs once.
 */
#ifndef HN_NOISE_H
#define HN_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define NOISE_PK_LEN		32
#define NOISE_KEY_LEN		32
#define NOISE_HASH_LEN		64	/* BLAKE2b-512: h, ck, handshake hash */
#define NOISE_MAC_LEN		16
#define NOISE_MSG1_OVERHEAD	96	/* e (32) + AEAD(s) (48) + payload MAC */
#define NOISE_MSG2_OVERHEAD	48	/* e (32) + payload MAC */
/* noise-handshake 4.x refuses a ciphertext longer than 65535 bytes. */
#define NOISE_CIPHERTEXT_MAX	65535
#define NOISE_PAYLOAD_MAX	(NOISE_CIPHERTEXT_MAX - NOISE_MAC_LEN)

enum noise_ik_state {
	NOISE_IK_MSG1 = 0,	/* message 1 not yet written / read */
	NOISE_IK_MSG2,		/* message 2 not yet written / read */
	NOISE_IK_DONE,
	NOISE_IK_FAILED
};

/* One handshake, either role.  Treat the fields as private. */
struct noise_ik {
	uint8_t			h[NOISE_HASH_LEN];
	uint8_t			ck[NOISE_HASH_LEN];
	uint8_t			k[NOISE_KEY_LEN];
	uint64_t		n;
	bool			has_k;
	bool			initiator;
	bool			has_e;
	bool			has_rs;
	enum noise_ik_state	state;
	uint8_t			s_pk[NOISE_PK_LEN];
	uint8_t			s_scalar[32];
	uint8_t			e_pk[NOISE_PK_LEN];
	uint8_t			e_scalar[32];
	uint8_t			rs[NOISE_PK_LEN];
	uint8_t			re[NOISE_PK_LEN];
	uint8_t			tx[NOISE_KEY_LEN];
	uint8_t			rx[NOISE_KEY_LEN];
};

/* What a finished handshake hands to SecretStream and the hole puncher. */
struct noise_result {
	bool		initiator;
	uint8_t		tx[NOISE_KEY_LEN];
	uint8_t		rx[NOISE_KEY_LEN];
	uint8_t		hash[NOISE_HASH_LEN];		/* handshake hash */
	uint8_t		local_pk[NOISE_PK_LEN];
	uint8_t		remote_pk[NOISE_PK_LEN];	/* remotePublicKey */
	uint8_t		holepunch_secret[32];		/* §3.3 */
};

/*
 * DH as noise-curve-ed does it: out = scalar · remote_pk, a compressed
 * Edwards point.  Returns 0, or -EINVAL when libsodium refuses the point
 * (non-canonical, small order, outside the main subgroup) or the result is
 * the identity.
 */
int	noise_dh(uint8_t out[32], const uint8_t scalar[32],
	    const uint8_t remote_pk[NOISE_PK_LEN]);

/*
 * Start a handshake with static key pair `s` (only s->pk and s->scalar are
 * used; they are copied).  The initiator must give the responder's public
 * key; the responder passes NULL.  Returns 0 or -EINVAL.
 */
int	noise_ik_init(struct noise_ik *hs, bool initiator,
	    const struct keypair *s, const uint8_t remote_pk[NOISE_PK_LEN]);

/*
 * Use `e` (pk and scalar) as the ephemeral key instead of a fresh random
 * one.  For tests and vectors only; call before noise_ik_write().
 */
void	noise_ik_set_ephemeral(struct noise_ik *hs, const struct keypair *e);

/*
 * Write the next message (message 1 for the initiator, message 2 for the
 * responder after it read message 1) carrying `payload` (may be empty).
 * The message is NOISE_MSG1_OVERHEAD / NOISE_MSG2_OVERHEAD + plen bytes;
 * `out` must hold that.  Returns 0 and sets *outlen, -ENOSPC (state
 * untouched), -EMSGSIZE (plen > NOISE_PAYLOAD_MAX), -EINVAL (wrong step,
 * or a DH failure, which fails the handshake), -EIO (no ephemeral key).
 * `payload` and `out` must not overlap.
 */
int	noise_ik_write(struct noise_ik *hs, const uint8_t *payload,
	    size_t plen, uint8_t *out, size_t cap, size_t *outlen);

/*
 * Read the next message (message 1 for the responder, message 2 for the
 * initiator) and decrypt its payload into `payload` (room for
 * msglen - overhead bytes; *plen gets the length).  Returns 0, -EBADMSG
 * (malformed or forged; the handshake has failed), -ENOSPC (state
 * untouched) or -EINVAL (wrong step).
 */
int	noise_ik_read(struct noise_ik *hs, const uint8_t *msg, size_t len,
	    uint8_t *payload, size_t cap, size_t *plen);

/* The peer's static key: after message 1 on the responder, always on the
 * initiator; NULL before that. */
const uint8_t *noise_ik_remote_static(const struct noise_ik *hs);

bool	noise_ik_complete(const struct noise_ik *hs);

/* Fill `r` from a finished handshake.  Returns 0 or -EINVAL (not done). */
int	noise_ik_split(const struct noise_ik *hs, struct noise_result *r);

/* holepunchSecret = BLAKE2b-256(NS_PEER_HOLEPUNCH; key = hash) (§3.3). */
void	noise_holepunch_secret(uint8_t out[32],
	    const uint8_t hash[NOISE_HASH_LEN]);

/* Wipe every secret in hs / r. */
void	noise_ik_wipe(struct noise_ik *hs);
void	noise_result_wipe(struct noise_result *r);

#endif
