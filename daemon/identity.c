/*
 * identity.c - base key pair from a secret or a key file; derived keys
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "hex.h"
#include "identity.h"
#include "log.h"

#define KEY_FILE_LEN	(2 * KEYS_SEED_LEN + 1)	/* hex digits and '\n' */
#define CLIENT_NAME	"client"

/* fsync the directory holding `path`, so a new name survives a crash. */
static int
sync_dir_of(const char *path)
{
	char buf[4096];
	int fd, rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	if ((fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
read_key_file(int fd, const char *path, uint8_t seed[KEYS_SEED_LEN],
    char *err)
{
	char buf[KEY_FILE_LEN + 1];
	struct stat st;
	ssize_t n;
	int rc = -EINVAL;

	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, IDENTITY_ERR_LEN, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, IDENTITY_ERR_LEN, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, IDENTITY_ERR_LEN, "%s: key file is accessible by "
		    "others (mode %04o); refusing it: chmod 600 it if the key "
		    "is still secret, else remove it to make a new identity",
		    path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		snprintf(err, IDENTITY_ERR_LEN, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (n == KEY_FILE_LEN && buf[KEY_FILE_LEN - 1] == '\n') {
		buf[KEY_FILE_LEN - 1] = '\0';
		if (hex_decode(seed, KEYS_SEED_LEN, buf) == KEYS_SEED_LEN)
			rc = 0;
	}
	sodium_memzero(buf, sizeof(buf));
	if (rc < 0)
		snprintf(err, IDENTITY_ERR_LEN, "%s: not a key file (64 hex "
		    "digits and a newline)", path);
	return rc;
}

/*
 * Write a new random seed to `path`: a temporary file in the same
 * directory, synced, then link(2)ed to the name, which fails with EEXIST
 * rather than replace a key another process wrote meanwhile.
 */
static int
create_key_file(const char *path, char *err)
{
	uint8_t seed[KEYS_SEED_LEN];
	char tmp[4096], text[KEY_FILE_LEN + 1];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		snprintf(err, IDENTITY_ERR_LEN, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if ((fd = mkstemp(tmp)) < 0) {		/* mode 0600 */
		rc = -errno;
		snprintf(err, IDENTITY_ERR_LEN, "%s: cannot create: %s", path,
		    strerror(errno));
		return rc;
	}
	randombytes_buf(seed, sizeof(seed));
	hex_encode(text, seed, sizeof(seed));
	text[KEY_FILE_LEN - 1] = '\n';
	rc = 0;
	if (write(fd, text, KEY_FILE_LEN) != KEY_FILE_LEN || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(text, sizeof(text));
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && link(tmp, path) < 0)
		rc = -errno;
	unlink(tmp);
	if (rc == -EEXIST)
		return 0;	/* someone else made one: use theirs */
	if (rc < 0) {
		snprintf(err, IDENTITY_ERR_LEN, "%s: cannot create: %s", path,
		    strerror(-rc));
		return rc;
	}
	(void)sync_dir_of(path);
	log_notice("identity: generated a new key in %s", path);
	return 0;
}

static int
load_key_file(const char *path, uint8_t seed[KEYS_SEED_LEN], char *err)
{
	int fd, rc, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			rc = read_key_file(fd, path, seed, err);
			close(fd);
			return rc;
		}
		if (errno != ENOENT) {
			rc = -errno;
			snprintf(err, IDENTITY_ERR_LEN, "%s: %s", path,
			    errno == ELOOP ? "is a symbolic link; refusing it" :
			    strerror(errno));
			return rc;
		}
		if ((rc = create_key_file(path, err)) < 0)
			return rc;
	}
	snprintf(err, IDENTITY_ERR_LEN, "%s: vanished after creation", path);
	return -ENOENT;
}

static int
finish(struct identity *id, char *err)
{
	if (keys_derive(&id->client, &id->base, CLIENT_NAME,
	    strlen(CLIENT_NAME)) < 0 ||
	    base58_encode(id->base_b58, sizeof(id->base_b58), id->base.pk,
	    KEYS_PK_LEN) < 0 ||
	    base58_encode(id->client_b58, sizeof(id->client_b58),
	    id->client.pk, KEYS_PK_LEN) < 0) {
		snprintf(err, IDENTITY_ERR_LEN, "identity: key derivation "
		    "failed");
		identity_wipe(id);
		return -EINVAL;
	}
	return 0;
}

int
identity_load(struct identity *id, const char *secret, const char *key_file,
    char *err)
{
	uint8_t seed[KEYS_SEED_LEN];
	int rc;

	memset(id, 0, sizeof(*id));
	if (keys_init() < 0) {
		snprintf(err, IDENTITY_ERR_LEN, "identity: libsodium failed");
		return -EIO;
	}
	if (secret != NULL) {
		if (keys_from_secret(&id->base, secret, strlen(secret)) < 0) {
			snprintf(err, IDENTITY_ERR_LEN, "identity: bad secret");
			return -EINVAL;
		}
		id->from_secret = true;
		return finish(id, err);
	}
	rc = load_key_file(key_file, seed, err);
	if (rc == 0 && keys_from_seed(&id->base, seed) < 0) {
		snprintf(err, IDENTITY_ERR_LEN, "%s: bad key", key_file);
		rc = -EINVAL;
	}
	sodium_memzero(seed, sizeof(seed));
	if (rc < 0)
		return rc;
	return finish(id, err);
}

void
identity_wipe(struct identity *id)
{
	keys_wipe(&id->base);
	keys_wipe(&id->client);
}

int
identity_export_key_of(const uint8_t base_pk[KEYS_PK_LEN], const char *proto,
    uint16_t port, uint8_t pk[KEYS_PK_LEN])
{
	char name[16];
	int n;

	/* spec/hypernat-app.md §3: the name is proto and port concatenated */
	n = snprintf(name, sizeof(name), "%s%u", proto, port);
	return keys_derive_public(pk, base_pk, name, (size_t)n);
}

int
identity_export_key(const struct identity *id, const char *proto,
    uint16_t port, uint8_t pk[KEYS_PK_LEN])
{
	return identity_export_key_of(id->base.pk, proto, port, pk);
}
