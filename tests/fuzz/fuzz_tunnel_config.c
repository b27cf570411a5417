/*
 * fuzz_tunnel_config.c - hyper-nat's options.json as hncli reads it
 * (daemon/tunnel/hncli_json.c, hncli_plan.c): never a crash, and what is
 * accepted is a plan hncli can run
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/tunnel/hncli.h"
#include "daemon/tunnel/hncli_json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hncli_plan plan = { 0 };
	struct hj *v;
	char err[256];

	if (size > 65536)
		return 0;
	if ((v = hj_parse((const char *)data, size, err, sizeof(err))) != NULL)
		(void)hj_get(v, "schema");
	hj_free(v);
	if (hncli_parse_config((const char *)data, size, &plan, err,
	    sizeof(err)) == 0) {
		for (size_t i = 0; i < plan.n; i++) {
			const struct hncli_map *m = &plan.v[i];

			if (m->proto < TUN_TCP || m->proto > TUN_TCPUDP ||
			    strlen(m->keyname) < 4 ||
			    (m->mode == HNCLI_SERVER && m->secret == NULL) ||
			    (m->mode == HNCLI_CLIENT && m->local_port == 0 &&
			    m->port != 0))
				abort();
		}
	}
	hncli_plan_free(&plan);
	return 0;
}
