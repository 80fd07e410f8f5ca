/*
 * prepare_dir: makes a local directory hold every object under an oss:// prefix, so that a
 * framework (vLLM, transformers, a C++ loader) can load it as it is. Run it again to fetch
 * only what is missing or changed.
 *
 *   prepare_dir [-c CRED_PATH] [-f CONFIG_PATH] [-p | -q] ENDPOINT oss://BUCKET/PREFIX DIR
 *
 * -p always draws a progress line on stderr, -q never (default: when stderr is a terminal).
 * Prints one line: "files N fetched N kept N removed N bytes_fetched N bytes_total N".
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "common.h"
#include "ossmc.h"

int main(int argc, char **argv) {
    const char *cred_path = NULL, *config_path = NULL;
    uint32_t flags = OSSMC_PREPARE_PROGRESS_AUTO;
    int opt;
    while ((opt = getopt(argc, argv, "c:f:pq")) != -1) {
        switch (opt) {
        case 'c': cred_path = optarg; break;
        case 'f': config_path = optarg; break;
        case 'p': flags = OSSMC_PREPARE_PROGRESS_ON; break;
        case 'q': flags = OSSMC_PREPARE_PROGRESS_OFF; break;
        default: goto usage;
        }
    }
    if (argc - optind != 3) goto usage;
    if (!abi_matches("prepare_dir")) return 1;

    int rc = 1;
    ossmc_connector *conn = NULL;
    int32_t st = ossmc_connector_new(argv[optind], cred_path, config_path, &conn);
    if (st != OSSMC_OK) {
        report_failure("prepare_dir", "ossmc_connector_new", st);
        goto done;
    }
    ossmc_prepare_result r;
    st = ossmc_prepare_directory(conn, argv[optind + 1], argv[optind + 2], flags, &r);
    if (st != OSSMC_OK) {
        report_failure("prepare_dir", argv[optind + 1], st);
        goto done;
    }
    printf("files %" PRIu64 " fetched %" PRIu64 " kept %" PRIu64 " removed %" PRIu64
           " bytes_fetched %" PRIu64 " bytes_total %" PRIu64 "\n",
           r.files, r.fetched, r.kept, r.removed, r.bytes_fetched, r.bytes_total);
    rc = 0;
done:
    ossmc_connector_free(conn);
    return rc;
usage:
    fprintf(stderr, "usage: prepare_dir [-c CRED_PATH] [-f CONFIG_PATH] [-p | -q] ENDPOINT oss://BUCKET/PREFIX DIR\n");
    return 2;
}
