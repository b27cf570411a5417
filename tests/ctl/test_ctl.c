/*
 * test_ctl.c - the real hypernatd and hypernatctl binaries, end to end
 *
 * Each test starts build/hypernatd on a temporary directory (config,
 * control socket, state dir), drives it only through build/hypernatctl or
 * raw bytes on the socket, and stops it by pid, also when a check failed
 * (an atexit handler kills what is left).  Outputs are compared with
 * golden files in tests/ctl/golden/ after replacing the temporary
 * directory by @TMP@ and pid/uptime values by @PID@/@UPTIME@; every -j
 * output is also read by python3's json module.  HN_UPDATE_GOLDEN=1
 * rewrites the golden files (review the diff).  Run from the repository
 * root, after `make` built both binaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "ctl_msg.h"
#include "harness.h"

/* HN_HYPERNATD / HN_HYPERNATCTL name other builds (e.g. sanitized ones) */
#define HYPERNATD	bin_daemon()
#define HYPERNATCTL	bin_ctl()
#define GOLDEN		"tests/ctl/golden"

#define KEY_A	"HC75S96J4EXBZZ82hYrgzkCWkFWGcgyao4s4suCdZSZw"
#define KEY_B	"7tke7qnSbnqYJjrMLe3ftBRHUbHxwpHuCnfdpidYUm4Y"
/* every daemon here: alone on loopback, any port, never the public nodes */
#define DHT_LOCAL	"dht:\n  bootstrap: []\n  port: 0\n  host: 127.0.0.1\n" \
			"  mode: ephemeral\n"

extern char **environ;

static const char *
bin_daemon(void)
{
	const char *p = getenv("HN_HYPERNATD");

	return p && p[0] ? p : "build/hypernatd";
}

static const char *
bin_ctl(void)
{
	const char *p = getenv("HN_HYPERNATCTL");

	return p && p[0] ? p : "build/hypernatctl";
}

static char tmp[64];
static char sock[96], state[128], conf[128], dlog[128];
static pid_t daemon_pid = -1;

/* ------------------------------------------------------------ helpers */

static void
kill_daemon(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	daemon_pid = -1;
}

static void
rm_tree(void)
{
	char cmd[128];

	if (tmp[0] && strncmp(tmp, "/tmp/hn-ctl-", 12) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmp);
	}
	tmp[0] = '\0';
}

static void
cleanup(void)
{
	kill_daemon();
	rm_tree();
}

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

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (!CHECK(fp != NULL))
		return;
	fputs(text, fp);
	fclose(fp);
}

static const char config_text[] =
	"identity:\n"
	"  secret: thisisaseretsecret\n"
	"daemon:\n"
	"  control_group: \"\"\n"
	"exports:\n"
	"  - { proto: tcp, port: 7915, allow: [" KEY_A "] }\n"
	"imports:\n"
	"  - { proto: tcp, peer: " KEY_B ", port: 443, listen: 127.0.0.1:8081 }\n"
	DHT_LOCAL;

/* A fresh temporary world; false (and the test skipped) without binaries. */
static bool
setup(void)
{
	if (access(HYPERNATD, X_OK) < 0 || access(HYPERNATCTL, X_OK) < 0) {
		harness_skip("%s or %s not built (run make)", HYPERNATD,
		    HYPERNATCTL);
		return false;
	}
	cleanup();
	strcpy(tmp, "/tmp/hn-ctl-XXXXXX");
	if (!CHECK(mkdtemp(tmp) != NULL)) {
		tmp[0] = '\0';
		return false;
	}
	snprintf(sock, sizeof(sock), "%s/control.sock", tmp);
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(conf, sizeof(conf), "%s/hypernat.conf", tmp);
	snprintf(dlog, sizeof(dlog), "%s/daemon.log", tmp);
	write_file(conf, config_text);
	return true;
}

static bool
socket_answers(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET, 0)) < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Run argv (NULL-ended) with stdout and stderr into files; returns the
 * child's pid, or -1.
 */
static pid_t
spawn(const char *const cargv[], const char *out, const char *err)
{
	posix_spawn_file_actions_t fa;
	char *argv[40];
	pid_t pid;
	int rc, i;

	/* posix_spawn wants writable strings; give it copies */
	for (i = 0; cargv[i] && i < 39; i++)
		argv[i] = strdup(cargv[i]);
	argv[i] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT |
	    O_TRUNC | O_APPEND, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT |
	    O_APPEND, 0644);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	return rc == 0 ? pid : -1;
}

/* Start the daemon and wait until its socket answers; false if it did not. */
static bool
daemon_up(void)
{
	const char *argv[] = { HYPERNATD, "-c", conf, "-s", sock, "-S",
	    state, "-l", "debug", NULL };
	int i, status;

	daemon_pid = spawn(argv, dlog, dlog);
	if (!CHECK(daemon_pid > 0))
		return false;
	for (i = 0; i < 250; i++) {
		if (socket_answers())
			return true;
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			break;
		}
		sleep_ms(20);
	}
	kill_daemon();
	return false;
}

