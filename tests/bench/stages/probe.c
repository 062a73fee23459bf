/* Callgrind client requests for tests/bench/profile.py: dump the counts since the last dump,
   labelled with the stage that just ended (a no-op when not run under valgrind). */
#include <valgrind/callgrind.h>

void relaygate_stage_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
