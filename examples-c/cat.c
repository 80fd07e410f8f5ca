/*
 * cat: streams one object to stdout.
 *
 *   cat [-c CRED_PATH] [-f CONFIG_PATH] [-o OFFSET | -m] ENDPOINT oss://BUCKET/KEY
 *
 * -o starts at OFFSET (ossmc_seek) instead of the beginning. -m loads the whole object into
 * memory first (ossmc_mmap) and writes it from there.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "ossmc.h"

int main(int argc, char **argv) {
    const char *cred_path = NULL, *config_path = NULL;
    long long offset = 0;
    int whole = 0;
    int opt;
    while ((opt = getopt(argc, argv, "c:f:o:m")) != -1) {
        switch (opt) {
        case 'm': whole = 1; break;
        case 'c': cred_path = optarg; break;
        case 'f': config_path = optarg; break;
        case 'o': offset = strtoll(optarg, NULL, 10); break;
        default: goto usage;
        }
    }
    if (argc - optind != 2) goto usage;
    if (!abi_matches("cat")) return 1;

    static unsigned char buf[1 << 20];
    int rc = 1;
    ossmc_connector *conn = NULL;
    ossmc_object *obj = NULL;
    int32_t st = ossmc_connector_new(argv[optind], cred_path, config_path, &conn);
    if (st != OSSMC_OK) {
        report_failure("cat", "ossmc_connector_new", st);
        goto done;
    }
    st = ossmc_open(conn, argv[optind + 1], &obj);
    if (st != OSSMC_OK) {
        report_failure("cat", argv[optind + 1], st);
        goto done;
    }
    if (whole) {
        const uint8_t *data = NULL;
        size_t len = 0;
        st = ossmc_mmap(obj, &data, &len);
        if (st != OSSMC_OK) {
            report_failure("cat", "ossmc_mmap", st);
            goto done;
        }
        /* The memory belongs to obj and stays valid until ossmc_close(obj). */
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            perror("cat: writing stdout");
            goto done;
        }
        rc = 0;
        goto done;
    }
    if (offset != 0) {
        uint64_t pos = 0;
        st = ossmc_seek(obj, (int64_t)offset, OSSMC_SEEK_SET, &pos);
        if (st != OSSMC_OK) {
            report_failure("cat", "ossmc_seek", st);
            goto done;
        }
    }
    for (;;) {
        size_t got = 0;
        st = ossmc_read(obj, buf, sizeof buf, &got);
        if (st != OSSMC_OK) {
            report_failure("cat", argv[optind + 1], st);
            goto done;
        }
        if (got == 0) break;
        if (fwrite(buf, 1, got, stdout) != got) {
            perror("cat: writing stdout");
            goto done;
        }
    }
    if (fflush(stdout) != 0) {
        perror("cat: writing stdout");
        goto done;
    }
    rc = 0;
done:
    ossmc_close(obj);
    ossmc_connector_free(conn);
    return rc;
usage:
    fprintf(stderr, "usage: cat [-c CRED_PATH] [-f CONFIG_PATH] [-o OFFSET | -m] ENDPOINT oss://BUCKET/KEY\n");
    return 2;
}