static bool
start_daemon(void)
{
	char *log;

	if (daemon_up())
		return true;
	log = slurp(dlog);
	harness_fail(__FILE__, __LINE__, "hypernatd did not come up; log:\n%s",
	    log ? log : "");
	free(log);
	return false;
}

/* SIGTERM and wait: the clean stop; returns the exit status. */
static int
stop_daemon(void)
{
	int status = -1, i;

	if (daemon_pid <= 0)
		return -1;
	kill(daemon_pid, SIGTERM);
	for (i = 0; i < 250; i++) {
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		sleep_ms(20);
	}
	harness_fail(__FILE__, __LINE__, "hypernatd ignored SIGTERM");
	kill_daemon();
	return -1;
}

struct run {
	int	 rc;
	char	*out, *err;
};

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Run hypernatctl -s SOCK with the space-separated words of fmt. */
static void ctl(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctl(struct run *r, const char *fmt, ...)
{
	char words[512], out[160], err[160], *w, *save;
	const char *argv[32];
	int argc = 0, status;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	argv[argc++] = HYPERNATCTL;
	argv[argc++] = "-s";
	argv[argc++] = sock;
	for (w = strtok_r(words, " ", &save); w && argc < 31;
	    w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	snprintf(out, sizeof(out), "%s/ctl.out", tmp);
	snprintf(err, sizeof(err), "%s/ctl.err", tmp);
	unlink(out);
	unlink(err);
	memset(r, 0, sizeof(*r));
	r->rc = -1;
	if ((pid = spawn(argv, out, err)) < 0)
		return;
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		r->rc = WEXITSTATUS(status);
	r->out = slurp(out);
	r->err = slurp(err);
	if (r->out == NULL)
		r->out = strdup("");
	if (r->err == NULL)
		r->err = strdup("");
}

/* Replace every `from` in s (a malloc'd string) by `to`. */
static char *
replace_all(char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *p, *out, *o;

	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	out = malloc(strlen(s) + n * tl + 1);
	for (o = out, p = s; *p;) {
		if (strncmp(p, from, fl) == 0) {
			memcpy(o, to, tl);
			o += tl;
			p += fl;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	free(s);
	return out;
}

/* Replace the digits after each `label` by `mark`. */
static char *
mask_number(char *s, const char *label, const char *mark)
{
	char *p = s, *q, *out;
	size_t need;

	while ((p = strstr(p, label)) != NULL) {
		p += strlen(label);
		for (q = p; *q >= '0' && *q <= '9'; q++)
			;
		if (q == p)
			continue;
		need = strlen(s) - (size_t)(q - p) + strlen(mark) + 1;
		out = malloc(need);
		snprintf(out, need, "%.*s%s%s", (int)(p - s), s, mark, q);
		p = out + (p - s) + strlen(mark);
		free(s);
		s = out;
	}
	return s;
}

static char *
normalize(const char *text)
{
	char *s = strdup(text);

	s = replace_all(s, tmp, "@TMP@");
	s = mask_number(s, "pid:        ", "@PID@");
	s = mask_number(s, "uptime:     ", "@UPTIME@");
	s = mask_number(s, "\"pid\": ", "@PID@");
	s = mask_number(s, "\"uptime_seconds\": ", "@UPTIME@");
	/* the DHT sockets are on any free port */
	s = mask_number(s, "udp:        127.0.0.1:", "@PORT@");
	s = mask_number(s, "\"address\": \"127.0.0.1:", "@PORT@");
	s = mask_number(s, "), port ", "@PORT@");
	s = mask_number(s, "\"client_port\": ", "@PORT@");
	return s;
}

/* Compare a normalized run with golden/NAME: stdout, stderr, exit. */
static void
golden(const char *name, const struct run *r)
{
	char path[256], *got, *want, *o = normalize(r->out),
	    *e = normalize(r->err);
	size_t len;
	FILE *fp;

	len = strlen(o) + strlen(e) + 64;
	got = malloc(len);
	snprintf(got, len, "%s--- stderr\n%s--- exit %d\n", o, e, r->rc);
	snprintf(path, sizeof(path), "%s/%s", GOLDEN, name);
	if (getenv("HN_UPDATE_GOLDEN") && (fp = fopen(path, "w")) != NULL) {
		fputs(got, fp);
		fclose(fp);
	}
	if ((want = slurp(path)) == NULL)
		harness_fail(__FILE__, __LINE__, "missing golden file %s; "
		    "got:\n%s", path, got);
	else if (strcmp(got, want) != 0)
		harness_fail(__FILE__, __LINE__, "%s differs:\n--- got\n%s"
		    "--- want\n%s", path, got, want);
	free(want);
	free(got);
	free(o);
	free(e);
}

/*
 * The JSON is one document a real parser accepts: python3's json module,
 * or node's JSON.parse where there is no python3 (make deps installs node).
 */
static void
json_valid(const struct run *r, const char *what)
{
	char path[160], cmd[400];
	int rc;

	snprintf(path, sizeof(path), "%s/check.json", tmp);
	write_file(path, r->out);
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; "
	    "d = json.load(open(sys.argv[1])); assert isinstance(d, dict) "
	    "and \"ok\" in d' %s 2>&1", path);
	rc = system(cmd);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
		snprintf(cmd, sizeof(cmd), "node -e 'const d = JSON.parse("
		    "require(\"fs\").readFileSync(process.argv[1], \"utf8\")); "
		    "if (!(\"ok\" in d)) process.exit(1)' %s 2>&1", path);
		rc = system(cmd);
	}
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
		harness_skip("neither python3 nor node is installed");
		return;
	}
	if (rc != 0)
		harness_fail(__FILE__, __LINE__, "%s: not valid JSON:\n%s",
		    what, r->out);
}

/* ------------------------------------------------------------ tests */

/* One scenario, text and JSON, each step checked against a golden file. */
static const char *const steps[][2] = {
	{ "status", "status" },
	{ "key", "key" },
	{ "list", "list-initial" },
	{ "add udp 7913", "add-udp-7913" },
	{ "add tcpudp 27015 host 192.168.1.20 allow " KEY_A " allow " KEY_B,
	  "add-export-allow" },
	{ "add udp 7913 peer " KEY_A " listen 0.0.0.0:7914", "add-import" },
	{ "add udp 7913", "add-duplicate" },
	{ "add tcp 22 peer " KEY_B " listen 8081", "add-listen-conflict" },
	{ "list", "list-added" },
	{ "peers", "peers" },
	{ "del udp 7913 peer " KEY_A, "del-import" },
	{ "del tcp 7915", "del-config-refused" },
	{ "del udp 9", "del-missing" },
	{ "log-level debug", "log-level" },
	{ "reload", "reload" },
	{ "add sctp 1", "usage-proto" },
	{ "add udp 0", "usage-port" },
	{ "add udp 1 peer nokey", "usage-key" },
	{ "add udp 1 host 1.2.3.4 peer " KEY_A, "usage-mixed" },
	{ "frobnicate", "usage-command" },
};

static void
scenario(bool json)
{
	char name[96], cmd[300];
	struct run r;
	size_t i;

	if (!setup() || !start_daemon())
		return;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s%s", json ? "-j " : "",
		    steps[i][0]);
		snprintf(name, sizeof(name), "%s.%s", steps[i][1],
		    json ? "json" : "txt");
		ctl(&r, "%s", cmd);
		golden(name, &r);
		if (json && strcmp(steps[i][0], "frobnicate") != 0)
			json_valid(&r, name);
		run_free(&r);
	}
	CHECK_INT(stop_daemon(), 0);
	/* the socket is gone after a clean stop */
	CHECK(access(sock, F_OK) < 0);
	cleanup();
}

