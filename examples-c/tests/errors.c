/*
 * errors: drives the C API's error paths against a running oss-local.
 *
 *   errors [-f CONFIG_PATH] ENDPOINT BUCKET KEY
 *
 * KEY must be an existing synthetic object of at least 64 bytes; the environment must hold
 * the server's credentials (OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET). Exit status 0 when
 * every check passed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ossmc.h"
#include "synthetic.h"

static const char *endpoint, *bucket, *key, *config_path;

/* The last error's field `f` equals `want`. */
#define DETAIL_IS(d, f, want) (strlen(want) == (d).f##_len && strcmp((d).f, (want)) == 0)

static ossmc_error_detail last(void) {
    ossmc_error_detail d;
    memset(&d, 0xAB, sizeof d); /* garbage, to see that every field is written */
    CHECK_STATUS(ossmc_last_error(&d), OSSMC_OK);
    return d;
}

static void versions_and_names(void) {
    CHECK(ossmc_abi_version() == OSSMC_ABI_VERSION);
    CHECK(strlen(ossmc_version()) > 0);
    CHECK(strcmp(ossmc_status_name(OSSMC_NO_SUCH_KEY), "OSSMC_NO_SUCH_KEY") == 0);
    CHECK(strcmp(ossmc_status_name(OSSMC_OK), "OSSMC_OK") == 0);
    CHECK(strcmp(ossmc_status_name(-7), "OSSMC_UNKNOWN_STATUS") == 0);
}

