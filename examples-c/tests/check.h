/* A minimal assertion helper for the C tests: counts failures and keeps going. */
#ifndef OSSMC_TESTS_CHECK_H
#define OSSMC_TESTS_CHECK_H

#include <stdio.h>

static int check_failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

/* Checks a status, printing both names and the last error message when it differs. */
#define CHECK_STATUS(expr, want)                                                                   \
    do {                                                                                           \
        int32_t got_ = (expr);                                                                     \
        if (got_ != (want)) {                                                                      \
            char msg_[512];                                                                        \
            size_t len_ = 0;                                                                       \
            ossmc_last_error_message(msg_, sizeof msg_, &len_);                                    \
            fprintf(stderr, "%s:%d: %s returned %s, want %s (%s)\n", __FILE__, __LINE__, #expr,    \
                    ossmc_status_name(got_), ossmc_status_name(want), msg_);                       \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* The test's exit status: says how many checks failed, or that all passed. */
static inline int check_summary(const char *test) {
    if (check_failures != 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", test, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", test);
    return 0;
}

#endif