static void
ctl_golden_text(void)
{
	scenario(false);
}

static void
ctl_golden_json(void)
{
	scenario(true);
}

static void
ctl_exact_example_and_exit_codes(void)
{
	struct run r;

	if (!setup() || !start_daemon())
		return;
	/* the mission's own example, exactly as written */
	ctl(&r, "add udp 7913");
	CHECK_INT(r.rc, 0);
	CHECK(strstr(r.out, "hypernatctl add udp 7913 peer "
	    "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w\n") != NULL);
	CHECK(strstr(r.out, "hyper-nat client -l 7913 -r 7913 --protocol udp "
	    "-k DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w\n") != NULL);
	run_free(&r);
	ctl(&r, "add udp 7913");
	CHECK_INT(r.rc, 1);
	run_free(&r);
	ctl(&r, "add");
	CHECK_INT(r.rc, 2);
	run_free(&r);
	CHECK_INT(stop_daemon(), 0);
	ctl(&r, "status");
	CHECK_INT(r.rc, 3);
	CHECK(strstr(r.err, sock) != NULL);
	run_free(&r);
	cleanup();
}

/* ---- raw bytes on the socket */

static int
raw_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send one record, expect one NLMSG_ERROR with a negative error. */
static void
expect_error(int fd, const void *buf, size_t len, int want, const char *what)
{
	uint64_t rbuf[HNCTL_RECORD_MAX / 8];
	const struct nlmsghdr *nlh = (const void *)rbuf;
	struct ctl_attrs a;
	ssize_t n;
	int err = 0;

	if (send(fd, buf, len, 0) != (ssize_t)len) {
		harness_fail(__FILE__, __LINE__, "%s: send: %s", what,
		    strerror(errno));
		return;
	}
	n = recv(fd, rbuf, sizeof(rbuf), 0);
	if (n <= 0) {
		harness_fail(__FILE__, __LINE__, "%s: no answer (%zd, %s)",
		    what, n, strerror(errno));
		return;
	}
	if (!CHECK(ctl_msg_check(nlh, (size_t)n) == 0) ||
	    !CHECK(ctl_msg_parse_error(nlh, &err, &a) == 0))
		return;
	if (err != want)
		harness_fail(__FILE__, __LINE__, "%s: error %d, want %d (%s)",
		    what, err, want, ctl_attr_str(&a, HNCTL_A_MESSAGE, ""));
	CHECK(a.tb[HNCTL_A_MESSAGE] != NULL);
}