static void null_pointers_and_bad_strings(void) {
    ossmc_connector *conn = (ossmc_connector *)(uintptr_t)1; /* must be reset to NULL */
    CHECK_STATUS(ossmc_connector_new(NULL, NULL, NULL, &conn), OSSMC_NULL_POINTER);
    CHECK(conn == NULL);
    ossmc_error_detail d = last();
    CHECK(d.status == OSSMC_NULL_POINTER);
    CHECK(d.http_status == 0);
    CHECK(strstr(d.message, "endpoint") != NULL);
    CHECK(DETAIL_IS(d, oss_code, "") && DETAIL_IS(d, request_id, "") && DETAIL_IS(d, key, ""));

    CHECK_STATUS(ossmc_connector_new(endpoint, NULL, NULL, NULL), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_connector_new("http://127.0.0.1:1\xff", NULL, NULL, &conn), OSSMC_INVALID_UTF8);
    CHECK(last().status == OSSMC_INVALID_UTF8);
    CHECK_STATUS(ossmc_connector_new_with_callback(endpoint, NULL, NULL, NULL, &conn), OSSMC_NULL_POINTER);

    CHECK_STATUS(ossmc_open(NULL, "oss://b/k", &(ossmc_object *){NULL}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_list(NULL, "bucket", NULL, 0, &(ossmc_listing *){NULL}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_list_len(NULL, &(size_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_list_get(NULL, 0, &(const char *){NULL}, &(size_t){0}, &(uint64_t){0}),
                 OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_read(NULL, (char[4]){0}, 4, &(size_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_read_at(NULL, 0, (char[4]){0}, 4, &(size_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_read_timeout(NULL, (char[4]){0}, 4, 10, &(size_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_seek(NULL, 0, OSSMC_SEEK_SET, &(uint64_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_tell(NULL, &(uint64_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_size(NULL, &(uint64_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_verified(NULL, &(int32_t){0}), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_last_error(NULL), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_credentials_sink_set(NULL, "id", "secret", NULL, 0), OSSMC_NULL_POINTER);

    /* Freeing NULL is a no-op. */
    ossmc_connector_free(NULL);
    ossmc_list_free(NULL);
    ossmc_close(NULL);
}

static void last_error_message_copies(void) {
    CHECK_STATUS(ossmc_connector_new(NULL, NULL, NULL, &(ossmc_connector *){NULL}), OSSMC_NULL_POINTER);
    ossmc_error_detail d = last();
    size_t full = d.message_len, len = 0;
    CHECK(full > 8);

    char big[512];
    CHECK_STATUS(ossmc_last_error_message(big, sizeof big, &len), OSSMC_OK);
    CHECK(len == full && strlen(big) == full && strcmp(big, d.message) == 0);

    char small[8];
    CHECK_STATUS(ossmc_last_error_message(small, sizeof small, &len), OSSMC_BUFFER_TOO_SMALL);
    CHECK(len == full && strlen(small) == 7 && strncmp(small, d.message, 7) == 0);

    CHECK_STATUS(ossmc_last_error_message(NULL, 0, &len), OSSMC_BUFFER_TOO_SMALL);
    CHECK(len == full);
    CHECK_STATUS(ossmc_last_error_message(NULL, 5, &len), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_last_error_message(big, sizeof big, NULL), OSSMC_NULL_POINTER);
    /* Reading the last error does not replace it. */
    CHECK(last().status == OSSMC_NULL_POINTER);
}

static void configuration_files(void) {
    ossmc_connector *conn = NULL;
    CHECK_STATUS(ossmc_connector_new(endpoint, NULL, "/nonexistent/ossmc-config.json", &conn), OSSMC_IO);
    CHECK(conn == NULL);
    CHECK(strstr(last().message, "/nonexistent/ossmc-config.json") != NULL);

    char path[] = "/tmp/ossmc-errors-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs("{\"prefetch\": {\"vcpus\": \"many\"}}", f);
    fclose(f);
    CHECK_STATUS(ossmc_connector_new(endpoint, NULL, path, &conn), OSSMC_INVALID_CONFIG);
    CHECK(strstr(last().message, "vcpus") != NULL);
    remove(path);
}

static void uris_and_missing_things(ossmc_connector *conn) {
    ossmc_object *obj = (ossmc_object *)(uintptr_t)1;
    const char *bad[] = {"http://bucket/key", "oss://", "oss://bucket", "oss://bucket/", "oss://Bad_Bucket/k", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(ossmc_open(conn, bad[i], &obj), OSSMC_INVALID_URI);
        CHECK(obj == NULL);
    }
    CHECK_STATUS(ossmc_open(conn, NULL, &obj), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_open(conn, "oss://bucket/k", NULL), OSSMC_NULL_POINTER);

    char uri[1100];
    snprintf(uri, sizeof uri, "oss://%s/no/such/key.bin", bucket);
    CHECK_STATUS(ossmc_open(conn, uri, &obj), OSSMC_NO_SUCH_KEY);
    CHECK(obj == NULL);
    ossmc_error_detail d = last();
    CHECK(d.status == OSSMC_NO_SUCH_KEY);
    CHECK(d.http_status == 404);
    CHECK(DETAIL_IS(d, oss_code, "NoSuchKey"));
    CHECK(d.request_id_len > 0);
    CHECK(DETAIL_IS(d, bucket, bucket));
    CHECK(DETAIL_IS(d, key, "no/such/key.bin"));
    CHECK(strstr(d.message, "no/such/key.bin") != NULL);

    CHECK_STATUS(ossmc_open(conn, "oss://no-such-bucket-ossmc/k", &obj), OSSMC_NO_SUCH_BUCKET);
    d = last();
    CHECK(d.http_status == 404 && DETAIL_IS(d, oss_code, "NoSuchBucket"));

    ossmc_listing *list = (ossmc_listing *)(uintptr_t)1;
    CHECK_STATUS(ossmc_list(conn, NULL, NULL, 0, &list), OSSMC_NULL_POINTER);
    CHECK(list == NULL);
    CHECK_STATUS(ossmc_list(conn, "Not_A_Bucket", NULL, 0, &list), OSSMC_INVALID_ARGUMENT);
    CHECK_STATUS(ossmc_list(conn, "no-such-bucket-ossmc", "", 0, &list), OSSMC_NO_SUCH_BUCKET);
    CHECK_STATUS(ossmc_list(conn, "no-such-bucket-ossmc", "", 1, &list), OSSMC_NO_SUCH_BUCKET);

    /* A success clears the last error. */
    CHECK_STATUS(ossmc_list(conn, bucket, "no/such/prefix/", 0, &list), OSSMC_OK);
    d = last();
    CHECK(d.status == OSSMC_OK && d.http_status == 0 && DETAIL_IS(d, message, "") && DETAIL_IS(d, key, ""));
    size_t len = 99;
    CHECK_STATUS(ossmc_list_len(list, &len), OSSMC_OK);
    CHECK(len == 0);
    const char *k = "x";
    size_t klen = 5;
    uint64_t size = 5;
    CHECK_STATUS(ossmc_list_get(list, 0, &k, &klen, &size), OSSMC_INVALID_ARGUMENT);
    CHECK(k == NULL && klen == 0 && size == 0);
    CHECK_STATUS(ossmc_list_len(list, NULL), OSSMC_NULL_POINTER);
    ossmc_list_free(list);
}

/* ossmc_open_object: the object ossmc_open names by URI, named by bucket and key. */
static void open_by_bucket_and_key(ossmc_connector *conn) {
    ossmc_object *obj = (ossmc_object *)(uintptr_t)1;
    CHECK_STATUS(ossmc_open_object(NULL, bucket, key, &obj), OSSMC_NULL_POINTER);
    CHECK(obj == NULL);
    CHECK_STATUS(ossmc_open_object(conn, NULL, key, &obj), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_open_object(conn, bucket, NULL, &obj), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_open_object(conn, bucket, key, NULL), OSSMC_NULL_POINTER);
    obj = (ossmc_object *)(uintptr_t)1;
    CHECK_STATUS(ossmc_open_object(conn, "Not_A_Bucket", key, &obj), OSSMC_INVALID_ARGUMENT);
    CHECK(obj == NULL);
    CHECK_STATUS(ossmc_open_object(conn, bucket, "no/such/key.bin", &obj), OSSMC_NO_SUCH_KEY);
    CHECK(obj == NULL && DETAIL_IS(last(), key, "no/such/key.bin"));
    CHECK_STATUS(ossmc_open_object(conn, bucket, key, &obj), OSSMC_OK);
    if (obj == NULL) return;
    unsigned char buf[64];
    size_t n = 0;
    CHECK_STATUS(ossmc_read(obj, buf, sizeof buf, &n), OSSMC_OK);
    CHECK(n >= 1 && synth_first_mismatch(synth_seed(key), 0, buf, n) < 0);
    ossmc_close(obj);
}

static void object_calls(ossmc_connector *conn) {
    char uri[1100];
    snprintf(uri, sizeof uri, "oss://%s/%s", bucket, key);
    ossmc_object *obj = NULL;
    CHECK_STATUS(ossmc_open(conn, uri, &obj), OSSMC_OK);
    if (obj == NULL) return;
    uint64_t seed = synth_seed(key), size = 0, pos = 99;
    CHECK_STATUS(ossmc_size(obj, &size), OSSMC_OK);
    CHECK(size >= 64);
    CHECK_STATUS(ossmc_tell(obj, &pos), OSSMC_OK);
    CHECK(pos == 0);

    unsigned char buf[100];
    size_t n = 7;
    CHECK_STATUS(ossmc_read(obj, NULL, 10, &n), OSSMC_NULL_POINTER);
    CHECK(n == 0);
    CHECK_STATUS(ossmc_read(obj, buf, sizeof buf, NULL), OSSMC_NULL_POINTER);
    CHECK_STATUS(ossmc_read(obj, NULL, 0, &n), OSSMC_OK);
    CHECK(n == 0);

    /* read_timeout: OSSMC_AGAIN (nothing consumed) or data; loop until data. */
    int32_t st;
    int tries = 0;
    do {
        st = ossmc_read_timeout(obj, buf, 16, 50, &n);
        CHECK(st == OSSMC_OK || st == OSSMC_AGAIN);
        if (st == OSSMC_AGAIN) CHECK(n == 0);
    } while (st == OSSMC_AGAIN && ++tries < 1000);
    CHECK(st == OSSMC_OK && n >= 1 && n <= 16);
    CHECK(synth_first_mismatch(seed, 0, buf, n) < 0);
    CHECK_STATUS(ossmc_tell(obj, &pos), OSSMC_OK);
    CHECK(pos == n);

    CHECK_STATUS(ossmc_seek(obj, 0, 7, &pos), OSSMC_INVALID_ARGUMENT);
    CHECK_STATUS(ossmc_seek(obj, -1, OSSMC_SEEK_SET, &pos), OSSMC_INVALID_ARGUMENT);
    CHECK_STATUS(ossmc_seek(obj, -(int64_t)size - 1, OSSMC_SEEK_END, &pos), OSSMC_INVALID_ARGUMENT);
    CHECK_STATUS(ossmc_seek(obj, 5, OSSMC_SEEK_SET, &pos), OSSMC_OK);
    CHECK(pos == 5);
    CHECK_STATUS(ossmc_seek(obj, 3, OSSMC_SEEK_CUR, &pos), OSSMC_OK);
    CHECK(pos == 8);
    CHECK_STATUS(ossmc_read(obj, buf, 10, &n), OSSMC_OK);
    CHECK(n >= 1 && n <= 10 && synth_first_mismatch(seed, 8, buf, n) < 0);

    CHECK_STATUS(ossmc_seek(obj, -10, OSSMC_SEEK_END, &pos), OSSMC_OK);
    CHECK(pos == size - 10);
    size_t got = 0;
    while (got < 10) {
        CHECK_STATUS(ossmc_read(obj, buf + got, sizeof buf - got, &n), OSSMC_OK);
        if (n == 0) break;
        got += n;
    }
    CHECK(got == 10 && synth_first_mismatch(seed, size - 10, buf, got) < 0);
    CHECK_STATUS(ossmc_read(obj, buf, sizeof buf, &n), OSSMC_OK);
    CHECK(n == 0); /* end of object */
    CHECK_STATUS(ossmc_seek(obj, 100, OSSMC_SEEK_END, &pos), OSSMC_OK);
    CHECK(pos == size + 100);
    CHECK_STATUS(ossmc_read(obj, buf, sizeof buf, &n), OSSMC_OK);
    CHECK(n == 0);

    /* read_at neither uses nor moves the position. */
    CHECK_STATUS(ossmc_read_at(obj, 3, buf, 50, &n), OSSMC_OK);
    CHECK(n == 50 && synth_first_mismatch(seed, 3, buf, n) < 0);
    CHECK_STATUS(ossmc_read_at(obj, size - 4, buf, 50, &n), OSSMC_OK);
    CHECK(n == 4 && synth_first_mismatch(seed, size - 4, buf, n) < 0);
    CHECK_STATUS(ossmc_read_at(obj, size + 1, buf, 50, &n), OSSMC_OK);
    CHECK(n == 0);
    CHECK_STATUS(ossmc_tell(obj, &pos), OSSMC_OK);
    CHECK(pos == size + 100);
    CHECK_STATUS(ossmc_tell(obj, NULL), OSSMC_NULL_POINTER);
    ossmc_close(obj);
}

/* Credentials callbacks: what each test callback does is chosen by its userdata. */
typedef struct {
    const char *id, *secret; /* NULL id: fail */
    int32_t fail_with;       /* nonzero: return it without setting anything */
    int skip_set;            /* return OK without calling ossmc_credentials_sink_set */
    int calls;
    int32_t set_status;
} cb_plan;

static int32_t test_callback(void *userdata, ossmc_credentials_sink *sink) {
    cb_plan *plan = userdata;
    __atomic_add_fetch(&plan->calls, 1, __ATOMIC_SEQ_CST);
    if (plan->fail_with != 0) return plan->fail_with;
    if (plan->skip_set) return OSSMC_OK;
    plan->set_status = ossmc_credentials_sink_set(sink, plan->id, plan->secret, NULL, 0);
    return plan->set_status;
}

static int32_t open_with_plan(cb_plan *plan, ossmc_error_detail *d) {
    ossmc_connector *conn = NULL;
    CHECK_STATUS(ossmc_connector_new_with_callback(endpoint, test_callback, plan, config_path, &conn), OSSMC_OK);
    CHECK(plan->calls == 0); /* credentials are fetched lazily */
    char uri[1100];
    snprintf(uri, sizeof uri, "oss://%s/%s", bucket, key);
    ossmc_object *obj = NULL;
    int32_t st = ossmc_open(conn, uri, &obj);
    *d = last();
    if (st == OSSMC_OK) {
        unsigned char buf[64];
        size_t n = 0;
        CHECK_STATUS(ossmc_read_at(obj, 0, buf, sizeof buf, &n), OSSMC_OK);
        CHECK(n == sizeof buf && synth_first_mismatch(synth_seed(key), 0, buf, n) < 0);
    }
    ossmc_close(obj);
    ossmc_connector_free(conn);
    return st;
}

static void credentials_callbacks(void) {
    const char *id = getenv("OSS_ACCESS_KEY_ID"), *secret = getenv("OSS_ACCESS_KEY_SECRET");
    CHECK(id != NULL && secret != NULL);
    if (id == NULL || secret == NULL) return;
    ossmc_error_detail d;

    cb_plan good = {id, secret, 0, 0, 0, 0};
    CHECK_STATUS(open_with_plan(&good, &d), OSSMC_OK);
    CHECK(good.calls >= 1 && good.set_status == OSSMC_OK);

    /* A wrong secret: refused by the server, and no secret in the error. */
    cb_plan wrong = {id, "WrongSecretValue-do-not-print", 0, 0, 0, 0};
    CHECK_STATUS(open_with_plan(&wrong, &d), OSSMC_ACCESS_DENIED);
    CHECK(d.http_status == 403);
    CHECK(DETAIL_IS(d, oss_code, "SignatureDoesNotMatch"));
    CHECK(d.request_id_len > 0);
    CHECK(strstr(d.message, "WrongSecretValue") == NULL);
    CHECK(strstr(d.message, secret) == NULL);

    /* A failing callback is OSSMC_CREDENTIALS_CALLBACK, naming the status it returned. */
    cb_plan failing = {id, secret, 42, 0, 0, 0};
    int32_t st = open_with_plan(&failing, &d);
    CHECK(st == OSSMC_CREDENTIALS_CALLBACK);
    CHECK(strstr(d.message, "42") != NULL);

    cb_plan silent = {id, secret, 0, 1, 0, 0};
    st = open_with_plan(&silent, &d);
    CHECK(st == OSSMC_CREDENTIALS_CALLBACK);
    CHECK(strstr(d.message, "ossmc_credentials_sink_set") != NULL);

    /* The callback's own failure (a NULL id) is reported by the sink and passed on. */
    cb_plan null_id = {NULL, secret, 0, 0, 0, 0};
    st = open_with_plan(&null_id, &d);
    CHECK(null_id.set_status == OSSMC_NULL_POINTER);
    CHECK(st == OSSMC_CREDENTIALS_CALLBACK);
    CHECK(strstr(d.message, "OSSMC_NULL_POINTER") != NULL);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        if (opt != 'f') goto usage;
        config_path = optarg;
    }
    if (argc - optind != 3) goto usage;
    endpoint = argv[optind];
    bucket = argv[optind + 1];
    key = argv[optind + 2];

    versions_and_names();
    null_pointers_and_bad_strings();
    last_error_message_copies();
    configuration_files();

    ossmc_connector *conn = NULL;
    CHECK_STATUS(ossmc_connector_new(endpoint, NULL, config_path, &conn), OSSMC_OK);
    if (conn != NULL) {
        uris_and_missing_things(conn);
        open_by_bucket_and_key(conn);
        object_calls(conn);
        ossmc_connector_free(conn);
    }
    credentials_callbacks();

    return check_summary("errors");
usage:
    fprintf(stderr, "usage: errors [-f CONFIG_PATH] ENDPOINT BUCKET KEY\n");
    return 2;
}
