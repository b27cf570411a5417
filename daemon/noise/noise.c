/*
 * noise.c - Noise IK as HyperDHT uses it (spec/connect.md §2.1, §3)
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "cursor.h"
#include "keys.h"
#include "noise.h"

/* 35 bytes, shorter than HASHLEN: h starts as the name zero-padded (§3.2). */
static const char noise_protocol[] = "Noise_IK_Ed25519_ChaChaPoly_BLAKE2b";

#define HMAC_BLOCK	128

/* h = BLAKE2b-512(h || d) */
static void
mix_hash(struct noise_ik *hs, const uint8_t *d, size_t n)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_update(&st, hs->h, NOISE_HASH_LEN);
	crypto_generichash_update(&st, d, n);
	crypto_generichash_final(&st, hs->h, NOISE_HASH_LEN);
}

/*
 * HMAC over BLAKE2b-512 with a 128-byte block (§3.1), message a || b.
 * `out` may alias neither key nor the message.
 */
static void
hmac_blake2b(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t keylen,
    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;
	uint8_t k[HMAC_BLOCK], pad[HMAC_BLOCK], inner[NOISE_HASH_LEN];
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > HMAC_BLOCK)
		crypto_generichash(k, NOISE_HASH_LEN, key, keylen, NULL, 0);
	else
		memcpy(k, key, keylen);

	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	crypto_generichash_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_update(&st, pad, HMAC_BLOCK);
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, inner, NOISE_HASH_LEN);

	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, NOISE_HASH_LEN);
	crypto_generichash_update(&st, pad, HMAC_BLOCK);
	crypto_generichash_update(&st, inner, NOISE_HASH_LEN);
	crypto_generichash_final(&st, out, NOISE_HASH_LEN);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

/* Two-output HKDF (§3.1): T1 = HMAC(prk, 1), T2 = HMAC(prk, T1 || 2). */
static void
hkdf2(uint8_t t1[NOISE_HASH_LEN], uint8_t t2[NOISE_HASH_LEN],
    const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t len)
{
	static const uint8_t one = 1, two = 2;
	uint8_t prk[NOISE_HASH_LEN];

	hmac_blake2b(prk, ck, NOISE_HASH_LEN, ikm, len, NULL, 0);
	hmac_blake2b(t1, prk, NOISE_HASH_LEN, &one, 1, NULL, 0);
	hmac_blake2b(t2, prk, NOISE_HASH_LEN, t1, NOISE_HASH_LEN, &two, 1);
	sodium_memzero(prk, sizeof(prk));
}

/* MixKey(DH(scalar, pk)); fails the way noise-curve-ed throws. */
static int
mix_key_dh(struct noise_ik *hs, const uint8_t scalar[32], const uint8_t pk[32])
{
	uint8_t dh[32], t1[NOISE_HASH_LEN], t2[NOISE_HASH_LEN];

	if (noise_dh(dh, scalar, pk) != 0)
		return -EINVAL;
	hkdf2(t1, t2, hs->ck, dh, sizeof(dh));
	memcpy(hs->ck, t1, NOISE_HASH_LEN);
	memcpy(hs->k, t2, NOISE_KEY_LEN);
	hs->n = 0;
	hs->has_k = true;
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	return 0;
}

/* noise-handshake puts the counter as uint32 LE at offset 4 of 12 bytes. */
static void
make_nonce(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 12);
	store_u64le(nonce + 4, n);
}

/* EncryptAndHash: out gets plen (+16 with a key) bytes. */
static size_t
encrypt_and_hash(struct noise_ik *hs, const uint8_t *p, size_t plen,
    uint8_t *out)
{
	unsigned long long clen = plen;
	uint8_t nonce[12];

	if (hs->has_k) {
		make_nonce(nonce, hs->n++);
		crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, p, plen,
		    hs->h, NOISE_HASH_LEN, NULL, nonce, hs->k);
	} else {
		memmove(out, p, plen);
	}
	mix_hash(hs, out, (size_t)clen);
	return (size_t)clen;
}

/* DecryptAndHash: returns the plaintext length or -EBADMSG. */
static int
decrypt_and_hash(struct noise_ik *hs, const uint8_t *c, size_t clen,
    uint8_t *out)
{
	unsigned long long plen = clen;
	uint8_t nonce[12];

	if (clen > NOISE_CIPHERTEXT_MAX)
		return -EBADMSG;
	if (hs->has_k) {
		if (clen < NOISE_MAC_LEN)
			return -EBADMSG;
		make_nonce(nonce, hs->n++);
		if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL,
		    c, clen, hs->h, NOISE_HASH_LEN, nonce, hs->k) != 0)
			return -EBADMSG;
	} else {
		memmove(out, c, clen);
	}
	mix_hash(hs, c, clen);
	return (int)plen;
}