static void
ctl_garbage_gets_errors(void)
{
	uint64_t buf[(HNCTL_RECORD_MAX + 64) / 8];
	struct nlmsghdr *nlh;
	struct hnctl_hdr *h;
	struct nlattr *at;
	struct run r;
	int fd, i;

	if (!setup() || !start_daemon())
		return;
	if (!CHECK((fd = raw_connect()) >= 0))
		goto out;
	expect_error(fd, "garbage!", 8, -EBADMSG, "8 bytes of text");
	memset(buf, 0xff, 64);
	expect_error(fd, buf, 64, -EBADMSG, "64 bytes of 0xff");
	/* a header claiming more than was sent */
	nlh = ctl_msg_start(buf, HNCTL_MSG_STATUS, NLM_F_REQUEST, 7);
	nlh->nlmsg_len = 200;
	expect_error(fd, buf, 20, -EBADMSG, "length past the record");
	/* another protocol version */
	nlh = ctl_msg_start(buf, HNCTL_MSG_STATUS, NLM_F_REQUEST, 8);
	h = mnl_nlmsg_get_payload(nlh);
	h->version = 99;
	expect_error(fd, buf, nlh->nlmsg_len, -EPROTONOSUPPORT, "version 99");
	/* no NLM_F_REQUEST */
	nlh = ctl_msg_start(buf, HNCTL_MSG_STATUS, 0, 9);
	expect_error(fd, buf, nlh->nlmsg_len, -EINVAL, "not a request");
	/* an unknown type */
	nlh = ctl_msg_start(buf, 999, NLM_F_REQUEST, 10);
	expect_error(fd, buf, nlh->nlmsg_len, -EOPNOTSUPP, "type 999");
	nlh = ctl_msg_start(buf, NLMSG_NOOP, NLM_F_REQUEST, 10);
	expect_error(fd, buf, nlh->nlmsg_len, -EOPNOTSUPP, "NLMSG_NOOP");
	/* a port attribute of the wrong size */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 11);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, HNCTL_PROTO_UDP);
	mnl_attr_put_u32(nlh, HNCTL_A_PORT, 7913);
	expect_error(fd, buf, nlh->nlmsg_len, -EINVAL, "u32 port");
	/* an attribute running past the message */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 12);
	at = mnl_nlmsg_get_payload_tail(nlh);
	at->nla_type = HNCTL_A_PORT;
	at->nla_len = 400;
	nlh->nlmsg_len += 8;
	expect_error(fd, buf, nlh->nlmsg_len, -EINVAL, "attribute overrun");
	/* a string without its NUL */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 13);
	mnl_attr_put(nlh, HNCTL_A_MESSAGE, 3, "abc");
	expect_error(fd, buf, nlh->nlmsg_len, -EINVAL, "string without NUL");
	/* valid attributes, meaningless values */
	nlh = ctl_msg_start(buf, HNCTL_MSG_TUNNEL_ADD, NLM_F_REQUEST, 14);
	mnl_attr_put_u8(nlh, HNCTL_A_PROTO, 9);
	mnl_attr_put_u16(nlh, HNCTL_A_PORT, 1);
	expect_error(fd, buf, nlh->nlmsg_len, -EINVAL, "proto 9");
	nlh = ctl_msg_start(buf, HNCTL_MSG_LOG_LEVEL, NLM_F_REQUEST, 15);
	mnl_attr_put_u8(nlh, HNCTL_A_LOG_LEVEL, 200);
	expect_error(fd, buf, nlh->nlmsg_len, -EINVAL, "log level 200");
	/* unknown attributes are skipped: this add works */
	nlh = ctl_msg_start(buf, HNCTL_MSG_LOG_LEVEL, NLM_F_REQUEST, 16);
	mnl_attr_put_u32(nlh, 4000, 1);
	mnl_attr_put_u8(nlh, HNCTL_A_LOG_LEVEL, 7);
	expect_error(fd, buf, nlh->nlmsg_len, 0, "unknown attribute skipped");
	/* a record larger than the protocol allows */
	memset(buf, 0, sizeof(buf));
	nlh = ctl_msg_start(buf, HNCTL_MSG_STATUS, NLM_F_REQUEST, 17);
	nlh->nlmsg_len = HNCTL_RECORD_MAX + 64;
	expect_error(fd, buf, HNCTL_RECORD_MAX + 64, -EMSGSIZE, "oversize");
	close(fd);
	/* one record of 800 requests: answered, the excess with -ENOBUFS */
	if ((fd = raw_connect()) >= 0) {
		uint8_t *p = (uint8_t *)buf;
		size_t off = 0;
		int answers = 0, nobufs = 0, err;
		ssize_t n;

		for (i = 0; i < 800; i++) {
			nlh = ctl_msg_start(p + off, HNCTL_MSG_STATUS,
			    NLM_F_REQUEST, (uint32_t)i);
			off += nlh->nlmsg_len;
		}
		CHECK(send(fd, buf, off, 0) == (ssize_t)off);
		while (answers < 1600 &&
		    (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			int len = (int)n;
			struct ctl_attrs ea;

			for (nlh = (struct nlmsghdr *)buf;
			    mnl_nlmsg_ok(nlh, len);
			    nlh = mnl_nlmsg_next(nlh, &len)) {
				answers++;
				if (nlh->nlmsg_type == NLMSG_ERROR &&
				    ctl_msg_parse_error(nlh, &err, &ea) == 0 &&
				    err == -ENOBUFS)
					nobufs++;
			}
			if (answers >= 800 + (800 - nobufs))
				break;	/* all in: no 5 s wait for more */
		}
		CHECK(nobufs > 0);
		/* every request answered: STATUS + ack, or one error */
		CHECK_INT(answers, 800 + (800 - nobufs));
		close(fd);
	}
	/* random records on fresh connections */
	srand(42);
	for (i = 0; i < 50; i++) {
		size_t len = 1 + (size_t)(rand() % 300), k;
		uint8_t *p = (uint8_t *)buf;

		if ((fd = raw_connect()) < 0)
			break;
		for (k = 0; k < len; k++)
			p[k] = (uint8_t)rand();
		if (len >= 16 && i % 2) {	/* a plausible header */
			nlh = (struct nlmsghdr *)buf;
			nlh->nlmsg_len = (uint32_t)len;
			nlh->nlmsg_type = (uint16_t)(16 + i % 10);
		}
		(void)send(fd, buf, len, 0);
		close(fd);
	}
	/* still up, still right */
	ctl(&r, "status");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	CHECK(daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0);
out:
	CHECK_INT(stop_daemon(), 0);
	cleanup();
}

