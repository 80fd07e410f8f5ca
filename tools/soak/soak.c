/*
 * soak: loads a model again and again through the C API with one connector that lives for
 * the whole run, checks every byte, and prints every minute the process's resident memory,
 * open file descriptors, threads and the loads completed. Run by tools/soak.sh.
 *
 *   soak [-f CONFIG_PATH] MINUTES ENDPOINT URI...
 *
 * URIs are objects of an oss-local synthetic model (their bytes are a function of the key).
 * Exit status 0 when every load was exact and none failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "ossmc.h"
#include "synthetic.h"

/* A field such as "VmRSS:" or "Threads:" of /proc/self/status, as a number (kB for sizes). */
static long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long value = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, n) == 0) {
            value = strtol(line + n, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

static long open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n - 1; /* the descriptor opendir itself holds */
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Loads every URI once (all opened first, then each read to its end); returns 0 when every
 * byte was right, 1 on a wrong byte, 2 on a failed call. */
static int load_once(ossmc_connector *conn, char **uris, int count, unsigned char *buf, size_t cap) {
    ossmc_object *objs[256] = {0};
    int rc = 0;
    for (int i = 0; i < count; i++) {
        int32_t st = ossmc_open(conn, uris[i], &objs[i]);
        if (st != OSSMC_OK) {
            report_failure("soak", uris[i], st);
            rc = 2;
            goto done;
        }
    }
    for (int i = 0; i < count; i++) {
        const char *key = strchr(uris[i] + strlen("oss://"), '/') + 1;
        uint64_t seed = synth_seed(key), offset = 0, size = 0;
        ossmc_size(objs[i], &size);
        for (;;) {
            size_t got = 0;
            int32_t st = ossmc_read(objs[i], buf, cap, &got);
            if (st != OSSMC_OK) {
                report_failure("soak", uris[i], st);
                rc = 2;
                goto done;
            }
            if (got == 0) break;
            long long bad = synth_first_mismatch(seed, offset, buf, got);
            if (bad >= 0) {
                fprintf(stderr, "soak: %s: wrong byte at offset %llu\n", uris[i],
                        (unsigned long long)offset + (unsigned long long)bad);
                rc = 1;
                goto done;
            }
            offset += got;
        }
        if (offset != size) {
            fprintf(stderr, "soak: %s: %llu of %llu bytes\n", uris[i], (unsigned long long)offset,
                    (unsigned long long)size);
            rc = 1;
            goto done;
        }
        ossmc_close(objs[i]);
        objs[i] = NULL;
    }
done:
    for (int i = 0; i < count; i++) ossmc_close(objs[i]);
    return rc;
}

int main(int argc, char **argv) {
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt == 'f') config_path = optarg;
        else goto usage;
    }
    if (argc - optind < 3 || argc - optind - 2 > 256) goto usage;
    if (!abi_matches("soak")) return 1;
    double minutes = atof(argv[optind]);
    const char *endpoint = argv[optind + 1];
    char **uris = argv + optind + 2;
    int count = argc - optind - 2;

    ossmc_connector *conn = NULL;
    int32_t st = ossmc_connector_new(endpoint, NULL, config_path, &conn);
    if (st != OSSMC_OK) {
        report_failure("soak", "ossmc_connector_new", st);
        return 1;
    }
    size_t cap = 4u << 20;
    unsigned char *buf = malloc(cap);
    if (!buf) return 1;
    double start = now_s(), next_report = start + 60.0;
    long loads = 0, wrong = 0, failed = 0;
    printf("minute loads wrong failed rss_kib fds threads\n");
    fflush(stdout);
    while (now_s() - start < minutes * 60.0) {
        int rc = load_once(conn, uris, count, buf, cap);
        if (rc == 0) loads++;
        else if (rc == 1) wrong++;
        else failed++;
        if (now_s() >= next_report) {
            printf("%.0f %ld %ld %ld %ld %ld %ld\n", (now_s() - start) / 60.0, loads, wrong, failed,
                   status_field("VmRSS:"), open_fds(), status_field("Threads:"));
            fflush(stdout);
            next_report += 60.0;
        }
    }
    printf("end %ld %ld %ld %ld %ld %ld\n", loads, wrong, failed, status_field("VmRSS:"), open_fds(),
           status_field("Threads:"));
    free(buf);
    ossmc_connector_free(conn);
    return (wrong == 0 && failed == 0) ? 0 : 1;
usage:
    fprintf(stderr, "usage: soak [-f CONFIG_PATH] MINUTES ENDPOINT URI...\n");
    return 2;
}
