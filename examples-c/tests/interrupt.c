/*
 * interrupt: ossmc_connector_interrupt, called from the main thread, ends a listing or an open
 * that a worker thread is blocked in, with OSSMC_CANCELLED.
 *
 *   interrupt [-f CONFIG_PATH] ENDPOINT BUCKET KEY     (credentials from the environment)
 *
 * The server must fail every request (oss-local --fail-rate 1), so that each call sits in its
 * retry backoff, which an interrupt ends at once. The main thread interrupts again and again
 * until the worker's call returns: an interrupt that lands before the call starts does not
 * count, and one that lands later cancels the call's token for good.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ossmc.h"

typedef enum { LIST, FAST_LIST, OPEN } call_kind;

typedef struct {
    ossmc_connector *conn;
    const char *bucket, *key;
    call_kind kind;
    int32_t status;
    ossmc_error_detail detail;
    char message[512];
    int done; /* set with __atomic_store_n once status and message are written */
} job;

static void *worker(void *arg) {
    job *j = arg;
    if (j->kind == OPEN) {
        char uri[1100];
        snprintf(uri, sizeof uri, "oss://%s/%s", j->bucket, j->key);
        ossmc_object *obj = NULL;
        j->status = ossmc_open(j->conn, uri, &obj);
        ossmc_close(obj);
    } else {
        ossmc_listing *list = NULL;
        j->status = ossmc_list(j->conn, j->bucket, "", j->kind == FAST_LIST, &list);
        ossmc_list_free(list);
    }
    size_t len = 0;
    ossmc_last_error_message(j->message, sizeof j->message, &len);
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void interrupt_one(ossmc_connector *conn, const char *bucket, const char *key, call_kind kind) {
    job j;
    memset(&j, 0, sizeof j);
    j.conn = conn;
    j.bucket = bucket;
    j.key = key;
    j.kind = kind;
    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, worker, &j) == 0);
    struct timespec pause = {0, 5 * 1000 * 1000};
    while (!__atomic_load_n(&j.done, __ATOMIC_SEQ_CST)) {
        CHECK_STATUS(ossmc_connector_interrupt(conn), OSSMC_OK);
        nanosleep(&pause, NULL);
    }
    pthread_join(tid, NULL);
    if (j.status != OSSMC_CANCELLED) {
        fprintf(stderr, "interrupt: call %d returned %s, want OSSMC_CANCELLED (%s)\n", (int)kind,
                ossmc_status_name(j.status), j.message);
        check_failures++;
    }
    CHECK(strstr(j.message, "cancel") != NULL);
}

int main(int argc, char **argv) {
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt != 'f') goto usage;
        config_path = optarg;
    }
    if (argc - optind != 3) goto usage;
    ossmc_connector *conn = NULL;
    CHECK_STATUS(ossmc_connector_new(argv[optind], NULL, config_path, &conn), OSSMC_OK);
    if (conn == NULL) return 1;
    CHECK_STATUS(ossmc_connector_interrupt(NULL), OSSMC_NULL_POINTER);
    interrupt_one(conn, argv[optind + 1], argv[optind + 2], LIST);
    interrupt_one(conn, argv[optind + 1], argv[optind + 2], FAST_LIST);
    interrupt_one(conn, argv[optind + 1], argv[optind + 2], OPEN);
    ossmc_connector_free(conn);
    return check_summary("interrupt");
usage:
    fprintf(stderr, "usage: interrupt [-f CONFIG_PATH] ENDPOINT BUCKET KEY\n");
    return 2;
}
