/*
 * ossmcload: ossmc through its C ABI, loading a sharded model exactly like
 * examples-c/load_model.c (open every shard first, then read each to the end into one reused
 * buffer with ossmc_read, closing each shard once read), with every chunk checked against the
 * synthetic content as it arrives (synthcheck.c, ~10 GB/s) instead of load_model's -s checksum,
 * which runs at ~1.7 GB/s on this class of machine and would halve the rate it sits inside.
 *
 *   ossmcload [-s] [-1] ENDPOINT CRED_PATH CONFIG_PATH BUFFER_BYTES MAX_SECONDS (URI SEED SIZE)...
 *
 * -s: whole-shard reads: one buffer the size of the largest shard (filled with zeros before the
 *     clock starts, like the Python drivers' bytearray), each shard read into it from offset 0,
 *     ossmc_read on what is left until the shard is in it (BUFFER_BYTES is then unused).
 * -1: open, read and close one shard at a time instead of opening every shard first.
 *
 * Prints one JSON line: bytes, seconds (first open to last byte), ttfb (first open to the first
 * ossmc_read that returned data), problems, first_problem, partial (stopped at MAX_SECONDS > 0),
 * cpu_s (user + system seconds of the process from the first open to the last byte: the buffer's
 * zero-fill before it is not the load's, as in the Python drivers).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ossmc.h"

int64_t synth_first_mismatch(uint64_t seed, uint64_t offset, const uint8_t *p, size_t n);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system CPU seconds of this process so far. */
static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void fail(const char *what, const char *uri, int32_t status) {
    char msg[512] = "";
    size_t len = 0;
    ossmc_last_error_message(msg, sizeof msg, &len);
    fprintf(stderr, "ossmcload: %s %s: %s (%s)\n", what, uri, ossmc_status_name(status), msg);
}

int main(int argc, char **argv) {
    int whole_shard = 0, one_by_one = 0;
    while (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0' && argv[1][2] == '\0') {
        if (argv[1][1] == 's') {
            whole_shard = 1;
        } else if (argv[1][1] == '1') {
            one_by_one = 1;
        } else {
            break;
        }
        argv++;
        argc--;
    }
    if (argc < 9 || (argc - 6) % 3 != 0) {
        fprintf(stderr,
                "usage: ossmcload [-s] [-1] ENDPOINT CRED_PATH CONFIG_PATH BUFFER_BYTES MAX_SECONDS (URI SEED SIZE)...\n");
        return 2;
    }
    if (ossmc_abi_version() != OSSMC_ABI_VERSION) {
        fprintf(stderr, "ossmcload: libossmc ABI %u does not match the header's %u\n", (unsigned)ossmc_abi_version(),
                (unsigned)OSSMC_ABI_VERSION);
        return 1;
    }
    const char *endpoint = argv[1];
    size_t buf_size = (size_t)strtoull(argv[4], NULL, 10);
    double max_seconds = atof(argv[5]);
    int n = (argc - 6) / 3;
    char **uris = calloc((size_t)n, sizeof *uris);
    uint64_t *seeds = calloc((size_t)n, sizeof *seeds), *sizes = calloc((size_t)n, sizeof *sizes);
    struct ossmc_object **objs = calloc((size_t)n, sizeof *objs);
    if (uris == NULL || seeds == NULL || sizes == NULL || objs == NULL) {
        fprintf(stderr, "ossmcload: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        uris[i] = argv[6 + 3 * i];
        seeds[i] = strtoull(argv[7 + 3 * i], NULL, 10);
        sizes[i] = strtoull(argv[8 + 3 * i], NULL, 10);
        if (whole_shard && sizes[i] > buf_size) buf_size = (size_t)sizes[i];
    }
    unsigned char *buf = malloc(buf_size);
    if (buf == NULL || buf_size == 0) {
        fprintf(stderr, "ossmcload: out of memory or zero buffer size\n");
        return 1;
    }
    memset(buf, 0, buf_size); /* resident before the clock starts, like a Python bytearray */
    struct ossmc_connector *conn = NULL;
    int32_t st = ossmc_connector_new(endpoint, argv[2], argv[3], &conn);
    if (st != OSSMC_OK) {
        fail("connector for", endpoint, st);
        return 1;
    }
    double cpu0 = cpu_now(); /* the same window as the seconds: the buffer's zero-fill is not the load's */
    double t0 = now(), t_first = -1;
    for (int i = 0; i < n && !one_by_one; i++) {
        st = ossmc_open(conn, uris[i], &objs[i]);
        if (st != OSSMC_OK) {
            fail("open", uris[i], st);
            return 1;
        }
    }
    uint64_t total = 0;
    long problems = 0;
    char first_problem[512] = "";
    int partial = 0;
    for (int i = 0; i < n && !partial; i++) {
        if (one_by_one) {
            st = ossmc_open(conn, uris[i], &objs[i]);
            if (st != OSSMC_OK) {
                fail("open", uris[i], st);
                return 1;
            }
        }
        uint64_t pos = 0;
        for (;;) {
            if (max_seconds > 0 && now() - t0 > max_seconds) {
                partial = 1;
                break;
            }
            /* Whole-shard reads fill the buffer from the shard's offset and stop at its size. */
            unsigned char *dst = whole_shard ? buf + pos : buf;
            size_t want = whole_shard ? (size_t)(sizes[i] - pos) : buf_size;
            if (want == 0) break;
            size_t got = 0;
            st = ossmc_read(objs[i], dst, want, &got);
            if (st != OSSMC_OK) {
                fail("read", uris[i], st);
                return 1;
            }
            if (got == 0) break;
            if (t_first < 0) t_first = now();
            int64_t bad = synth_first_mismatch(seeds[i], pos, dst, got);
            if (bad >= 0 && problems++ == 0) {
                snprintf(first_problem, sizeof first_problem, "%s: wrong byte at offset %" PRIu64, uris[i],
                         pos + (uint64_t)bad);
            }
            pos += got;
            total += got;
        }
        if (!partial && pos != sizes[i] && problems++ == 0) {
            snprintf(first_problem, sizeof first_problem, "%s: read %" PRIu64 " bytes of %" PRIu64, uris[i], pos,
                     sizes[i]);
        }
        /* Closing a shard as soon as it is read frees its prefetch memory for the next ones. */
        ossmc_close(objs[i]);
        objs[i] = NULL;
    }
    double seconds = now() - t0;
    double cpu = cpu_now() - cpu0;
    printf("{\"bytes\": %" PRIu64 ", \"seconds\": %.6f, \"ttfb\": %.6f, \"problems\": %ld, \"first_problem\": \"%s\", "
           "\"partial\": %s, \"cpu_s\": %.3f}\n",
           total, seconds, t_first < 0 ? -1.0 : t_first - t0, problems, first_problem, partial ? "true" : "false", cpu);
    for (int i = 0; i < n; i++) ossmc_close(objs[i]);
    ossmc_connector_free(conn);
    free(buf);
    free(objs);
    free(sizes);
    free(seeds);
    free(uris);
    return 0;
}
