/*
 * silent: closing objects and freeing the connector return promptly while the server has
 * gone silent (oss-local --stall-get-rate 1), with prefetch requests unanswered in flight.
 *
 *   silent [-f CONFIG_PATH] ENDPOINT BUCKET KEY...     (credentials from the environment)
 *
 * Opens every key (which starts prefetching), prints "opened" and waits for a line on stdin
 * (the driver sends it once the server holds the requests), then closes the objects and
 * frees the connector, checking that this takes well under the read timeout. Then it waits
 * past the read timeout (give a short one in the config): the fetchers left behind finish
 * their requests while the program still runs, so that under valgrind any write of theirs
 * into memory the caller got back would show.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ossmc.h"

#define MAX_KEYS 16

static double now_secs(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt != 'f') goto usage;
        config_path = optarg;
    }
    int nkeys = argc - optind - 2;
    if (nkeys < 1 || nkeys > MAX_KEYS) goto usage;
    const char *endpoint = argv[optind], *bucket = argv[optind + 1];

    ossmc_connector *conn = NULL;
    CHECK_STATUS(ossmc_connector_new(endpoint, NULL, config_path, &conn), OSSMC_OK);
    if (conn == NULL) return 1;
    ossmc_object *objs[MAX_KEYS] = {0};
    for (int i = 0; i < nkeys; i++) {
        char uri[1100];
        snprintf(uri, sizeof uri, "oss://%s/%s", bucket, argv[optind + 2 + i]);
        CHECK_STATUS(ossmc_open(conn, uri, &objs[i]), OSSMC_OK);
    }
    printf("opened\n");
    fflush(stdout);
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL) return 1;

    /* The last object closed stops the fetchers: free the connector first, then close. */
    double t0 = now_secs();
    ossmc_connector_free(conn);
    for (int i = 0; i < nkeys; i++) ossmc_close(objs[i]);
    double took = now_secs() - t0;
    printf("freed in %.3f s\n", took);
    CHECK(took < 2.0);

    /* Memory the caller gets back and reuses while the fetchers left behind finish. */
    size_t n = 64u << 20;
    unsigned char *reuse = malloc(n);
    CHECK(reuse != NULL);
    if (reuse != NULL) memset(reuse, 0xA5, n);
    const char *wait = getenv("SILENT_WAIT_SECS");
    struct timespec pause = {wait != NULL ? atoi(wait) : 0, 0};
    nanosleep(&pause, NULL);
    if (reuse != NULL) {
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += reuse[i] != 0xA5;
        CHECK(bad == 0);
        free(reuse);
    }
    return check_summary("silent");
usage:
    fprintf(stderr, "usage: silent [-f CONFIG_PATH] ENDPOINT BUCKET KEY...\n");
    return 2;
}
