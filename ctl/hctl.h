/*
 * hctl.h - hypernatctl: connection, commands, output
 *
 * The commands (cmd.c) turn words into one request, send it (conn.c),
 * decode the replies into the plain structs below and hand them to the
 * output table: one text implementation (output_text.c) and one JSON
 * implementation (output_json.c), as bgpctl does.
 */
#ifndef HN_HCTL_H
#define HN_HCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base58.h"
#include "ctl_msg.h"

/* Exit statuses (DESIGN.md §6). */
#define HCTL_EXIT_OK		0
#define HCTL_EXIT_FAILED	1
#define HCTL_EXIT_USAGE		2
#define HCTL_EXIT_UNREACHABLE	3

#define HCTL_KEY_LEN	BASE58_ENCODED_SIZE(32)

/* ------------------------------------------------------------ connection */

struct hctl_conn {
	int		 fd;
	uint32_t	 seq;
	const char	*path;
};

/* A data message of the reply (not the final ack or NLMSG_DONE). */
typedef void	(*hctl_msg_cb)(const struct nlmsghdr *nlh,
		    const struct ctl_attrs *a, void *arg);

/* Connect to the daemon; 0 or -errno. */
int	hctl_connect(struct hctl_conn *c, const char *path);
void	hctl_close(struct hctl_conn *c);
/*
 * Send the request in `req` (its seq is set here) and read every reply
 * message up to the final NLMSG_ERROR or NLMSG_DONE, calling cb for each
 * data message.  Returns 0 once the exchange completed, with the daemon's
 * result in *result (0 or -errno) and its message, if any, in msg (cap
 * bytes, "" if none); or -errno when the exchange itself failed (-EBADMSG
 * for a reply that does not parse, -ETIMEDOUT, -ECONNRESET).
 */
int	hctl_request(struct hctl_conn *c, struct nlmsghdr *req,
	    hctl_msg_cb cb, void *arg, int *result, char *msg, size_t cap);

/* ------------------------------------------------------------ decoded replies */

/* Counters of a tunnel, a connection or (status) all tunnels. */
struct traffic_info {
	bool		 has;		/* the daemon sent them */
	uint32_t	 conns_open;
	uint64_t	 conns_total;
	uint64_t	 bytes_in, bytes_out, dgrams_in, dgrams_out, drops;
};

/* One open peer connection (CONN message). */
struct conn_info {
	char		 key[HCTL_KEY_LEN];
	char		 path[12];
	char		 remote[24], local[24];
	uint32_t	 rtt_us;
	bool		 secure;
	struct traffic_info traffic;
};

struct status_info {
	const char	*version;
	uint32_t	 pid;
	uint64_t	 uptime;
	char		 key[HCTL_KEY_LEN];
	const char	*config_path;	/* "" when running on defaults */
	const char	*state_dir;
	const char	*log_level;
	const char	*dht_state;
	const char	*transport;
	uint32_t	 exports, imports, runtime;
	/* the DHT node; has_node false when the daemon sent none */
	bool		 has_node;
	const char	*dht_mode;
	bool		 bootstrapped, persistent, firewalled;
	const char	*public_addr;	/* NULL while unknown */
	uint32_t	 nodes, nbootstrap;
	const char	*dht_addr;
	uint16_t	 client_port;
	struct traffic_info traffic;	/* summed over tunnels */
};

struct tunnel_info {
	const char	*kind;		/* "export", "import" */
	const char	*proto;		/* "tcp", "udp", "tcpudp", "?" */
	uint16_t	 port;
	char		 host[16];	/* export: target address */
	char		 listen[24];	/* import: local address:port */
	char		 peer[HCTL_KEY_LEN];	/* import, else "" */
	char		 service_key[HCTL_KEY_LEN];
	char		 allow[HNCTL_ALLOW_MAX][HCTL_KEY_LEN];
	size_t		 nallow;
	const char	*origin;	/* "config", "runtime" */
	uint32_t	 config_line;	/* 0 if not from the config */
	const char	*state;
	struct traffic_info traffic;
	/* peers: the open connections shown (traffic.conns_open may be more) */
	struct conn_info conns[HNCTL_CONN_SHOW_MAX];
	size_t		 nconns;
	char		 state_buf[256];	/* state, when kept past its record */
};

/* Fill `t` from a TUNNEL/PEER message's attributes; false if unusable. */
bool	hctl_tunnel_decode(const struct ctl_attrs *a, struct tunnel_info *t);
/* Counters 40-46 of a message, if present. */
void	hctl_traffic_decode(const struct ctl_attrs *a, struct traffic_info *t);
/* A CONN message; false if unusable. */
bool	hctl_conn_decode(const struct ctl_attrs *a, struct conn_info *c);

/* ------------------------------------------------------------ output */

/*
 * The output table.  begin/end bracket the whole run (the JSON document);
 * list_begin/list_end bracket tunnel or peer rows; result reports what the
 * daemon said (or why nothing could be asked): err 0 or -errno.
 */
struct output {
	void	(*begin)(const char *cmd);
	void	(*status)(const struct status_info *s);
	void	(*key)(const char *key, const char *client_key);
	void	(*list_begin)(const char *what);	/* "tunnels", "peers" */
	void	(*tunnel)(const struct tunnel_info *t);
	void	(*peer)(const struct tunnel_info *t);
	void	(*list_end)(const char *what, size_t n);
	/* add of an export: also how the other side imports it */
	void	(*added)(const struct tunnel_info *t, const char *base_key);
	void	(*result)(const char *cmd, int err, const char *msg);
	void	(*end)(void);
};

extern const struct output output_text;
extern const struct output output_json;

/* The commands ------------------------------------------------------------ */

struct hctl {
	const struct output	*out;
	const char		*socket_path;
	struct hctl_conn	 conn;
};

struct hctl_cmd {
	const char	*name;
	int		(*fn)(struct hctl *h, int argc, char **argv);
	const char	*args;
	const char	*help;
};

extern const struct hctl_cmd hctl_cmds[];
extern const size_t hctl_ncmds;

/* The "do what you said" helpers main.c and the commands share. */
void	hctl_usage(FILE *fp);

#endif