static void
ctl_slow_client_does_not_stall(void)
{
	uint64_t buf[64];
	struct nlmsghdr *nlh;
	struct run r;
	int fd, sent = 0, i;

	if (!setup() || !start_daemon())
		return;
	if (!CHECK((fd = raw_connect()) >= 0))
		goto out;
	/* ask for dumps and status without ever reading */
	for (i = 0; i < 5000; i++) {
		nlh = ctl_msg_start(buf, i % 2 ? HNCTL_MSG_STATUS :
		    HNCTL_MSG_TUNNEL_LIST, NLM_F_REQUEST | NLM_F_DUMP,
		    (uint32_t)i);
		if (send(fd, buf, nlh->nlmsg_len, MSG_DONTWAIT) < 0)
			break;
		sent++;
	}
	CHECK(sent > 0);
	/* others are served meanwhile */
	for (i = 0; i < 3; i++) {
		ctl(&r, "list");
		CHECK_INT(r.rc, 0);
		run_free(&r);
	}
	close(fd);
	ctl(&r, "status");
	CHECK_INT(r.rc, 0);
	run_free(&r);
out:
	CHECK_INT(stop_daemon(), 0);
	cleanup();
}

static void
ctl_restart_restores_runtime(void)
{
	struct run r, before;

	if (!setup() || !start_daemon())
		return;
	ctl(&r, "add udp 7913");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	ctl(&r, "add tcp 80 peer " KEY_A " listen 8080");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	ctl(&before, "list");
	CHECK_INT(stop_daemon(), 0);
	if (!start_daemon())
		goto out;
	ctl(&r, "list");
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.out, before.out);
	CHECK(strstr(r.out, "udp/7913") != NULL);
	CHECK(strstr(r.out, "127.0.0.1:8080") != NULL);
	run_free(&r);
	/* a delete survives a restart too */
	ctl(&r, "del udp 7913");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	CHECK_INT(stop_daemon(), 0);
	if (!start_daemon())
		goto out;
	ctl(&r, "list");
	CHECK(strstr(r.out, "udp/7913") == NULL);
	CHECK(strstr(r.out, "tcp/80") != NULL);
	run_free(&r);
	CHECK_INT(stop_daemon(), 0);
