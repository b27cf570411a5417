/*
 * conn_ext.h - the capability extension hypernat appends to the Noise
 * handshake payload (conn.h "Capabilities")
 *
 * Wire form, right after the last field of the standard payload
 * (spec/connect.md §4):
 *
 *   byte 'h' (0x68), byte 'n' (0x6e), varint ext_version (= 1),
 *   varint caps (CONN_CAP_* bits), [later versions append fields]
 *
 * hyperdht 6.34.0 and @hyperswarm/dht 6.5.1 decode the payload with
 * compact-encoding's decode(), which reads the fields the flags name and
 * never checks that the buffer ended, so both ignore these bytes.  The
 * payload travels inside the Noise handshake, encrypted and authenticated:
 * nobody on the path can add or strip it.
 *
 * Finding where the standard payload ends: the decoder re-encodes the
 * decoded payload with our (canonical) encoder and looks for the extension
 * only when those bytes are an exact prefix of what arrived; a peer that is
 * not hypernat either sends nothing after its fields or encodes them in a
 * way we would not, and then has no capabilities.
 */
#ifndef HN_CONN_EXT_H
#define HN_CONN_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/noise/payload.h"

#define CONN_EXT_MAGIC0		0x68
#define CONN_EXT_MAGIC1		0x6e
#define CONN_EXT_VERSION	1
#define CONN_EXT_MAX		(2 + 9 + 9)

/* Encode `p` followed by the extension; 0, -ENOSPC or -EINVAL. */
int	conn_ext_encode(const struct noise_payload *p, uint32_t caps,
	    uint8_t *out, size_t cap, size_t *len);
/*
 * Decode a handshake payload into `p` and its capabilities into *caps (0
 * when there is no valid extension).  Returns 0 or -EBADMSG (the payload
 * itself did not decode).
 */
int	conn_ext_decode(struct noise_payload *p, uint32_t *caps,
	    const uint8_t *in, size_t len);

#endif
