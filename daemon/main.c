/*
 * main.c - hypernatd: options, start-up, the event loop, signals
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "control.h"
#include "hnd.h"
#include "log.h"
#include "netmon.h"
#include "node.h"
#include "notify.h"
#include "daemon/connect/conn.h"
#include "daemon/tunnel/hncli.h"
#include "daemon/tunnel/tunnel.h"

struct daemon {
	struct hnd	 h;
	struct control	*ctl;
	struct ev_loop	*loop;
	struct netmon	*netmon;
	struct conn_node *cn;		/* peer connections on the node */
	struct tunnel_layer *tunnels;
	ev_signal	 sigterm, sigint, sighup;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hypernatd [-c FILE] [-s SOCKET] [-S STATE_DIR] [-l LEVEL]\n"
	    "       hypernatd -n [-c FILE] [-v]\n"
	    "       hypernatd --config-keys\n"
	    "       hypernatd server|client|options ...   (hyper-nat's command line)\n"
	    "\n"
	    "  -c, --config FILE      config file (default %s)\n"
	    "  -n, --check            check the config, print the effective one, exit\n"
	    "  -v, --verbose          with -n: print each key's help too\n"
	    "  -s, --socket PATH      control socket (overrides daemon.control_socket)\n"
	    "  -S, --state-dir DIR    state directory (overrides daemon.state_dir)\n"
	    "  -l, --log-level LEVEL  error|warning|notice|info|debug (overrides daemon.log_level)\n"
	    "      --config-keys      print every config key with type, range, default, help\n"
	    "  -V, --version          print the version\n"
	    "  -h, --help             this text\n",
	    CONFIG_DEFAULT_PATH);
}

static void
status_line(struct daemon *d, char *buf, size_t cap)
{
	unsigned ex, im, rt;
	char dht[128];

	hnd_counts(&d->h, &ex, &im, &rt);
	snprintf(buf, cap, "%u export%s, %u import%s (%u runtime); dht %s",
	    ex, ex == 1 ? "" : "s", im, im == 1 ? "" : "s", rt,
	    hnd_dht_state(&d->h, dht, sizeof(dht)));
}

static int
reload(void *ctx, struct tuntab_diff *diff, char *msg)
{
	struct daemon *d = ctx;
	char status[256];
	int rc;

	notify_reloading();
	rc = hnd_reload(&d->h, diff, msg);
	if (rc < 0)
		log_warnx("config: %s", msg);
	else if (d->tunnels != NULL)
		tunnel_layer_set_policy(d->tunnels, d->h.cfg->plaintext_datagrams);
	status_line(d, status, sizeof(status));
	notify_reloaded(status);
	return rc;
}

static void
changed(void *ctx)
{
	struct daemon *d = ctx;
	char status[256];

	status_line(d, status, sizeof(status));
	notify_status("%s", status);
}

/* netmon: the machine's addresses or default route changed */
static void
addresses_changed(void *ctx, const struct hn_addr *local, size_t n)
{
	struct daemon *d = ctx;

	node_addresses_changed(d->h.node, local, n);
}

/* after the DHT heard of it: punching and announces use the new addresses */
static void
conn_addresses_changed(void *ctx, const struct hn_addr *local, size_t n)
{
	struct daemon *d = ctx;

	if (d->cn != NULL)
		conn_node_addresses_changed(d->cn, local, n);
}

/*
 * The peer-connection node on the DHT node's sockets, and the tunnels on
 * it.  Secure datagrams are offered to every peer; a hyper-nat peer does
 * not offer them back and gets plaintext (or is refused by policy).
 */