out:
	run_free(&before);
	cleanup();
}

static void
ctl_kill9_restores_runtime(void)
{
	struct run r;

	if (!setup() || !start_daemon())
		return;
	ctl(&r, "add udp 7913");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	ctl(&r, "add tcpudp 3000 allow " KEY_B);
	CHECK_INT(r.rc, 0);
	run_free(&r);
	kill_daemon();			/* SIGKILL: no clean-up at all */
	CHECK(access(sock, F_OK) == 0);	/* the stale socket is left */
	if (!start_daemon())		/* and replaced */
		goto out;
	ctl(&r, "list");
	CHECK(strstr(r.out, "udp/7913") != NULL);
	CHECK(strstr(r.out, "tcpudp/3000") != NULL);
	CHECK(strstr(r.out, "allow " KEY_B) != NULL);
	run_free(&r);
	CHECK_INT(stop_daemon(), 0);
out:
	cleanup();
}

static void
ctl_second_daemon_refused(void)
{
	const char *argv[] = { HYPERNATD, "-c", conf, "-s", sock, "-S", state,
	    NULL };
	char out[160], *log;
	int status = 0;
	pid_t pid;
	struct run r;

	if (!setup() || !start_daemon())
		return;
	snprintf(out, sizeof(out), "%s/second.log", tmp);
	pid = spawn(argv, out, out);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	log = slurp(out);
	CHECK(log && strstr(log, "another hypernatd is running") != NULL);
	free(log);
	/* the first one is untouched */
	ctl(&r, "status");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	CHECK_INT(stop_daemon(), 0);
	cleanup();
}

static void
ctl_reload_applies_difference(void)
{
	struct run r;

	if (!setup() || !start_daemon())
		return;
	ctl(&r, "add udp 5000");
	run_free(&r);
	/* import removed, export kept, two exports added (one replaces the
	 * runtime udp/5000), a bad key comes later */
	write_file(conf,
	    DHT_LOCAL "identity:\n  secret: thisisaseretsecret\n"
	    "daemon:\n  control_group: \"\"\n"
	    "exports:\n"
	    "  - { proto: tcp, port: 7915, allow: [" KEY_A "] }\n"
	    "  - { proto: udp, port: 7000 }\n"
	    "  - { proto: tcpudp, port: 5000 }\n");
	ctl(&r, "reload");
	CHECK_INT(r.rc, 0);
	CHECK(strstr(r.out, "hypernat.conf: 2 added, 1 removed, 1 kept, 1 "
	    "runtime tunnel replaced by the config\n") != NULL);
	run_free(&r);
	ctl(&r, "-j reload");
	CHECK(strstr(r.out, "0 added, 0 removed, 3 kept") != NULL);
	run_free(&r);
	ctl(&r, "list");
	CHECK(strstr(r.out, "tcp/443") == NULL);
	CHECK(strstr(r.out, "udp/7000") != NULL);
	CHECK(strstr(r.out, "tcpudp/5000") != NULL);
	CHECK(strstr(r.out, " udp/5000") == NULL);
	run_free(&r);
	/* a broken file changes nothing and says where */
	write_file(conf, "exports:\n  - { proto: udp, port: 99999 }\n");
	ctl(&r, "reload");
	CHECK_INT(r.rc, 1);
	CHECK(strstr(r.err, "hypernat.conf:2:25: port: port 99999 is out of "
	    "range (1-65535); nothing changed") != NULL);
	run_free(&r);
	ctl(&r, "list");
	CHECK(strstr(r.out, "udp/7000") != NULL);
	run_free(&r);
	/* SIGHUP reloads too */
	write_file(conf, DHT_LOCAL "identity:\n  secret: thisisaseretsecret\n"
	    "exports:\n  - { proto: udp, port: 7001 }\n");
	kill(daemon_pid, SIGHUP);
	sleep_ms(300);
	ctl(&r, "list");
	CHECK(strstr(r.out, "udp/7001") != NULL);
	CHECK(strstr(r.out, "udp/7000") == NULL);
	run_free(&r);
	CHECK_INT(stop_daemon(), 0);
	cleanup();
}

