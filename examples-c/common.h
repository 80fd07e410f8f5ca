/*
 * Small helpers shared by the C examples: reporting a failed ossmc call with its detail.
 */
#ifndef OSSMC_EXAMPLES_COMMON_H
#define OSSMC_EXAMPLES_COMMON_H

#include <stdio.h>

#include "ossmc.h"

/* Prints "PROGRAM: WHAT failed: OSSMC_NAME (code): message" for status `st` to stderr,
 * using the detail the failed call left on this thread. */
static inline void report_failure(const char *program, const char *what, int32_t st) {
    ossmc_error_detail d;
    if (ossmc_last_error(&d) == OSSMC_OK && d.message_len > 0) {
        fprintf(stderr, "%s: %s failed: %s (%d): %s\n", program, what, ossmc_status_name(st), (int)st,
                d.message);
    } else {
        fprintf(stderr, "%s: %s failed: %s (%d)\n", program, what, ossmc_status_name(st), (int)st);
    }
}

/* Checks that the library has the ABI this program was compiled against. */
static inline int abi_matches(const char *program) {
    if (ossmc_abi_version() != OSSMC_ABI_VERSION) {
        fprintf(stderr, "%s: libossmc ABI %u does not match the header's %u\n", program,
                (unsigned)ossmc_abi_version(), (unsigned)OSSMC_ABI_VERSION);
        return 0;
    }
    return 1;
}

#endif
