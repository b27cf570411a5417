/*
 * test_config.c - hypernat.conf against the schema: golden error lines for
 * bad files, golden effective configs for good ones, the shipped example,
 * defaults, round trips through config_print(), the runtime tunnel file
 *
 * Each tests/config/bad/NAME.yaml starts with "# expect: FILE:LINE:COL:
 * MESSAGE", the exact error config_load() must give.  Each
 * tests/config/good/NAME.yaml must load; when good/NAME.out exists it is
 * the exact `hypernatd -n` output.  Run from the repository root.
 * HN_UPDATE_GOLDEN=1 rewrites the .out files (review the diff).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base58.h"
#include "daemon/config.h"
#include "harness.h"
#include "log.h"

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

/* The config as `hypernatd -n` prints it, in a new string. */
static char *
printed(const struct config *c, bool help)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	config_print(c, fp, help);
	fclose(fp);
	return buf;
}

/* Call fn(path) for each *.yaml in dir, sorted; returns how many. */
static int
each_yaml(const char *dir, void (*fn)(const char *path))
{
	struct dirent **names;
	char path[512];
	int n, i, count = 0;

	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		harness_fail(__FILE__, __LINE__, "%s: %s", dir, strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);

		if (l > 5 && strcmp(names[i]->d_name + l - 5, ".yaml") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir,
			    names[i]->d_name);
			fn(path);
			count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

static void
one_bad(const char *path)
{
	char err[CONFIG_ERR_LEN], want[CONFIG_ERR_LEN];
	struct config *c = NULL;
	char *text = slurp(path), *nl;
	int rc;

	if (!CHECK(text != NULL) ||
	    !CHECK(strncmp(text, "# expect: ", 10) == 0)) {
		free(text);
		return;
	}
	nl = strchr(text, '\n');
	snprintf(want, sizeof(want), "%.*s", nl ? (int)(nl - text - 10) : 0,
	    text + 10);
	rc = config_load(path, &c, err);
	if (rc == 0) {
		harness_fail(__FILE__, __LINE__, "%s loaded, want: %s", path,
		    want);
		config_free(c);
	} else {
		CHECK_INT(rc, -EINVAL);
		CHECK_STR(err, want);
	}
	free(text);
}

static void
config_bad_files(void)
{
	CHECK(each_yaml("tests/config/bad", one_bad) >= 30);
}

/* print -> parse -> print gives the same text */
static void
roundtrip(const struct config *c, const char *path)
{
	char err[CONFIG_ERR_LEN];
	struct config *c2 = NULL;
	char *a = printed(c, false), *b;

	if (config_parse(path, a, strlen(a), &c2, err) != 0) {
		harness_fail(__FILE__, __LINE__, "%s: printed config does not "
		    "parse: %s\n%s", path, err, a);
		free(a);
		return;
	}
	/* the secret is never printed: carry it over to compare the rest */
	if (c->secret != NULL)
		c2->secret = strdup(c->secret);
	b = printed(c2, false);
	CHECK_STR(b, a);
	free(a);
	free(b);
	config_free(c2);
}

static void
one_good(const char *path)
{
	char err[CONFIG_ERR_LEN], out[512];
	struct config *c = NULL;
	char *got, *want;
	FILE *fp;

	if (config_load(path, &c, err) != 0) {
		harness_fail(__FILE__, __LINE__, "%s: %s", path, err);
		return;
	}
	roundtrip(c, path);
	snprintf(out, sizeof(out), "%.*s.out", (int)strlen(path) - 5, path);
	got = printed(c, false);
	if (getenv("HN_UPDATE_GOLDEN") && (fp = fopen(out, "w")) != NULL) {
		fputs(got, fp);
		fclose(fp);
	}
	if ((want = slurp(out)) != NULL)
		CHECK_STR(got, want);
	free(want);
	free(got);
	config_free(c);
}

static void
config_good_files(void)
{
	CHECK(each_yaml("tests/config/good", one_good) >= 5);
}

static void
config_golden_outputs_exist(void)
{
	/* the golden files are what makes one_good() compare anything */
	CHECK(access("tests/config/good/design_example.out", R_OK) == 0);
	CHECK(access("tests/config/good/private_node.out", R_OK) == 0);
	CHECK(access("tests/config/good/empty.out", R_OK) == 0);
}

static void
config_example_parses(void)
{
	char err[CONFIG_ERR_LEN];
	struct config *c = NULL;

	if (config_load("hypernat.conf.example", &c, err) != 0) {
		harness_fail(__FILE__, __LINE__, "%s", err);
		return;
	}
	roundtrip(c, "hypernat.conf.example");
	config_free(c);
}

/* Every key of the reference is written in the example, set or commented. */
static void
config_example_documents_every_key(void)
{
	char *ref = NULL, *text = slurp("hypernat.conf.example"), *line, *save;
	char key[80], want[96];
	size_t len = 0, n = 0;
	FILE *fp = open_memstream(&ref, &len);

	config_print_keys(fp);
	fclose(fp);
	if (!CHECK(text != NULL))
		goto out;
	for (line = strtok_r(ref, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *leaf, *sp;

		if (line[0] == ' ')
			continue;	/* help text */
		sp = strchr(line, ' ');
		snprintf(key, sizeof(key), "%.*s", sp ? (int)(sp - line) :
		    (int)strlen(line), line);
		leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
		snprintf(want, sizeof(want), "%s:", leaf);
		if (strstr(text, want) == NULL)
			harness_fail(__FILE__, __LINE__, "key %s is not in "
			    "hypernat.conf.example", key);
		n++;
	}
	CHECK(n >= 18);
out:
	free(ref);
	free(text);
}

/* Every key of the reference is in hypernat.conf.5 ("Cm key") and the README. */
static void
config_keys_documented(void)
{
	char *ref = NULL, *man = slurp("man/hypernat.conf.5"),
	    *readme = slurp("README.md"), *line, *save;
	char key[80], want[96];
	size_t len = 0;
	FILE *fp = open_memstream(&ref, &len);
	int rc;

	config_print_keys(fp);
	fclose(fp);
	if (!CHECK(man != NULL) || !CHECK(readme != NULL))
		goto out;
	for (line = strtok_r(ref, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *leaf, *sp;

		if (line[0] == ' ')
			continue;
		sp = strchr(line, ' ');
		snprintf(key, sizeof(key), "%.*s", sp ? (int)(sp - line) :
		    (int)strlen(line), line);
		leaf = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
		snprintf(want, sizeof(want), "%s", leaf);
		if (strchr(key, '.') != NULL) {
			snprintf(want, sizeof(want), "Cm %s", leaf);
			if (strstr(man, want) == NULL)
				harness_fail(__FILE__, __LINE__, "key %s is "
				    "not in man/hypernat.conf.5", key);
		}
		snprintf(want, sizeof(want), "%s", key);
		if (strstr(readme, want) == NULL && strchr(key, '[') == NULL)
			harness_fail(__FILE__, __LINE__, "key %s is not in "
			    "README.md", key);
	}
	/* and the pages are clean for mandoc, where it is installed */
	rc = system("mandoc -Tlint -W warning man/hypernat.conf.5 "
	    "man/hypernatd.8 man/hypernatctl.8");
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127)
		harness_skip("mandoc is not installed: pages not linted");
	else
		CHECK_INT(rc, 0);
out:
	free(ref);
	free(man);
	free(readme);
}

static void
config_defaults_values(void)
{
	struct config *c = NULL;
	char kf[256];

	if (!CHECK(config_defaults(&c) == 0))
		return;
	CHECK(c->secret == NULL);
	CHECK_STR(config_key_file(c, kf, sizeof(kf)),
	    "/var/lib/hypernat/identity");
	CHECK_UINT(c->bootstrap.n, 3);
	CHECK_STR(c->bootstrap.text[0], "88.99.3.86@node1.hyperdht.org:49737");
	CHECK_UINT(c->bootstrap.addr[2].port, 49737);
	CHECK_UINT(c->dht_port, 49737);
	CHECK_INT(c->dht_mode, DHT_MODE_AUTO);
	CHECK_STR(c->control_socket, "/run/hypernat/control.sock");
	CHECK_STR(c->control_group, "hypernat");
	CHECK_STR(c->state_dir, "/var/lib/hypernat");
	CHECK_INT(c->log_level, LOG_LVL_INFO);
	CHECK_INT(c->plaintext_datagrams, PLAINTEXT_ALLOW);
	CHECK_UINT(c->exports.n, 0);
	CHECK_UINT(c->imports.n, 0);
	config_free(c);
}

static void
config_values_land(void)
{
	char err[CONFIG_ERR_LEN];
	struct config *c = NULL;
	uint8_t a[32];

	if (config_load("tests/config/good/private_node.yaml", &c, err) != 0) {
		harness_fail(__FILE__, __LINE__, "%s", err);
		return;
	}
	base58_decode_key(a, "HC75S96J4EXBZZ82hYrgzkCWkFWGcgyao4s4suCdZSZw");
	CHECK_UINT(c->bootstrap.n, 0);
	CHECK_UINT(c->dht_port, 10001);
	CHECK_INT(c->dht_mode, DHT_MODE_PERSISTENT);
	CHECK_INT(c->log_level, LOG_LVL_DEBUG);
	CHECK_STR(c->control_group, "");
	CHECK_INT(c->plaintext_datagrams, PLAINTEXT_REFUSE);
	CHECK_UINT(c->exports.n, 1);
	CHECK_INT(c->exports.v[0].proto, TUN_TCPUDP);
	CHECK_UINT(c->exports.v[0].port, 27015);
	CHECK_UINT(c->exports.v[0].host[3], 20);
	CHECK_UINT(c->exports.v[0].nallow, 2);
	CHECK_MEM(c->exports.v[0].allow[0], a, 32);
	CHECK_UINT(c->dht_host[0], 127);
	CHECK_UINT(c->dht_host[3], 1);
	CHECK_UINT(c->exports.v[0].line, 15);
	CHECK_UINT(c->exports.v[0].column, 5);
	CHECK_UINT(c->imports.n, 3);
	/* listen defaults to 127.0.0.1:<port>, a bare port means 127.0.0.1 */
	CHECK_UINT(c->imports.v[0].listen.ip[0], 127);
	CHECK_UINT(c->imports.v[0].listen.port, 7913);
	CHECK_UINT(c->imports.v[1].listen.port, 7914);
	CHECK_UINT(c->imports.v[2].listen.ip[0], 0);
	CHECK_UINT(c->imports.v[2].listen.port, 2222);
	CHECK_INT(c->imports.v[2].origin, TUN_ORIGIN_CONFIG);
	config_free(c);
}

static void
config_secret_kept_and_hidden(void)
{
	char err[CONFIG_ERR_LEN];
	struct config *c = NULL;
	char *out;

	if (config_load("tests/config/good/design_example.yaml", &c, err)) {
		harness_fail(__FILE__, __LINE__, "%s", err);
		return;
	}
	CHECK_STR(c->secret, "thisisaseretsecret");
	out = printed(c, true);
	CHECK(strstr(out, "thisisaseretsecret") == NULL);
	CHECK(strstr(out, "#secret: (set, not shown)") != NULL);
	free(out);
	config_free(c);
}

static void
config_missing_file(void)
{
	char err[CONFIG_ERR_LEN];
	struct config *c = NULL;

	CHECK_INT(config_load("tests/config/nonexistent.yaml", &c, err),
	    -ENOENT);
	CHECK_STR(err, "tests/config/nonexistent.yaml: No such file or "
	    "directory");
	CHECK_INT(config_load("tests/config", &c, err), -EINVAL);
}

static void
config_tunnel_file_roundtrip(void)
{
	char err[CONFIG_ERR_LEN], dir[] = "/tmp/hn-config-XXXXXX", path[64];
	struct config_tunnels ex, im;
	struct config *c = NULL;
	struct tundef all[8];
	size_t n = 0, i;
	FILE *fp;

	if (!CHECK(mkdtemp(dir) != NULL))
		return;
	snprintf(path, sizeof(path), "%s/tunnels", dir);
	/* missing: empty */
	CHECK_INT(config_load_tunnels(path, &ex, &im, err), 0);
	CHECK_UINT(ex.n + im.n, 0);
	if (config_load("tests/config/good/private_node.yaml", &c, err)) {
		harness_fail(__FILE__, __LINE__, "%s", err);
		goto out;
	}
	for (i = 0; i < c->imports.n; i++)
		all[n++] = c->imports.v[i];
	for (i = 0; i < c->exports.n; i++)
		all[n++] = c->exports.v[i];
	fp = fopen(path, "w");
	config_write_tunnels(fp, all, n);
	fclose(fp);
	CHECK_INT(config_load_tunnels(path, &ex, &im, err), 0);
	CHECK_UINT(ex.n, 1);
	CHECK_UINT(im.n, 3);
	for (i = 0; i < ex.n && i < c->exports.n; i++) {
		CHECK(tundef_equal(&ex.v[i], &c->exports.v[i]));
		CHECK_INT(ex.v[i].origin, TUN_ORIGIN_RUNTIME);
	}
	for (i = 0; i < im.n && i < c->imports.n; i++)
		CHECK(tundef_equal(&im.v[i], &c->imports.v[i]));
	free(ex.v);
	free(im.v);
	/* the state file is only tunnels: a config key there is an error */
	fp = fopen(path, "w");
	fputs("dht: {}\n", fp);
	fclose(fp);
	CHECK_INT(config_load_tunnels(path, &ex, &im, err), -EINVAL);
	CHECK(strstr(err, ":1:1: unknown key \"dht\" (known: exports, "
	    "imports)") != NULL);
out:
	config_free(c);
	unlink(path);
	rmdir(dir);
}

static const struct test tests[] = {
	TEST(config_bad_files),
	TEST(config_good_files),
	TEST(config_golden_outputs_exist),
	TEST(config_example_parses),
	TEST(config_example_documents_every_key),
	TEST(config_keys_documented),
	TEST(config_defaults_values),
	TEST(config_values_land),
	TEST(config_secret_kept_and_hidden),
	TEST(config_missing_file),
	TEST(config_tunnel_file_roundtrip),
};

int
main(int argc, char **argv)
{
	return harness_main("config", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
