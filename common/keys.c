/*
 * keys.c - BLAKE2b, Ed25519 and keypear on libsodium
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "keys.h"

/* keypear's signing prefix (spec/hypernat-app.md §3.3), 54 bytes. */
static const uint8_t sign_prefix[] =
    "SigEd25519 no Ed25519 collisions\x00\x14" "crypto_tweak_ed25519";
#define SIGN_PREFIX_LEN	(sizeof(sign_prefix) - 1)

int
keys_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void
keys_hash(uint8_t out[KEYS_HASH_LEN], const void *in, size_t len)
{
	crypto_generichash(out, KEYS_HASH_LEN, in, len, NULL, 0);
}

void
keys_hash2(uint8_t out[KEYS_HASH_LEN], const void *a, size_t alen,
    const void *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, KEYS_HASH_LEN);
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, KEYS_HASH_LEN);
}

void
keys_hash_keyed(uint8_t out[KEYS_HASH_LEN], const void *in, size_t len,
    const uint8_t key[32])
{
	crypto_generichash(out, KEYS_HASH_LEN, in, len, key, 32);
}

void
keys_namespace(uint8_t out[KEYS_HASH_LEN], const char *name, uint8_t idx)
{
	uint8_t ns[KEYS_HASH_LEN];

	keys_hash(ns, name, strlen(name));
	keys_hash2(out, ns, sizeof(ns), &idx, 1);
}

/* The clamped Ed25519 scalar of a seed: SHA-512(seed)[0..32]. */
static void
seed_scalar(uint8_t scalar[32], const uint8_t seed[32])
{
	uint8_t h[crypto_hash_sha512_BYTES];

	crypto_hash_sha512(h, seed, 32);
	h[0] &= 248;
	h[31] &= 127;
	h[31] |= 64;
	memcpy(scalar, h, 32);
	sodium_memzero(h, sizeof(h));
}

int
keys_from_seed(struct keypair *kp, const uint8_t seed[KEYS_SEED_LEN])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];

	if (crypto_sign_seed_keypair(kp->pk, sk, seed) != 0)
		return -EINVAL;
	sodium_memzero(sk, sizeof(sk));
	memcpy(kp->seed, seed, KEYS_SEED_LEN);
	seed_scalar(kp->scalar, seed);
	kp->has_seed = true;
	return 0;
}

int
keys_from_secret(struct keypair *kp, const char *secret, size_t len)
{
	uint8_t seed[KEYS_SEED_LEN];
	int r;

	keys_hash(seed, secret, len);
	r = keys_from_seed(kp, seed);
	sodium_memzero(seed, sizeof(seed));
	return r;
}

int
keys_generate(struct keypair *kp)
{
	uint8_t seed[KEYS_SEED_LEN];
	int r;

	randombytes_buf(seed, sizeof(seed));
	r = keys_from_seed(kp, seed);
	sodium_memzero(seed, sizeof(seed));
	return r;
}

/*
 * keypear's tweak for `name` under base key `pk` (spec/hypernat-app.md
 * §3.2): the scalar t and the point T = t·B.
 */
static int
tweak(uint8_t t_out[32], uint8_t point[32], const uint8_t pk[32],
    const char *name, size_t namelen)
{
	uint8_t tseed[32], t[crypto_hash_sha512_BYTES];
	int rounds;

	keys_hash2(tseed, pk, 32, name, namelen);
	crypto_hash_sha512(t, tseed, sizeof(tseed));
	for (rounds = 0; rounds < 64; rounds++) {
		t[31] &= 0x7f;
		if (crypto_scalarmult_ed25519_base_noclamp(point, t) == 0 &&
		    crypto_core_ed25519_is_valid_point(point)) {
			memcpy(t_out, t, 32);
			sodium_memzero(t, sizeof(t));
			return 0;
		}
		memcpy(tseed, t, 32);
		crypto_hash_sha512(t, tseed, 32);
	}
	sodium_memzero(tseed, sizeof(tseed));
	sodium_memzero(t, sizeof(t));
	return -EINVAL;
}

