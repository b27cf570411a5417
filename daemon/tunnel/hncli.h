/*
 * hncli.h - hyper-nat 1.1.3's command line and options.json, run in the
 * foreground on the tunnel layer (DESIGN.md §5, spec/hypernat-app.md §1.1)
 *
 *   hypernatd server -p PORTS [--protocol PROTOS] [--host H] [-s SECRET]
 *   hypernatd client -l LOCALPORTS -r REMOTEPORTS [--protocol PROTOS] -k KEY
 *   hypernatd options [-c FILE]  options.json {"schema": [...]}, or the
 *                                default: udp and tcp servers on 3000
 *                                (hyper-nat's no-command mode; hncli also
 *                                takes it without "options")
 *
 * Option semantics are hyper-nat's: comma lists, one protocol replicated
 * over all ports, count checks, ports through parseInt for the command
 * line and verbatim from the config file for the key name ("07913" is not
 * "7913"), a random 32-byte hex secret printed once when none is given.
 * What hyper-nat prints on start-up is printed the same way; the
 * per-mapping client command it prints (with -p, which its client does not
 * take) is printed in the form that works.  Where hyper-nat crashes
 * (bad base58 key, unknown mode, missing secret) we print an error and
 * exit 1.
 */
#ifndef HN_HNCLI_H
#define HN_HNCLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "keys.h"
#include "daemon/tuntab.h"

struct ev_loop;
struct conn_node;

enum hncli_mode {
	HNCLI_SERVER = 1,
	HNCLI_CLIENT = 2,
};

/* One hyper-nat mapping. */
struct hncli_map {
	enum hncli_mode	 mode;
	enum tun_proto	 proto;
	char		 keyname[48];	/* proto + port as hyper-nat joins them */
	char		 port_text[24];	/* the port as printed */
	uint16_t	 port;		/* service (remote) port */
	uint16_t	 local_port;	/* client: where to listen */
	uint8_t		 host[4];	/* server: the service's address */
	char		*secret;	/* server; wiped and freed with the plan */
	uint8_t		 peer[KEYS_PK_LEN];	/* client: the base key */
};

struct hncli_plan {
	struct hncli_map *v;
	size_t		  n;
};

/* Where hncli prints and draws randomness (tests replace them). */
struct hncli_io {
	FILE	*out, *err;
	void	(*random)(void *buf, size_t len);
};

/*
 * Parse argv (argv[0] is the program, argv[1] "server", "client" or an
 * option) into `plan` and print what hyper-nat prints before it starts
 * its mappings.  Returns -1 when the plan is ready to run, else an exit
 * status (0 after --help, 1 on errors).  Free with hncli_plan_free().
 */
int	hncli_plan(int argc, char **argv, const struct hncli_io *io,
	    struct hncli_plan *plan);
void	hncli_plan_free(struct hncli_plan *plan);

/* Parse options.json text into `plan`; 0 or -EINVAL with a message. */
int	hncli_parse_config(const char *text, size_t len,
	    struct hncli_plan *plan, char *err, size_t errcap);

/*
 * What hncli needs from the daemon's node code: the loop and a DHT node
 * with its conn_node, bootstrapped from env HYPERNAT_BOOTSTRAP
 * ("host:port,host:port") when set, else from the public bootstrap nodes.
 * `caps` are the CONN_CAP_* to offer.
 */
struct hncli_env {
	struct ev_loop	 *loop;
	struct conn_node *(*node_up)(void *arg, uint32_t caps);
	void		 (*node_down)(void *arg);
	void		 *arg;
};

/*
 * The whole front end: parse, print, bring the node up, start every
 * mapping, run the loop until SIGINT or SIGTERM.  Returns the exit status.
 */
int	hncli_main(int argc, char **argv, const struct hncli_env *env);

#endif
