/*
 * test_hncli.c - hyper-nat's command line and options.json: what is
 * parsed into mappings and what is printed (golden text from
 * hyper-nat 1.1.3's lib/cli.js, lib/config.js, lib/modes.js)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base58.h"
#include "harness.h"
#include "keys.h"
#include "daemon/tunnel/hncli.h"

/* base58 of the base key of "thisisaseretsecret" (vectors/connect.json) */
#define README_KEY	"DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w"

static void
fixed_random(void *buf, size_t len)
{
	memset(buf, 0x11, len);
}

struct run {
	char		*out, *err;
	size_t		 outlen, errlen;
	int		 rc;
	struct hncli_plan plan;
};

static void
run_argv(struct run *r, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	FILE *out, *err;
	struct hncli_io io;

	argv[argc++] = strdup("hypernatd");
	while (*args && argc < 31)
		argv[argc++] = strdup(*args++);
	argv[argc] = NULL;
	out = open_memstream(&r->out, &r->outlen);
	err = open_memstream(&r->err, &r->errlen);
	io.out = out;
	io.err = err;
	io.random = fixed_random;
	r->rc = hncli_plan(argc, argv, &io, &r->plan);
	fclose(out);
	fclose(err);
	while (argc > 0)
		free(argv[--argc]);
}

static void
run_free(struct run *r)
{
	hncli_plan_free(&r->plan);
	free(r->out);
	free(r->err);
}

#define ARGS(...)	((const char *const[]){ __VA_ARGS__, NULL })

static void
server_two_ports(void)
{
	struct run r;

	run_argv(&r, ARGS("server", "-p", "3000,3001", "--protocol", "udp,tcp",
	    "-s", "thisisaseretsecret"));
	CHECK_INT(r.rc, -1);
	CHECK_STR(r.out,
	    "Starting server mode with 2 port(s)\n"
	    "starting up from config\n"
	    "\n=== CLIENT CONNECTION COMMAND ===\n"
	    "npx hyper-nat client -l 3000,3001 -r 3000,3001 --protocol udp,tcp -k "
	    README_KEY "\n"
	    "=== END COMMAND ===\n\n");
	CHECK_STR(r.err, "");
	if (CHECK(r.plan.n == 2)) {
		CHECK_STR(r.plan.v[0].keyname, "udp3000");
		CHECK_STR(r.plan.v[1].keyname, "tcp3001");
		CHECK_INT(r.plan.v[1].proto, TUN_TCP);
		CHECK_INT(r.plan.v[1].port, 3001);
		CHECK_MEM(r.plan.v[0].host, "\x7f\0\0\1", 4);
		CHECK_STR(r.plan.v[1].secret, "thisisaseretsecret");
	}
	run_free(&r);
}

static void
server_random_secret(void)
{
	struct run r;
	struct keypair kp;
	char want[512], key[64];
	const char *hex = "1111111111111111111111111111111111111111111111111111111111111111";

	/* --proto alias, --host with '=', a whitespace-separated list */
	run_argv(&r, ARGS("server", "--port=7913", "--proto", "tcpudp",
	    "--host=10.1.2.3"));
	CHECK_INT(r.rc, -1);
	keys_from_secret(&kp, hex, 64);
	CHECK(base58_encode(key, sizeof(key), kp.pk, 32) > 0);
	snprintf(want, sizeof(want),
	    "Generated random secret: %s\n\n"
	    "Starting server mode with 1 port(s)\n"
	    "starting up from config\n"
	    "\n=== CLIENT CONNECTION COMMAND ===\n"
	    "npx hyper-nat client -l 7913 -r 7913 --protocol tcpudp -k %s\n"
	    "=== END COMMAND ===\n\n", hex, key);
	CHECK_STR(r.out, want);
	if (CHECK(r.plan.n == 1)) {
		CHECK_STR(r.plan.v[0].secret, hex);
		CHECK_STR(r.plan.v[0].keyname, "tcpudp7913");
		CHECK_MEM(r.plan.v[0].host, "\x0a\x01\x02\x03", 4);
	}
	run_free(&r);
	/* -s "" is no secret for hyper-nat (argv.secret || random) */
	run_argv(&r, ARGS("server", "-p", "1", "-s", ""));
	CHECK(strncmp(r.out, "Generated random secret: 1111", 29) == 0);
	run_free(&r);
	keys_wipe(&kp);
}

