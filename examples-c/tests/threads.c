/*
 * threads: one connector shared by 8 threads, each reading a different object to the end and
 * checking every byte against the synthetic data, plus a failure of its own to check that the
 * last-error detail is per thread.
 *
 *   threads [-f CONFIG_PATH] ENDPOINT BUCKET KEY...   (credentials from the environment; 8 keys)
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ossmc.h"
#include "synthetic.h"

#define THREADS 8

static ossmc_connector *conn;
static const char *bucket;

typedef struct {
    int index;
    const char *key;
    uint64_t bytes;
    int ok;
    char why[256];
} job;

static void *worker(void *arg) {
    job *j = arg;
    char uri[1100];
    /* First a failure that only this thread sees: its detail must name this thread's key. */
    char missing[64];
    snprintf(missing, sizeof missing, "missing-%d", j->index);
    snprintf(uri, sizeof uri, "oss://%s/%s", bucket, missing);
    ossmc_object *obj = NULL;
    int32_t st = ossmc_open(conn, uri, &obj);
    ossmc_error_detail d;
    ossmc_last_error(&d);
    if (st != OSSMC_NO_SUCH_KEY || strcmp(d.key, missing) != 0) {
        snprintf(j->why, sizeof j->why, "missing key: got %s, detail key '%s'", ossmc_status_name(st), d.key);
        return NULL;
    }

    snprintf(uri, sizeof uri, "oss://%s/%s", bucket, j->key);
    st = ossmc_open(conn, uri, &obj);
    if (st != OSSMC_OK) {
        snprintf(j->why, sizeof j->why, "open: %s", ossmc_status_name(st));
        return NULL;
    }
    uint64_t seed = synth_seed(j->key), size = 0;
    ossmc_size(obj, &size);
    /* Odd buffer sizes per thread, so reads cross chunk boundaries differently. */
    size_t cap = ((size_t)1 << 20) + 4093 * (size_t)j->index;
    unsigned char *buf = malloc(cap);
    for (; buf != NULL;) {
        size_t n = 0;
        st = ossmc_read(obj, buf, cap, &n);
        if (st != OSSMC_OK) {
            snprintf(j->why, sizeof j->why, "read: %s", ossmc_status_name(st));
            break;
        }
        if (n == 0) {
            int32_t verified = 0;
            j->ok = j->bytes == size;
            if (!j->ok) snprintf(j->why, sizeof j->why, "read %llu of %llu bytes", (unsigned long long)j->bytes, (unsigned long long)size);
            /* Read through: every byte was checked against the CRC-64. */
            else if (ossmc_verified(obj, &verified) != OSSMC_OK || verified != 1) {
                j->ok = 0;
                snprintf(j->why, sizeof j->why, "read through but not verified");
            }
            break;
        }
        long long bad = synth_first_mismatch(seed, j->bytes, buf, n);
        if (bad >= 0) {
            snprintf(j->why, sizeof j->why, "wrong byte at offset %llu", (unsigned long long)(j->bytes + (uint64_t)bad));
            break;
        }
        j->bytes += n;
    }
    free(buf);
    ossmc_close(obj);
    return NULL;
}

int main(int argc, char **argv) {
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt != 'f') goto usage;
        config_path = optarg;
    }
    if (argc - optind != 2 + THREADS) goto usage;
    argv += optind - 1; /* argv[1] is now ENDPOINT */
    bucket = argv[2];
    int32_t st = ossmc_connector_new(argv[1], NULL, config_path, &conn);
    if (st != OSSMC_OK) {
        fprintf(stderr, "threads: ossmc_connector_new: %s\n", ossmc_status_name(st));
        return 1;
    }
    pthread_t tids[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].index = i;
        jobs[i].key = argv[3 + i];
        if (pthread_create(&tids[i], NULL, worker, &jobs[i]) != 0) {
            fprintf(stderr, "threads: pthread_create failed\n");
            return 1;
        }
    }
    int failures = 0;
    uint64_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tids[i], NULL);
        if (!jobs[i].ok) {
            fprintf(stderr, "threads: thread %d (%s): %s\n", i, jobs[i].key, jobs[i].why);
            failures++;
        }
        total += jobs[i].bytes;
    }
    ossmc_connector_free(conn);
    if (failures != 0) return 1;
    printf("threads: %d threads read %llu bytes, all correct\n", THREADS, (unsigned long long)total);
    return 0;
usage:
    fprintf(stderr, "usage: threads [-f CONFIG_PATH] ENDPOINT BUCKET KEY... (%d keys)\n", THREADS);
    return 2;
}
