/*
 * load_model: loads a sharded model the way inference servers should: open every shard first
 * (so ossmc prefetches them in that order), then read each shard to the end with a 4 MiB
 * buffer. Prints each shard's size and the overall rate in GB/s (10^9 bytes per second).
 *
 *   load_model [-c CRED_PATH] [-f CONFIG_PATH] [-b BUFFER_BYTES] [-s] ENDPOINT URI...
 *
 * Credentials come from CRED_PATH or, without -c, from OSS_ACCESS_KEY_ID/_SECRET.
 * -s also prints an order-sensitive checksum of each shard (used by the tests; it costs CPU,
 * so benchmarks leave it off): sum over the shard's little-endian 64-bit words w_i (the last
 * one zero-padded) of w_i * (2i + 1), modulo 2^64.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "ossmc.h"

/* Streaming form of the checksum described above. */
typedef struct {
    uint64_t sum;
    uint64_t index;   /* index of the word being assembled */
    uint64_t partial; /* its bytes so far */
    unsigned filled;  /* how many */
} checksum;

static void checksum_add(checksum *c, const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n && c->filled != 0) { /* finish a word split across reads */
        c->partial |= (uint64_t)p[i++] << (8 * c->filled);
        if (++c->filled == 8) {
            c->sum += c->partial * (2 * c->index + 1);
            c->index++;
            c->partial = 0;
            c->filled = 0;
        }
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (unsigned b = 0; b < 8; b++) w |= (uint64_t)p[i + b] << (8 * b);
        c->sum += w * (2 * c->index + 1);
        c->index++;
    }
    for (; i < n; i++) {
        c->partial |= (uint64_t)p[i] << (8 * c->filled);
        c->filled++;
    }
}

static uint64_t checksum_end(checksum *c) {
    if (c->filled != 0) c->sum += c->partial * (2 * c->index + 1);
    return c->sum;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *cred_path = NULL, *config_path = NULL;
    size_t buf_size = (size_t)4 << 20;
    int sums = 0, opt;
    while ((opt = getopt(argc, argv, "c:f:b:s")) != -1) {
        switch (opt) {
        case 'c': cred_path = optarg; break;
        case 'f': config_path = optarg; break;
        case 'b': buf_size = (size_t)strtoull(optarg, NULL, 10); break;
        case 's': sums = 1; break;
        default: goto usage;
        }
    }
    if (argc - optind < 2 || buf_size == 0) goto usage;
    if (!abi_matches("load_model")) return 1;

    const char *endpoint = argv[optind];
    char **uris = argv + optind + 1;
    int n = argc - optind - 1;
    int rc = 1;
    ossmc_connector *conn = NULL;
    ossmc_object **objs = calloc((size_t)n, sizeof *objs);
    unsigned char *buf = malloc(buf_size);
    if (objs == NULL || buf == NULL) {
        fprintf(stderr, "load_model: out of memory\n");
        goto done;
    }
    int32_t st = ossmc_connector_new(endpoint, cred_path, config_path, &conn);
    if (st != OSSMC_OK) {
        report_failure("load_model", "ossmc_connector_new", st);
        goto done;
    }

    double start = now_seconds();
    /* Open everything first: the open order is the prefetch order. */
    for (int i = 0; i < n; i++) {
        st = ossmc_open(conn, uris[i], &objs[i]);
        if (st != OSSMC_OK) {
            report_failure("load_model", uris[i], st);
            goto done;
        }
    }
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        checksum c = {0, 0, 0, 0};
        uint64_t shard = 0;
        for (;;) {
            size_t got = 0;
            st = ossmc_read(objs[i], buf, buf_size, &got);
            if (st != OSSMC_OK) {
                report_failure("load_model", uris[i], st);
                goto done;
            }
            if (got == 0) break;
            if (sums) checksum_add(&c, buf, got);
            shard += got;
        }
        total += shard;
        if (sums) {
            printf("%s %llu bytes sum %016llx\n", uris[i], (unsigned long long)shard,
                   (unsigned long long)checksum_end(&c));
        } else {
            printf("%s %llu bytes\n", uris[i], (unsigned long long)shard);
        }
        /* Closing a shard as soon as it is read frees its prefetch memory for the next ones. */
        ossmc_close(objs[i]);
        objs[i] = NULL;
    }
    double secs = now_seconds() - start;
    printf("total %llu bytes in %.3f s: %.3f GB/s\n", (unsigned long long)total, secs,
           secs > 0 ? (double)total / secs / 1e9 : 0.0);
    rc = 0;

done:
    if (objs != NULL) {
        for (int i = 0; i < n; i++) ossmc_close(objs[i]);
    }
    free(objs);
    free(buf);
    ossmc_connector_free(conn);
    return rc;

usage:
    fprintf(stderr, "usage: load_model [-c CRED_PATH] [-f CONFIG_PATH] [-b BUFFER_BYTES] [-s] ENDPOINT URI...\n");
    return 2;
}