/* Split() and the end of the handshake: keep tx/rx/h, wipe the rest. */
static void
finish(struct noise_ik *hs)
{
	uint8_t t1[NOISE_HASH_LEN], t2[NOISE_HASH_LEN];

	hkdf2(t1, t2, hs->ck, NULL, 0);
	memcpy(hs->initiator ? hs->tx : hs->rx, t1, NOISE_KEY_LEN);
	memcpy(hs->initiator ? hs->rx : hs->tx, t2, NOISE_KEY_LEN);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	sodium_memzero(hs->ck, sizeof(hs->ck));
	sodium_memzero(hs->k, sizeof(hs->k));
	sodium_memzero(hs->e_scalar, sizeof(hs->e_scalar));
	sodium_memzero(hs->s_scalar, sizeof(hs->s_scalar));
	hs->has_k = false;
	hs->state = NOISE_IK_DONE;
}

static int
fail(struct noise_ik *hs, int err)
{
	noise_ik_wipe(hs);
	hs->state = NOISE_IK_FAILED;
	return err;
}

int
noise_dh(uint8_t out[32], const uint8_t scalar[32],
    const uint8_t remote_pk[NOISE_PK_LEN])
{
	if (crypto_scalarmult_ed25519_noclamp(out, scalar, remote_pk) != 0) {
		sodium_memzero(out, 32);
		return -EINVAL;
	}
	return 0;
}

int
noise_ik_init(struct noise_ik *hs, bool initiator, const struct keypair *s,
    const uint8_t remote_pk[NOISE_PK_LEN])
{
	memset(hs, 0, sizeof(*hs));
	if (s == NULL || (initiator && remote_pk == NULL)) {
		hs->state = NOISE_IK_FAILED;
		return -EINVAL;
	}
	hs->initiator = initiator;
	memcpy(hs->s_pk, s->pk, NOISE_PK_LEN);
	memcpy(hs->s_scalar, s->scalar, 32);

	memcpy(hs->h, noise_protocol, sizeof(noise_protocol) - 1);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);
	{
		uint8_t prologue[32];

		keys_namespace(prologue, "hyperswarm/dht", 0);	/* §2 */
		mix_hash(hs, prologue, sizeof(prologue));
	}
	/* pre-message: the responder's static key (§3.2 step 3) */
	if (initiator) {
		memcpy(hs->rs, remote_pk, NOISE_PK_LEN);
		hs->has_rs = true;
		mix_hash(hs, hs->rs, NOISE_PK_LEN);
	} else {
		mix_hash(hs, hs->s_pk, NOISE_PK_LEN);
	}
	hs->state = NOISE_IK_MSG1;
	return 0;
}

void
noise_ik_set_ephemeral(struct noise_ik *hs, const struct keypair *e)
{
	memcpy(hs->e_pk, e->pk, NOISE_PK_LEN);
	memcpy(hs->e_scalar, e->scalar, 32);
	hs->has_e = true;
}

/* `e` token on the sending side: generate if not injected, hash, emit. */
static int
write_e(struct noise_ik *hs, uint8_t *out)
{
	if (!hs->has_e) {
		struct keypair e;

		if (keys_generate(&e) != 0)
			return -EIO;
		noise_ik_set_ephemeral(hs, &e);
		keys_wipe(&e);
	}
	memcpy(out, hs->e_pk, NOISE_PK_LEN);
	mix_hash(hs, hs->e_pk, NOISE_PK_LEN);
	return 0;
}

int
noise_ik_write(struct noise_ik *hs, const uint8_t *payload, size_t plen,
    uint8_t *out, size_t cap, size_t *outlen)
{
	bool msg1;
	size_t need, off;
	int err;

	if (hs->state == NOISE_IK_MSG1 && hs->initiator)
		msg1 = true;
	else if (hs->state == NOISE_IK_MSG2 && !hs->initiator)
		msg1 = false;
	else
		return -EINVAL;
	if (plen > NOISE_PAYLOAD_MAX)
		return -EMSGSIZE;
	need = (msg1 ? NOISE_MSG1_OVERHEAD : NOISE_MSG2_OVERHEAD) + plen;
	if (cap < need)
		return -ENOSPC;

	if ((err = write_e(hs, out)) != 0)
		return fail(hs, err);
	off = NOISE_PK_LEN;
	if (msg1) {
		/* e, es, s, ss */
		if (mix_key_dh(hs, hs->e_scalar, hs->rs) != 0)
			return fail(hs, -EINVAL);
		off += encrypt_and_hash(hs, hs->s_pk, NOISE_PK_LEN, out + off);
		if (mix_key_dh(hs, hs->s_scalar, hs->rs) != 0)
			return fail(hs, -EINVAL);
	} else {
		/* e, ee, se */
		if (mix_key_dh(hs, hs->e_scalar, hs->re) != 0 ||
		    mix_key_dh(hs, hs->e_scalar, hs->rs) != 0)
			return fail(hs, -EINVAL);
	}
	off += encrypt_and_hash(hs, payload, plen, out + off);
	*outlen = off;
	if (msg1)
		hs->state = NOISE_IK_MSG2;
	else
		finish(hs);
	return 0;
}