int
keys_derive_public(uint8_t out[KEYS_PK_LEN], const uint8_t base_pk[KEYS_PK_LEN],
    const char *name, size_t namelen)
{
	uint8_t t[32], point[32];
	int r;

	if (!crypto_core_ed25519_is_valid_point(base_pk))
		return -EINVAL;
	if ((r = tweak(t, point, base_pk, name, namelen)) != 0)
		return r;
	sodium_memzero(t, sizeof(t));
	return crypto_core_ed25519_add(out, base_pk, point) == 0 ? 0 : -EINVAL;
}

int
keys_derive(struct keypair *out, const struct keypair *base, const char *name,
    size_t namelen)
{
	struct keypair kp;
	uint8_t t[32], point[32];
	int r;

	memset(&kp, 0, sizeof(kp));
	if ((r = tweak(t, point, base->pk, name, namelen)) != 0)
		return r;
	if (crypto_core_ed25519_add(kp.pk, base->pk, point) != 0) {
		sodium_memzero(t, sizeof(t));
		return -EINVAL;
	}
	crypto_core_ed25519_scalar_add(kp.scalar, base->scalar, t);
	sodium_memzero(t, sizeof(t));
	kp.has_seed = false;
	*out = kp;
	sodium_memzero(&kp, sizeof(kp));
	return 0;
}

int
keys_sign_scalar(uint8_t sig[KEYS_SIG_LEN], const void *msg, size_t len,
    const uint8_t scalar[KEYS_SCALAR_LEN])
{
	crypto_hash_sha512_state st;
	uint8_t A[32], h[64], r[32], k[32], ka[32];
	int ret = -EINVAL;

	if (crypto_scalarmult_ed25519_base_noclamp(A, scalar) != 0)
		return -EINVAL;
	/* r = H(prefix || a || M) mod L: deterministic, as keypear */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, sign_prefix, SIGN_PREFIX_LEN);
	crypto_hash_sha512_update(&st, scalar, 32);
	crypto_hash_sha512_update(&st, msg, len);
	crypto_hash_sha512_final(&st, h);
	crypto_core_ed25519_scalar_reduce(r, h);
	if (crypto_scalarmult_ed25519_base_noclamp(sig, r) != 0)
		goto out_wipe;
	/* k = H(R || A || M) mod L;  S = r + k·a */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, sig, 32);
	crypto_hash_sha512_update(&st, A, 32);
	crypto_hash_sha512_update(&st, msg, len);
	crypto_hash_sha512_final(&st, h);
	crypto_core_ed25519_scalar_reduce(k, h);
	crypto_core_ed25519_scalar_mul(ka, k, scalar);
	crypto_core_ed25519_scalar_add(sig + 32, r, ka);
	ret = 0;
out_wipe:
	sodium_memzero(h, sizeof(h));
	sodium_memzero(r, sizeof(r));
	sodium_memzero(ka, sizeof(ka));
	sodium_memzero(&st, sizeof(st));
	return ret;
}

int
keys_sign(uint8_t sig[KEYS_SIG_LEN], const void *msg, size_t len,
    const struct keypair *kp)
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	int r;

	if (!kp->has_seed)
		return keys_sign_scalar(sig, msg, len, kp->scalar);
	memcpy(sk, kp->seed, 32);
	memcpy(sk + 32, kp->pk, 32);
	r = crypto_sign_detached(sig, NULL, msg, len, sk);
	sodium_memzero(sk, sizeof(sk));
	return r == 0 ? 0 : -EINVAL;
}

bool
keys_verify(const uint8_t sig[KEYS_SIG_LEN], const void *msg, size_t len,
    const uint8_t pk[KEYS_PK_LEN])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

void
keys_wipe(struct keypair *kp)
{
	sodium_memzero(kp->scalar, sizeof(kp->scalar));
	sodium_memzero(kp->seed, sizeof(kp->seed));
	kp->has_seed = false;
}
