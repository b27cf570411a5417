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

struct daemon {
	struct hnd	 h;
	struct control	*ctl;
	struct ev_loop	*loop;
	struct netmon	*netmon;
	ev_signal	 sigterm, sigint, sighup;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: hypernatd [-c FILE] [-s SOCKET] [-S STATE_DIR] [-l LEVEL]\n"
	    "       hypernatd -n [-c FILE] [-v]\n"
	    "       hypernatd --config-keys\n"
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
run(struct daemon *d, const struct hnd_options *opt)
{
	struct control_hooks hooks = { reload, changed, d };
	char err[HND_MSG_LEN], status[256], nerr[NODE_ERR_LEN];
	int rc = 1;

	if (hnd_init(&d->h, opt, err) < 0) {
		log_err("%s", err);
		goto out_hnd;
	}
	d->loop = ev_default_loop(EVFLAG_AUTO);
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
	node_free(d->h.node);
	d->h.node = NULL;
out_ctl:
	control_free(d->ctl);
out_hnd:
	hnd_free(&d->h);
	return rc;
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
		/*
		 * hyper-nat's own command line (server/client) needs working
		 * tunnels, which are not built yet: say so, do not pretend.
		 */
		if (strcmp(argv[optind], "server") == 0 ||
		    strcmp(argv[optind], "client") == 0)
			fprintf(stderr, "hypernatd: the hyper-nat command line "
			    "(%s) is not available yet: the tunnel transport is "
			    "not built\n", argv[optind]);
		else
			usage(stderr);
		return 2;
	}
	if (check)
		return check_config(opt.config_path, verbose);
	signal(SIGPIPE, SIG_IGN);
	return run(&d, &opt);
}