static int
transport_start(struct daemon *d)
{
	struct conn_node_config cc;

	memset(&cc, 0, sizeof(cc));
	node_conn_config(d->h.node, &cc);
	cc.caps = CONN_CAP_SECURE_DGRAM;
	if ((d->cn = conn_node_new(&cc)) == NULL)
		return -ENOMEM;
	node_set_addr_hook(d->h.node, conn_addresses_changed, d);
	tunnel_layer_set_policy(d->tunnels, d->h.cfg->plaintext_datagrams);
	tunnel_layer_attach(d->tunnels, d->cn, &d->h.id.base, &d->h.id.client);
	d->h.transport = "ready";
	return 0;
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	struct tuntab_diff diff;
	char msg[HND_MSG_LEN];

	if (w->signum == SIGHUP) {
		log_info("config: reload on SIGHUP");
		(void)reload(d, &diff, msg);
		return;
	}
	log_info("stopping on signal %d", w->signum);
	notify_stopping();
	ev_break(loop, EVBREAK_ALL);
}

static int
check_config(const char *path, bool verbose)
{
	char err[CONFIG_ERR_LEN];
	struct config *c;

	if (config_load(path ? path : CONFIG_DEFAULT_PATH, &c, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	config_print(c, stdout, verbose);
	config_free(c);
	return 0;
}

static int
run(struct daemon *d, struct hnd_options *opt)
{
	struct control_hooks hooks = { reload, changed, d };
	struct tunnel_config tc;
	char err[HND_MSG_LEN], status[256], nerr[NODE_ERR_LEN];
	int rc = 1;

	d->loop = ev_default_loop(EVFLAG_AUTO);
	/*
	 * The tunnel layer exists before the table fills (hnd_init starts
	 * every tunnel); it gets its node and keys once they exist.
	 */
	memset(&tc, 0, sizeof(tc));
	tc.loop = d->loop;
	tc.secure_dgrams = true;
	if ((d->tunnels = tunnel_layer_new(&tc)) == NULL) {
		log_err("out of memory");
		return 1;
	}
	opt->tunnel_ops = &tunnel_ops;
	opt->tunnel_ctx = d->tunnels;
	if (hnd_init(&d->h, opt, err) < 0) {
		log_err("%s", err);
		goto out_hnd;
	}
	/*
	 * Signals first: a SIGTERM that comes as soon as the control socket
	 * answers (while the node starts) must stop us cleanly, not kill us.
	 */
	ev_signal_init(&d->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&d->sigint, signal_cb, SIGINT);
	ev_signal_init(&d->sighup, signal_cb, SIGHUP);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sighup);
	if ((d->ctl = control_new(&d->h, d->loop, &hooks)) == NULL) {
		log_err("out of memory");
		goto out_hnd;
	}
	if (control_listen(d->ctl, d->h.socket_path, d->h.cfg->control_group,
	    err) < 0) {
		log_err("%s", err);
		goto out_ctl;
	}
	/* DESIGN.md §7: READY=1 once the socket listens and the DHT is bound */
	if ((d->h.node = node_new(d->loop, d->h.cfg, changed, d, nerr)) ==
	    NULL) {
		log_err("%s", nerr);
		goto out_ctl;
	}
	if ((rc = transport_start(d)) < 0) {
		log_err("peer connections: %s", strerror(-rc));
		rc = 1;
		goto out_node;
	}
	/* DESIGN.md §7: without it the daemon works, it only adapts slower */
	if ((d->netmon = netmon_new(d->loop, addresses_changed, d, &rc)) ==
	    NULL)
		log_warnx("netmon: cannot watch address changes: %s",
		    strerror(-rc));
	rc = 1;
	notify_watchdog_start(d->loop);
	status_line(d, status, sizeof(status));
	log_notice("hypernatd %s started, key %s, control socket %s; %s",
	    HND_VERSION, d->h.id.base_b58, d->h.socket_path, status);
	notify_ready(status);
	ev_run(d->loop, 0);
	notify_watchdog_stop(d->loop);
	rc = 0;
	netmon_free(d->netmon);
out_node:
	/* tunnels first (they use the connections), then the node under them */
	tuntab_free(&d->h.tab);
	tunnel_layer_free(d->tunnels);
	d->tunnels = NULL;
	conn_node_free(d->cn);
	d->cn = NULL;
	node_free(d->h.node);
	d->h.node = NULL;
out_ctl:
	control_free(d->ctl);
out_hnd:
	hnd_free(&d->h);
	tunnel_layer_free(d->tunnels);
	return rc;
}

/* ------------------------------------------------- hyper-nat front end */

struct hncli_node {
	struct node	 *node;
	struct conn_node *cn;
};

static void
hncli_changed(void *arg)
{
}

/*
 * hyper-nat's command line runs on a node of its own: any free port, the
 * public bootstrap nodes, or HYPERNAT_BOOTSTRAP ("ip:port,ip:port") for a
 * private network (tests).
 */
static struct conn_node *
hncli_node_up(void *arg, uint32_t caps)
{
	struct hncli_node *hn = arg;
	struct conn_node_config cc;
	const char *env = getenv("HYPERNAT_BOOTSTRAP");
	char text[1024], err[NODE_ERR_LEN];
	struct config *cfg;
	int n;

	if (env != NULL && *env != '\0') {
		n = snprintf(text, sizeof(text),
		    "dht:\n  bootstrap: [%s]\n  port: 0\n", env);
		if (n < 0 || (size_t)n >= sizeof(text) ||
		    config_parse("HYPERNAT_BOOTSTRAP", text, (size_t)n, &cfg,
		    err) < 0) {
			log_err("HYPERNAT_BOOTSTRAP: %s", err);
			return NULL;
		}
	} else if (config_defaults(&cfg) < 0) {
		return NULL;
	} else {
		cfg->dht_port = 0;
	}
	hn->node = node_new(EV_DEFAULT, cfg, hncli_changed, hn, err);
	config_free(cfg);
	if (hn->node == NULL) {
		log_err("%s", err);
		return NULL;
	}
	memset(&cc, 0, sizeof(cc));
	node_conn_config(hn->node, &cc);
	cc.caps = caps;
	if ((hn->cn = conn_node_new(&cc)) == NULL) {
		node_free(hn->node);
		hn->node = NULL;
	}
	return hn->cn;
}

static void
hncli_node_down(void *arg)
{
	struct hncli_node *hn = arg;

	conn_node_free(hn->cn);
	node_free(hn->node);
	hn->cn = NULL;
	hn->node = NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "config-keys", no_argument, NULL, 'K' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct hnd_options opt = { NULL, NULL, NULL, -1, NULL, NULL };
	static struct daemon d;
	bool check = false, verbose = false;
	int ch;

	log_init("hypernatd", LOG_LVL_INFO);
	/* hyper-nat's own command line, before our options are parsed */
	if (argc > 1 && (strcmp(argv[1], "server") == 0 ||
	    strcmp(argv[1], "client") == 0 || strcmp(argv[1], "options") == 0)) {
		static struct hncli_node hn;
		struct hncli_env env = { EV_DEFAULT, hncli_node_up,
		    hncli_node_down, &hn };

		if (keys_init() != 0)
			return 1;
		signal(SIGPIPE, SIG_IGN);
		return hncli_main(argc - 1, argv + 1, &env);
	}
	while ((ch = getopt_long(argc, argv, "c:nvs:S:l:Vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt.config_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 's':
			opt.socket_path = optarg;
			break;
		case 'S':
			opt.state_dir = optarg;
			break;
		case 'l':
			if ((opt.log_level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "hypernatd: unknown log level "
				    "%s\n", optarg);
				return 2;
			}
			break;
		case 'K':
			config_print_keys(stdout);
			return 0;
		case 'V':
			printf("hypernatd %s\n", HND_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (check)
		return check_config(opt.config_path, verbose);
	signal(SIGPIPE, SIG_IGN);
	return run(&d, &opt);
}