static void
ctl_runtime_file_after_reload_drop(void)
{
	char path[160], *text;
	struct run r;

	if (!setup() || !start_daemon())
		return;
	ctl(&r, "add udp 6000");
	run_free(&r);
	snprintf(path, sizeof(path), "%s/tunnels", state);
	text = slurp(path);
	CHECK(text && strstr(text, "port: 6000") != NULL);
	free(text);
	write_file(conf, DHT_LOCAL "identity:\n  secret: thisisaseretsecret\n"
	    "exports:\n  - { proto: udp, port: 6000, host: 10.0.0.1 }\n");
	ctl(&r, "reload");
	CHECK(strstr(r.out, "1 runtime tunnel replaced by the config") != NULL);
	run_free(&r);
	text = slurp(path);
	CHECK(text && strstr(text, "port: 6000") == NULL);
	free(text);
	CHECK_INT(stop_daemon(), 0);
	cleanup();
}

static void
daemon_key_file_identity(void)
{
	char path[160], *log;
	struct run r1, r2;
	struct stat st;

	if (!setup())
		return;
	write_file(conf, DHT_LOCAL "daemon:\n  control_group: \"\"\n");
	if (!start_daemon())
		goto out;
	snprintf(path, sizeof(path), "%s/identity", state);
	CHECK_INT(stat(path, &st), 0);
	CHECK_UINT(st.st_mode & 0777, 0600);
	ctl(&r1, "key");
	CHECK_INT(stop_daemon(), 0);
	if (!start_daemon())
		goto out;
	ctl(&r2, "key");
	CHECK_STR(r2.out, r1.out);
	CHECK(strstr(r1.out, "DHUJWe9KAAYTYrFLZxkRRJTV76699omiQLAKPTPTmu6w") ==
	    NULL);
	run_free(&r1);
	run_free(&r2);
	CHECK_INT(stop_daemon(), 0);
	/* readable by others: refused, with the reason */
	chmod(path, 0644);
	if (daemon_up()) {
		harness_fail(__FILE__, __LINE__, "started with a 0644 key file");
		stop_daemon();
	}
	log = slurp(dlog);
	CHECK(log && strstr(log, "key file is accessible by others (mode "
	    "0644)") != NULL);
	free(log);
out:
	cleanup();
}

/* ---- systemd notifications, read from our own NOTIFY_SOCKET */

static int
notify_socket(char *path, size_t cap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 3, 0 };
	int fd;

	snprintf(path, cap, "%s/notify", tmp);
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read notifications until one contains `want`; false after 3 s. */
static bool
notified(int fd, const char *want, char *last, size_t cap)
{
	ssize_t n;

	for (;;) {
		n = recv(fd, last, cap - 1, 0);
		if (n < 0)
			return false;
		last[n] = '\0';
		if (strstr(last, want) != NULL)
			return true;
	}
}

static void
daemon_sd_notify(void)
{
	char path[160], last[512];
	struct run r;
	int fd;

	if (!setup())
		return;
	if (!CHECK((fd = notify_socket(path, sizeof(path))) >= 0))
		goto out;
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	unsetenv("WATCHDOG_PID");
	if (!start_daemon())
		goto out_env;
	CHECK(notified(fd, "READY=1", last, sizeof(last)));
	CHECK(strstr(last, "STATUS=1 export, 1 import (0 runtime); dht "
	    "bootstrapp") != NULL);
	/* a node alone is bootstrapped at once, and STATUS= says so */
	if (strstr(last, "dht bootstrapped") == NULL)
		CHECK(notified(fd, "dht bootstrapped, 0 nodes, ephemeral, "
		    "firewalled", last, sizeof(last)));
	/* WATCHDOG=1 every 100 ms: two in a row */
	CHECK(notified(fd, "WATCHDOG=1", last, sizeof(last)));
	CHECK(notified(fd, "WATCHDOG=1", last, sizeof(last)));
	ctl(&r, "add udp 7913");
	run_free(&r);
	CHECK(notified(fd, "STATUS=2 exports, 1 import (1 runtime)", last,
	    sizeof(last)));
	ctl(&r, "reload");
	run_free(&r);
	CHECK(notified(fd, "RELOADING=1", last, sizeof(last)));
	CHECK(strstr(last, "MONOTONIC_USEC=") != NULL);
	CHECK(notified(fd, "READY=1", last, sizeof(last)));
	kill(daemon_pid, SIGTERM);
	CHECK(notified(fd, "STOPPING=1", last, sizeof(last)));
	CHECK_INT(stop_daemon(), 0);
out_env:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	close(fd);
out:
	cleanup();
}

/* ---- more clients than the daemon takes, and too few descriptors */