int
noise_ik_read(struct noise_ik *hs, const uint8_t *msg, size_t len,
    uint8_t *payload, size_t cap, size_t *plen)
{
	size_t overhead;
	bool msg1;
	int n;

	if (hs->state == NOISE_IK_MSG1 && !hs->initiator)
		msg1 = true;
	else if (hs->state == NOISE_IK_MSG2 && hs->initiator)
		msg1 = false;
	else
		return -EINVAL;
	overhead = msg1 ? NOISE_MSG1_OVERHEAD : NOISE_MSG2_OVERHEAD;
	if (len < overhead)
		return fail(hs, -EBADMSG);
	if (cap < len - overhead)
		return -ENOSPC;

	memcpy(hs->re, msg, NOISE_PK_LEN);
	mix_hash(hs, hs->re, NOISE_PK_LEN);
	msg += NOISE_PK_LEN;
	len -= NOISE_PK_LEN;
	if (msg1) {
		uint8_t rs[NOISE_PK_LEN];

		/* e, es, s, ss */
		if (mix_key_dh(hs, hs->s_scalar, hs->re) != 0)
			return fail(hs, -EBADMSG);
		if (decrypt_and_hash(hs, msg, NOISE_PK_LEN + NOISE_MAC_LEN,
		    rs) < 0)
			return fail(hs, -EBADMSG);
		memcpy(hs->rs, rs, NOISE_PK_LEN);
		hs->has_rs = true;
		msg += NOISE_PK_LEN + NOISE_MAC_LEN;
		len -= NOISE_PK_LEN + NOISE_MAC_LEN;
		if (mix_key_dh(hs, hs->s_scalar, hs->rs) != 0)
			return fail(hs, -EBADMSG);
	} else {
		/* e, ee, se */
		if (mix_key_dh(hs, hs->e_scalar, hs->re) != 0 ||
		    mix_key_dh(hs, hs->s_scalar, hs->re) != 0)
			return fail(hs, -EBADMSG);
	}
	if ((n = decrypt_and_hash(hs, msg, len, payload)) < 0)
		return fail(hs, -EBADMSG);
	*plen = (size_t)n;
	if (msg1)
		hs->state = NOISE_IK_MSG2;
	else
		finish(hs);
	return 0;
}

const uint8_t *
noise_ik_remote_static(const struct noise_ik *hs)
{
	if (hs->state == NOISE_IK_FAILED || !hs->has_rs)
		return NULL;
	return hs->rs;
}

bool
noise_ik_complete(const struct noise_ik *hs)
{
	return hs->state == NOISE_IK_DONE;
}

void
noise_holepunch_secret(uint8_t out[32], const uint8_t hash[NOISE_HASH_LEN])
{
	uint8_t ns[32];

	keys_namespace(ns, "hyperswarm/dht", 1);	/* NS_PEER_HOLEPUNCH */
	crypto_generichash(out, 32, ns, sizeof(ns), hash, NOISE_HASH_LEN);
}

int
noise_ik_split(const struct noise_ik *hs, struct noise_result *r)
{
	if (hs->state != NOISE_IK_DONE)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->initiator = hs->initiator;
	memcpy(r->tx, hs->tx, NOISE_KEY_LEN);
	memcpy(r->rx, hs->rx, NOISE_KEY_LEN);
	memcpy(r->hash, hs->h, NOISE_HASH_LEN);
	memcpy(r->local_pk, hs->s_pk, NOISE_PK_LEN);
	memcpy(r->remote_pk, hs->rs, NOISE_PK_LEN);
	noise_holepunch_secret(r->holepunch_secret, r->hash);
	return 0;
}

void
noise_ik_wipe(struct noise_ik *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

void
noise_result_wipe(struct noise_result *r)
{
	sodium_memzero(r, sizeof(*r));
}
