/*
 * addr.h - IPv4 addresses as the DHT layer sees them (spec/dht.md §2.6)
 */
#ifndef HN_ADDR_H
#define HN_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* An IPv4 address and UDP/TCP port.  `ip` holds the octets in dotted order. */
struct hn_addr {
	uint8_t		ip[4];
	uint16_t	port;
};

/* "255.255.255.255:65535" plus NUL */
#define HN_ADDR_STRLEN	22

/*
 * Parse "a.b.c.d:port".  Strict: four decimal octets 0-255 without leading
 * zeros, a port 0-65535, nothing after it.  Returns 0 or -EINVAL.
 */
int		 addr_parse(const char *s, struct hn_addr *out);
/*
 * Parse a bootstrap entry as hyperdht writes them: "a.b.c.d:port" or
 * "a.b.c.d@hostname:port" (the address is used, the name is a label).
 * Returns 0 or -EINVAL.
 */
int		 addr_parse_bootstrap(const char *s, struct hn_addr *out);
/* Parse dotted-quad "a.b.c.d" only.  Returns 0 or -EINVAL. */
int		 addr_parse_ip(const char *s, uint8_t ip[4]);
/* Write "a.b.c.d:port" into buf (at least HN_ADDR_STRLEN bytes); returns buf. */
char		*addr_format(const struct hn_addr *a, char *buf);
/* Write "a.b.c.d" into buf (at least 16 bytes); returns its length. */
int		 addr_format_ip(const uint8_t ip[4], char *buf);

bool		 addr_eq(const struct hn_addr *a, const struct hn_addr *b);
void		 addr_to_sockaddr(const struct hn_addr *a, struct sockaddr_in *sin);
void		 addr_from_sockaddr(struct hn_addr *a, const struct sockaddr_in *sin);
/* RFC 1918, loopback, link-local, CGNAT and other non-global ranges. */
bool		 addr_is_private(const uint8_t ip[4]);

#endif