static int
raw_connect_nb(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
many_clients(rlim_t nofile)
{
	struct rlimit old, low;
	int fds[120], n = 0, i;
	struct run r;
	char *log;

	if (!setup())
		return;
	/* the daemon inherits the limit; ours is restored right after */
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	if (nofile && nofile < old.rlim_cur)
		low.rlim_cur = nofile;
	setrlimit(RLIMIT_NOFILE, &low);
	i = start_daemon();
	setrlimit(RLIMIT_NOFILE, &old);
	if (!i)
		goto out;
	/* the backlog is 16: let the daemon accept between tries */
	for (i = 0; i < 400 && n < 100; i++) {
		if ((fds[n] = raw_connect_nb()) >= 0)
			n++;
		else
			sleep_ms(5);
	}
	CHECK(n >= 16 + (nofile ? 0 : 64));
	sleep_ms(300);
	CHECK(daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0);
	for (i = 0; i < n; i++)
		close(fds[i]);
	/* accept resumes (after at most 1 s when it hit EMFILE) */
	sleep_ms(nofile ? 1300 : 100);
	ctl(&r, "status");
	CHECK_INT(r.rc, 0);
	run_free(&r);
	log = slurp(dlog);
	if (nofile)
		CHECK(log && strstr(log, "control: accept paused for 1 s: "
		    "Too many open files") != NULL);
	else
		CHECK(log && strstr(log, "control: 64 clients, accept "
		    "paused") != NULL);
	free(log);
	CHECK_INT(stop_daemon(), 0);
out:
	cleanup();
}

static void
ctl_client_limit_pauses_accept(void)
{
	many_clients(0);
}

static void
ctl_emfile_pauses_accept(void)
{
	many_clients(24);
}

/* ---- hypernatd -n: the config check from the command line */

static void
daemon_check_mode(void)
{
	const char *good[] = { HYPERNATD, "-n", "-c",
	    "tests/config/good/design_example.yaml", NULL };
	const char *bad[] = { HYPERNATD, "-n", "-c",
	    "tests/config/bad/port_range.yaml", NULL };
	char out[160], err[160], *o, *e, *want;
	int status = -1;
	pid_t pid;

	if (!setup())
		return;
	snprintf(out, sizeof(out), "%s/n.out", tmp);
	snprintf(err, sizeof(err), "%s/n.err", tmp);
	pid = spawn(good, out, err);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	o = slurp(out);
	want = slurp("tests/config/good/design_example.out");
	CHECK(o && want && strcmp(o, want) == 0);
	free(o);
	free(want);
	unlink(out);
	unlink(err);
	pid = spawn(bad, out, err);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	e = slurp(err);
	CHECK(e && strcmp(e, "tests/config/bad/port_range.yaml:3:9: port: "
	    "port 70000 is out of range (0-65535)\n") == 0);
	free(e);
	cleanup();
}

/* ---- the socket: mode 0660, group from daemon.control_group */

static void
ctl_socket_mode_and_group(void)
{
	struct group *gr = getgrnam("nogroup");
	struct stat st;
	char text[256];

	if (gr == NULL) {
		harness_skip("no group \"nogroup\" to hand the socket to");
		return;
	}
	if (!setup())
		return;
	snprintf(text, sizeof(text), DHT_LOCAL "identity:\n  secret: x\n"
	    "daemon:\n  control_group: nogroup\n");
	write_file(conf, text);
	if (!start_daemon())
		goto out;
	CHECK_INT(stat(sock, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_UINT(st.st_mode & 07777, 0660);
	CHECK_UINT(st.st_gid, gr->gr_gid);
	/* the state dir is private */
	CHECK_INT(stat(state, &st), 0);
	CHECK_UINT(st.st_mode & 07777, 0700);
	CHECK_INT(stop_daemon(), 0);
out:
	cleanup();
}

static const struct test tests[] = {
	TEST(ctl_golden_text),
	TEST(ctl_golden_json),
	TEST(ctl_exact_example_and_exit_codes),
	TEST(ctl_garbage_gets_errors),
	TEST(ctl_slow_client_does_not_stall),
	TEST(ctl_restart_restores_runtime),
	TEST(ctl_kill9_restores_runtime),
	TEST(ctl_second_daemon_refused),
	TEST(ctl_reload_applies_difference),
	TEST(ctl_runtime_file_after_reload_drop),
	TEST(daemon_key_file_identity),
	TEST(daemon_sd_notify),
	TEST(ctl_client_limit_pauses_accept),
	TEST(ctl_emfile_pauses_accept),
	TEST(daemon_check_mode),
	TEST(ctl_socket_mode_and_group),
};

int
main(int argc, char **argv)
{
	/*
	 * The sanitizer build of this suite drives sanitizer builds of the
	 * binaries when they exist (build/san/hypernatd, build/san/hypernatctl).
	 */
	if (strstr(argv[0], "/san/") != NULL) {
		if (access("build/san/hypernatd", X_OK) == 0)
			setenv("HN_HYPERNATD", "build/san/hypernatd", 0);
		if (access("build/san/hypernatctl", X_OK) == 0)
			setenv("HN_HYPERNATCTL", "build/san/hypernatctl", 0);
	}
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	return harness_main("ctl", tests, sizeof(tests) / sizeof(tests[0]),
	    argc, argv);
}
