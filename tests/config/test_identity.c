/*
 * test_identity.c - identity from a secret (hyper-nat's keys), from a key
 * file (created 0600, stable, refused when others can read it), derived
 * export and client keys
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/identity.h"
#include "harness.h"
#include "log.h"

static char dir[] = "/tmp/hn-identity-XXXXXX";
static char path[128];

static bool
setup(void)
{
	strcpy(dir, "/tmp/hn-identity-XXXXXX");
	if (!CHECK(mkdtemp(dir) != NULL))
		return false;
	snprintf(path, sizeof(path), "%s/identity", dir);
	return true;
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void
identity_secret_matches_hyper_nat(void)
{
	struct identity id;
	char err[IDENTITY_ERR_LEN];
	uint8_t pk[32];

	/* tests/unit/vectors.kv, from hyper-nat's own derivation */
	CHECK_INT(identity_load(&id, "thisisaseretsecret", NULL, err), 0);
	CHECK(id.from_secret);
	CHECK_STR(id.base_b58, "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w");
	CHECK_INT(identity_export_key(&id, "udp", 7913, pk), 0);
	CHECK_HEX(pk, 32, "4161fefaa9deba1efb1278b3abeeed18d9eb604c50442e673a2e8e95da2930fd");
	CHECK_INT(identity_export_key_of(id.base.pk, "tcpudp", 3000, pk), 0);
	CHECK_HEX(pk, 32, "44daf88dddb24fa291eabefd235d8dda5583fc1e17250af46ba18323ea54d976");
	/* the client key is derived, stable and not the base key */
	CHECK(memcmp(id.client.pk, id.base.pk, 32) != 0);
	CHECK(!id.client.has_seed);
	identity_wipe(&id);
	CHECK(!id.base.has_seed);
}

static void
identity_key_file_created_and_stable(void)
{
	struct identity a, b;
	char err[IDENTITY_ERR_LEN];
	struct stat st;

	if (!setup())
		return;
	CHECK_INT(identity_load(&a, NULL, path, err), 0);
	CHECK(!a.from_secret);
	CHECK_INT(stat(path, &st), 0);
	CHECK_UINT(st.st_mode & 07777, 0600);
	CHECK_UINT(st.st_size, 65);
	CHECK_INT(identity_load(&b, NULL, path, err), 0);
	CHECK_STR(a.base_b58, b.base_b58);
	CHECK_STR(a.client_b58, b.client_b58);
	CHECK(strcmp(a.base_b58, "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w"));
	identity_wipe(&a);
	identity_wipe(&b);
	/* no temporary file is left next to it */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "rmdir %s 2>/dev/null", dir);
	unlink(path);
	CHECK_INT(system(tmp), 0);
}

static void
identity_key_file_known_seed(void)
{
	char err[IDENTITY_ERR_LEN];
	struct identity id;
	int fd;

	if (!setup())
		return;
	/* the seed of secret "thisisaseretsecret" gives its key */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(write(fd, "877859a5c210fa6b6b5047c6f21d4b3f51932ca764ec4dda25075a01ed818c28\n", 65) == 65);
	close(fd);
	CHECK_INT(identity_load(&id, NULL, path, err), 0);
	CHECK_STR(id.base_b58, "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w");
	identity_wipe(&id);
	teardown();
}

static void
identity_refuses_readable_file(void)
{
	char err[IDENTITY_ERR_LEN], want[300];
	struct identity id;

	if (!setup())
		return;
	CHECK_INT(identity_load(&id, NULL, path, err), 0);
	identity_wipe(&id);
	CHECK_INT(chmod(path, 0644), 0);
	CHECK_INT(identity_load(&id, NULL, path, err), -EPERM);
	snprintf(want, sizeof(want), "%s: key file is accessible by others "
	    "(mode 0644); refusing it: chmod 600 it if the key is still "
	    "secret, else remove it to make a new identity", path);
	CHECK_STR(err, want);
	CHECK_INT(chmod(path, 0640), 0);
	CHECK_INT(identity_load(&id, NULL, path, err), -EPERM);
	teardown();
}

static void
identity_refuses_bad_files(void)
{
	char err[IDENTITY_ERR_LEN], link_path[160];
	struct identity id;
	int fd;

	if (!setup())
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(write(fd, "not hex\n", 8) == 8);
	close(fd);
	CHECK_INT(identity_load(&id, NULL, path, err), -EINVAL);
	CHECK(strstr(err, "not a key file") != NULL);
	/* a symbolic link is not followed */
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	CHECK_INT(symlink(path, link_path), 0);
	CHECK_INT(identity_load(&id, NULL, link_path, err), -ELOOP);
	unlink(link_path);
	/* a missing directory is an error, not a crash */
	CHECK(identity_load(&id, NULL, "/nonexistent-hn/identity", err) < 0);
	teardown();
}

static const struct test tests[] = {
	TEST(identity_secret_matches_hyper_nat),
	TEST(identity_key_file_created_and_stable),
	TEST(identity_key_file_known_seed),
	TEST(identity_refuses_readable_file),
	TEST(identity_refuses_bad_files),
};

int
main(int argc, char **argv)
{
	log_init("test_identity", LOG_LVL_WARNING);
	return harness_main("identity", tests,
	    sizeof(tests) / sizeof(tests[0]), argc, argv);
}
