/*
 * list: lists the objects under a prefix, one "KEY<TAB>SIZE" line each.
 *
 *   list [-c CRED_PATH] [-f CONFIG_PATH] [-F] ENDPOINT BUCKET [PREFIX]
 *
 * -F uses FastList (parallel; the order of the lines is then unspecified).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <unistd.h>

#include "common.h"
#include "ossmc.h"

int main(int argc, char **argv) {
    const char *cred_path = NULL, *config_path = NULL;
    int fast = 0, opt;
    while ((opt = getopt(argc, argv, "c:f:F")) != -1) {
        switch (opt) {
        case 'c': cred_path = optarg; break;
        case 'f': config_path = optarg; break;
        case 'F': fast = 1; break;
        default: goto usage;
        }
    }
    if (argc - optind < 2 || argc - optind > 3) goto usage;
    if (!abi_matches("list")) return 1;
    const char *endpoint = argv[optind], *bucket = argv[optind + 1];
    const char *prefix = argc - optind == 3 ? argv[optind + 2] : NULL;

    int rc = 1;
    ossmc_connector *conn = NULL;
    ossmc_listing *list = NULL;
    int32_t st = ossmc_connector_new(endpoint, cred_path, config_path, &conn);
    if (st != OSSMC_OK) {
        report_failure("list", "ossmc_connector_new", st);
        goto done;
    }
    st = ossmc_list(conn, bucket, prefix, fast, &list);
    if (st != OSSMC_OK) {
        report_failure("list", "ossmc_list", st);
        goto done;
    }
    size_t len = 0;
    st = ossmc_list_len(list, &len);
    for (size_t i = 0; st == OSSMC_OK && i < len; i++) {
        const char *key = NULL;
        size_t key_len = 0;
        uint64_t size = 0;
        st = ossmc_list_get(list, i, &key, &key_len, &size);
        if (st == OSSMC_OK) {
            /* Write the key by length: keys are UTF-8 and may contain anything printable. */
            fwrite(key, 1, key_len, stdout);
            printf("\t%llu\n", (unsigned long long)size);
        }
    }
    if (st != OSSMC_OK) {
        report_failure("list", "reading the list", st);
        goto done;
    }
    rc = 0;
done:
    ossmc_list_free(list);
    ossmc_connector_free(conn);
    return rc;
usage:
    fprintf(stderr, "usage: list [-c CRED_PATH] [-f CONFIG_PATH] [-F] ENDPOINT BUCKET [PREFIX]\n");
    return 2;
}
