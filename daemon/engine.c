#include "conf.h"
#include "engine.h"
#include "log.h"

int
engine_main(struct conf *conf, int debug)
{
	(void)conf; (void)debug;
	log_warnx("daemon mode not yet implemented");
	return (1);
}

int
engine_resync(struct conf *conf)
{
	(void)conf;
	return (1);
}
