/*
 * addr.c - IPv4 address parsing and formatting
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Parse a decimal number of at most `max` without sign or leading zeros. */
static const char *
parse_dec(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return NULL;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return NULL;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return NULL;
		p++;
	}
	*out = v;
	return p;
}

/* Parse the dotted quad at s; return the end or NULL. */
static const char *
parse_quad(const char *s, uint8_t ip[4])
{
	unsigned long v;
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0) {
			if (*s != '.')
				return NULL;
			s++;
		}
		if ((s = parse_dec(s, 255, &v)) == NULL)
			return NULL;
		ip[i] = (uint8_t)v;
	}
	return s;
}

int
addr_parse_ip(const char *s, uint8_t ip[4])
{
	uint8_t tmp[4];
	const char *end = parse_quad(s, tmp);

	if (end == NULL || *end != '\0')
		return -EINVAL;
	memcpy(ip, tmp, 4);
	return 0;
}

int
addr_parse(const char *s, struct hn_addr *out)
{
	struct hn_addr a;
	unsigned long port;
	const char *p;

	if ((p = parse_quad(s, a.ip)) == NULL || *p != ':')
		return -EINVAL;
	if ((p = parse_dec(p + 1, 65535, &port)) == NULL || *p != '\0')
		return -EINVAL;
	a.port = (uint16_t)port;
	*out = a;
	return 0;
}

int
addr_parse_bootstrap(const char *s, struct hn_addr *out)
{
	struct hn_addr a;
	unsigned long port;
	const char *p, *colon;

	if ((p = parse_quad(s, a.ip)) == NULL)
		return -EINVAL;
	if (*p == '@') {
		/* spec/dht.md: "ip@host:port"; the host is only a label */
		colon = strrchr(p, ':');
		if (colon == NULL || colon == p + 1)
			return -EINVAL;
		for (p++; p < colon; p++)
			if (*p == '@' || *p == '/' || (unsigned char)*p <= ' ')
				return -EINVAL;
	}
	if (*p != ':')
		return -EINVAL;
	if ((p = parse_dec(p + 1, 65535, &port)) == NULL || *p != '\0')
		return -EINVAL;
	a.port = (uint16_t)port;
	*out = a;
	return 0;
}

int
addr_format_ip(const uint8_t ip[4], char *buf)
{
	return snprintf(buf, 16, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
}

char *
addr_format(const struct hn_addr *a, char *buf)
{
	snprintf(buf, HN_ADDR_STRLEN, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1],
	    a->ip[2], a->ip[3], a->port);
	return buf;
}

bool
addr_eq(const struct hn_addr *a, const struct hn_addr *b)
{
	return a->port == b->port && memcmp(a->ip, b->ip, 4) == 0;
}

void
addr_to_sockaddr(const struct hn_addr *a, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(a->port);
	memcpy(&sin->sin_addr.s_addr, a->ip, 4);
}

void
addr_from_sockaddr(struct hn_addr *a, const struct sockaddr_in *sin)
{
	memcpy(a->ip, &sin->sin_addr.s_addr, 4);
	a->port = ntohs(sin->sin_port);
}

bool
addr_is_private(const uint8_t ip[4])
{
	return ip[0] == 10 || ip[0] == 127 || ip[0] == 0 ||
	    (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
	    (ip[0] == 192 && ip[1] == 168) ||
	    (ip[0] == 169 && ip[1] == 254) ||
	    (ip[0] == 100 && (ip[1] & 0xc0) == 64);
}