static void
server_protocol_lists(void)
{
	struct run r;

	/* one protocol replicated; an unknown one becomes udp, warned */
	run_argv(&r, ARGS("server", "-p", "1,2,3", "--protocol", "tcpx",
	    "-s", "x"));
	CHECK_INT(r.rc, -1);
	CHECK_STR(r.err, "Invalid protocol 'tcpx', defaulting to 'udp'\n");
	if (CHECK(r.plan.n == 3))
		CHECK_STR(r.plan.v[2].keyname, "udp3");
	run_free(&r);
	/* whitespace separates too; counts must match */
	run_argv(&r, ARGS("server", "-p", "1,2", "--protocol", "tcp udp,tcpudp",
	    "-s", "x"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error: Number of protocols (3) must match number "
	    "of ports (2)\n");
	CHECK_STR(r.out, "");
	CHECK_UINT(r.plan.n, 0);
	run_free(&r);
	/* parseInt: "3000abc" is 3000, " 12 " is 12, "0x10" is 0, "x" gone */
	run_argv(&r, ARGS("server", "-p", "3000abc, 12 ,x,,0x10", "-s", "x"));
	CHECK_INT(r.rc, -1);
	if (CHECK(r.plan.n == 3)) {
		CHECK_STR(r.plan.v[0].keyname, "udp3000");
		CHECK_STR(r.plan.v[1].keyname, "udp12");
		CHECK_STR(r.plan.v[2].keyname, "udp0");
	}
	CHECK(strstr(r.out, "-l 3000,12,0 -r 3000,12,0 --protocol udp,udp,udp")
	    != NULL);
	run_free(&r);
	run_argv(&r, ARGS("server", "-p", "x,y", "-s", "x"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error: No valid ports specified\n");
	run_free(&r);
	run_argv(&r, ARGS("server", "-p", "70000", "-s", "x"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error: invalid port 70000\n");
	run_free(&r);
	run_argv(&r, ARGS("server", "-s", "x"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Missing required argument: port\n");
	run_free(&r);
}

static void
client_mappings(void)
{
	struct run r;
	uint8_t pk[32];

	run_argv(&r, ARGS("client", "-l", "8080,8081", "-r", "80,443",
	    "--protocol", "udp,tcpudp", "-k", README_KEY));
	CHECK_INT(r.rc, -1);
	CHECK_STR(r.out, "Starting client mode with 2 port mappings\n"
	    "starting up from config\n");
	CHECK_STR(r.err, "");
	CHECK_INT(base58_decode_key(pk, README_KEY), 0);
	if (CHECK(r.plan.n == 2)) {
		/* the key name takes the remote port (spec §3.2) */
		CHECK_STR(r.plan.v[0].keyname, "udp80");
		CHECK_STR(r.plan.v[1].keyname, "tcpudp443");
		CHECK_INT(r.plan.v[0].local_port, 8080);
		CHECK_INT(r.plan.v[1].port, 443);
		CHECK_MEM(r.plan.v[1].peer, pk, 32);
		CHECK_INT(r.plan.v[1].mode, HNCLI_CLIENT);
	}
	run_free(&r);
	run_argv(&r, ARGS("client", "-l", "1,2", "-r", "3", "-k", README_KEY));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error: Number of local ports (2) must match number "
	    "of remote ports (1)\n");
	run_free(&r);
	run_argv(&r, ARGS("client", "-l", "1,2", "-r", "3,4", "--protocol",
	    "tcp,udp,udp", "-k", README_KEY));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error: Number of protocols (3) must match number "
	    "of ports (2)\n");
	run_free(&r);
	/* hyper-nat crashes on a bad key; we say so */
	run_argv(&r, ARGS("client", "-l", "1", "-r", "3", "-k", "0OIl"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error: invalid public key '0OIl' (base58 of 32 "
	    "bytes)\n");
	run_free(&r);
	run_argv(&r, ARGS("client", "-l", "1", "-r", "3"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Missing required argument: public-key\n");
	run_free(&r);
}

static int
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

static void
config_verbatim(void)
{
	struct hncli_plan plan = { 0 };
	char err[256];
	const char *json =
	    "{\"schema\":[\n"
	    " {\"mode\":\"server\",\"proto\":\"udp\",\"port\":\"07913\",\"secret\":\"s\"},\n"
	    " {\"mode\":\"server\",\"proto\":\"tcp\",\"port\":7913.0,\"host\":\"localhost\",\"secret\":\"s\\u00e9\"},\n"
	    " {\"mode\":\"client\",\"proto\":\"tcpudp\",\"port\":1e3,\"publicKey\":\"" README_KEY "\"},\n"
	    " {\"mode\":\"client\",\"proto\":\"udp\",\"port\":53,\"localPort\":\"5353\",\"publicKey\":\"" README_KEY "\"}\n"
	    "], \"other\": [1, {\"x\": null}]}";

	CHECK_INT(hncli_parse_config(json, strlen(json), &plan, err,
	    sizeof(err)), 0);
	if (CHECK(plan.n == 4)) {
		/* spec §6 #17: "07913" is its own key; 7913.0 is "7913" */
		CHECK_STR(plan.v[0].keyname, "udp07913");
		CHECK_INT(plan.v[0].port, 7913);
		CHECK_STR(plan.v[1].keyname, "tcp7913");
		CHECK_STR(plan.v[1].secret, "s\xc3\xa9");
		CHECK_STR(plan.v[2].keyname, "tcpudp1000");
		CHECK_INT(plan.v[2].local_port, 1000);	/* localPort || port */
		CHECK_STR(plan.v[3].keyname, "udp53");
		CHECK_INT(plan.v[3].local_port, 5353);
	}
	hncli_plan_free(&plan);
}

static void
config_errors(void)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"schema\":[{\"mode\":\"relay\"}]}",
		  "schema[0]: mode must be \"server\" or \"client\"" },
		{ "{\"schema\":[{\"mode\":\"server\",\"proto\":\"TCP\",\"port\":1,\"secret\":\"s\"}]}",
		  "schema[0]: proto must be tcp, udp or tcpudp" },
		{ "{\"schema\":[{\"mode\":\"server\",\"proto\":\"tcp\",\"port\":1.5,\"secret\":\"s\"}]}",
		  "schema[0]: port must be a port number" },
		{ "{\"schema\":[{\"mode\":\"server\",\"proto\":\"tcp\",\"port\":\"80x\",\"secret\":\"s\"}]}",
		  "schema[0]: port must be a port number" },
		{ "{\"schema\":[{\"mode\":\"server\",\"proto\":\"tcp\",\"port\":1}]}",
		  "schema[0]: a server needs a secret (a string)" },
		{ "{\"schema\":[{\"mode\":\"client\",\"proto\":\"tcp\",\"port\":1,\"publicKey\":\"abc\"}]}",
		  "schema[0]: publicKey must be a base58 key" },
		{ "{\"schema\":[{\"mode\":\"server\",\"proto\":\"tcp\",\"port\":1,\"secret\":\"s\",\"host\":\"h.example\"}]}",
		  "schema[0]: host must be an IPv4 address" },
		{ "{\"schema\":[1,2", "offset 14: expected ',' or a closing bracket" },
		{ "{\"schema\":", "offset 10: unexpected end" },
		{ "{\"schema\":[]} x", "offset 14: trailing characters" },
		{ "{\"a\":\"\\x\"}", "offset 8: bad escape" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		  "offset 33: nested too deeply" },
	};
	struct hncli_plan plan = { 0 };
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(hncli_parse_config(bad[i].json, strlen(bad[i].json),
		    &plan, err, sizeof(err)) != 0);
		CHECK_STR(err, bad[i].msg);
		hncli_plan_free(&plan);
	}
}

#define DEFAULT_HEAD \
	"No command specified - starting default server mode...\n" \
	"Server will run on localhost:3000 with both UDP and TCP protocols\n" \
	"Use --help to see all available options\n\n" \
	"Generated random secret: 1111"

static void
config_files_and_default(void)
{
	char dir[] = "/tmp/test_hncli.XXXXXX", path[64], old[4096];
	struct run r;

	if (!CHECK(mkdtemp(dir) != NULL) || !CHECK(getcwd(old, sizeof(old))))
		return;
	CHECK_INT(chdir(dir), 0);
	/* no options.json: hyper-nat's default servers, udp and tcp on 3000 */
	run_argv(&r, ARGS("--unknown-flag", "1"));
	CHECK_INT(r.rc, -1);
	CHECK(strncmp(r.out, DEFAULT_HEAD, strlen(DEFAULT_HEAD)) == 0);
	CHECK(strstr(r.out, "Starting servers...\nstarting up from config\n"
	    "\n=== CLIENT CONNECTION COMMAND ===\nnpx hyper-nat client -l "
	    "3000,3000 -r 3000,3000 --protocol udp,tcp -k ") != NULL);
	CHECK_STR(r.err, "warning: unknown option --unknown-flag ignored\n");
	if (CHECK(r.plan.n == 2)) {
		CHECK_STR(r.plan.v[0].keyname, "udp3000");
		CHECK_STR(r.plan.v[1].keyname, "tcp3000");
	}
	run_free(&r);
	/* options.json, two servers with one secret: consolidated */
	CHECK_INT(write_file("options.json", "{\"schema\":["
	    "{\"mode\":\"server\",\"proto\":\"udp\",\"port\":\"07913\",\"secret\":\"thisisaseretsecret\"},"
	    "{\"mode\":\"server\",\"proto\":\"tcp\",\"port\":7915,\"secret\":\"thisisaseretsecret\"}]}"), 0);
	run_argv(&r, ARGS("-h"));
	CHECK_INT(r.rc, 0);
	CHECK(strstr(r.out, "hypernatd server -p 3000 -s mysecret") != NULL);
	run_free(&r);
	run_argv(&r, ARGS("relay", "-p", "1"));
	CHECK_INT(r.rc, 1);
	CHECK(strncmp(r.err, "Unknown command: relay\n", 23) == 0);
	run_free(&r);
	run_argv(&r, ARGS("options", "--config", "options.json"));
	CHECK_INT(r.rc, -1);
	CHECK_STR(r.out, "starting up from config\n"
	    "\n=== CLIENT CONNECTION COMMAND ===\n"
	    "npx hyper-nat client -l 07913,7915 -r 07913,7915 --protocol udp,tcp -k "
	    README_KEY "\n=== END COMMAND ===\n\n");
	run_free(&r);
	/* one server with showCommands: the per-mapping block, in a form
	 * hyper-nat's client accepts (it prints "-p") */
	snprintf(path, sizeof(path), "%s/one.json", dir);
	CHECK_INT(write_file(path, "{\"schema\":[{\"mode\":\"server\","
	    "\"proto\":\"udp\",\"port\":7913,\"secret\":\"thisisaseretsecret\","
	    "\"showCommands\":true}]}"), 0);
	run_argv(&r, ARGS("-c", path));
	CHECK_INT(r.rc, -1);
	CHECK_STR(r.out, "starting up from config\n"
	    "\n=== CLIENT CONNECTION COMMAND FOR UDP:7913 ===\n"
	    "npx hyper-nat client -l 7913 -r 7913 --protocol udp -k "
	    README_KEY "\n=== END COMMAND ===\n\n");
	run_free(&r);
	/* a named file that is missing, and a broken file */
	run_argv(&r, ARGS("-c", "missing.json"));
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error loading config file missing.json: No such "
	    "file or directory\n");
	run_free(&r);
	CHECK_INT(write_file("options.json", "{\"schema\": [}"), 0);
	run_argv(&r, (const char *const[]){ NULL });
	CHECK_INT(r.rc, 1);
	CHECK_STR(r.err, "Error loading config file options.json: offset 12: "
	    "unexpected token\n");
	run_free(&r);
	unlink(path);
	unlink("options.json");
	CHECK_INT(chdir(old), 0);
	rmdir(dir);
}

static const struct test tests[] = {
	TEST(server_two_ports), TEST(server_random_secret),
	TEST(server_protocol_lists), TEST(client_mappings),
	TEST(config_verbatim), TEST(config_errors),
	TEST(config_files_and_default),
};

int
main(int argc, char **argv)
{
	if (keys_init() != 0)
		return 2;
	return harness_main("hncli", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
