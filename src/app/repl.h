/* repl.h: the interactive ksh> prompt (readline's callback interface on the loop). */
#ifndef KSH_REPL_H
#define KSH_REPL_H
#include "host.h"

/* Run the prompt until end of input; returns the exit status. */
int repl_run(host_t *h, int verbose);

#endif
