/*
 * config.h - /etc/hypernat/hypernat.conf: YAML read against one schema table
 *
 * DESIGN.md §5.  One table (config.c, `config_schema`) names every key with
 * its type, range, default and help; the same table validates a file,
 * fills in defaults, prints the effective config (`hypernatd -n`) and the
 * key reference (`hypernatd --config-keys`).  Unknown keys, wrong types,
 * out-of-range values, duplicate keys, bad base58 keys and bad addresses are
 * errors, reported as "file:line:column: message" (1-based, as editors
 * count).  Nothing is half-applied: a failed load leaves no config.
 *
 * The runtime tunnel state file (state dir, "tunnels") is parsed by the
 * same code with a schema of only `exports` and `imports`.
 */
#ifndef HN_CONFIG_H
#define HN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "addr.h"
#include "tuntab.h"

#define CONFIG_DEFAULT_PATH	"/etc/hypernat/hypernat.conf"
#define CONFIG_ERR_LEN		512

enum dht_mode {
	DHT_MODE_AUTO = 0,
	DHT_MODE_EPHEMERAL = 1,
	DHT_MODE_PERSISTENT = 2,
};

enum plaintext_policy {
	PLAINTEXT_ALLOW = 0,
	PLAINTEXT_REFUSE = 1,
};

/* A list of tunnel definitions as read from a file. */
struct config_tunnels {
	struct tundef	*v;
	size_t		 n;
};

struct config_bootstrap {
	char		**text;		/* as written: "ip@name:port" */
	struct hn_addr	 *addr;
	size_t		  n;
};

struct config {
	char		*path;		/* the file read, or NULL for defaults */
	/* identity */
	char		*secret;	/* NULL when not set; wiped on free */
	char		*key_file;	/* "" = <state_dir>/identity */
	/* dht */
	struct config_bootstrap bootstrap;
	uint16_t	 dht_port;
	uint8_t		 dht_host[4];	/* bind address; a bootstrap node's public one */
	int		 dht_mode;	/* enum dht_mode */
	/* daemon */
	char		*control_socket;
	char		*control_group;
	char		*state_dir;
	int		 log_level;	/* enum log_level */
	/* security */
	int		 plaintext_datagrams;	/* enum plaintext_policy */
	/* tunnels */
	struct config_tunnels exports;
	struct config_tunnels imports;
};

/*
 * Read and check `path`.  On success *out is a new config (config_free()
 * it) and 0 is returned.  On failure returns -errno (-EINVAL for a bad
 * file, -ENOENT etc. when it cannot be read) and `err` (CONFIG_ERR_LEN
 * bytes) holds "path:line:column: message" or "path: strerror".
 */
int	config_load(const char *path, struct config **out, char *err);
/* The same on a buffer; `name` stands for the file name in messages. */
int	config_parse(const char *name, const void *buf, size_t len,
	    struct config **out, char *err);
/* Every key at its default, no file. */
int	config_defaults(struct config **out);
void	config_free(struct config *c);

/* The path of the generated key file: key_file or <state_dir>/identity. */
const char *config_key_file(const struct config *c, char *buf, size_t cap);

/*
 * Write the effective config as YAML that config_parse() reads back to the
 * same values.  The secret is never written: a comment says whether it is
 * set.  With `help`, each key is preceded by its help text.
 */
void	config_print(const struct config *c, FILE *fp, bool help);
/* Write the key reference: key, type, range, default, help. */
void	config_print_keys(FILE *fp);

/*
 * The runtime tunnel state file: only `exports` and `imports`.  A missing
 * file is an empty list.  Returns 0 or -errno with `err` filled as above;
 * the caller frees out->v.
 */
int	config_load_tunnels(const char *path, struct config_tunnels *exports,
	    struct config_tunnels *imports, char *err);
/* Write definitions (n of them) in the form config_load_tunnels() reads. */
void	config_write_tunnels(FILE *fp, const struct tundef *defs, size_t n);

#endif
