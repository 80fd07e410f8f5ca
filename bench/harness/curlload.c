/*
 * curlload: the benchmark's limit. libcurl (the engine of the curl command) fetches a list of
 * objects or ranges with up to N transfers at once, and every byte is checked against the
 * synthetic content as it arrives (synthcheck.c, about 10 GB/s) and then dropped, the way a
 * loader with a reused buffer consumes it. The curl command would have to write to files
 * (fresh tmpfs pages, a cost no streaming loader pays) or to /dev/null (unverified).
 *
 *   curlload STREAMS WORKFILE [MAX_SECONDS]
 *
 * WORKFILE: one transfer per line, "URL SEED OFFSET LENGTH RANGED" (RANGED 1 sends
 * Range: bytes=OFFSET-(OFFSET+LENGTH-1), 0 fetches the whole object, which must be LENGTH
 * bytes). Prints one JSON line: bytes, seconds (first request to last byte), ttfb (to the
 * first body byte), transfers, problems and the first problem. With MAX_SECONDS, transfers
 * still running then are abandoned and "partial" is true (the rate is bytes / seconds).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

int64_t synth_first_mismatch(uint64_t seed, uint64_t offset, const uint8_t *p, size_t n);

typedef struct {
    char *url;
    uint64_t seed, offset, length;
    int ranged;
} work_item;

typedef struct {
    const work_item *w;
    uint64_t pos; /* object offset of the next byte */
    uint64_t got;
    char range[64];
} transfer;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t total_bytes;
static double t_start, t_first = -1;
static long problems;
static char first_problem[512];

/* Counts a problem; the first one's description is kept for the report. */
static char *problem_slot(void) {
    return problems++ == 0 ? first_problem : NULL;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
    transfer *t = userdata;
    size_t n = size * nmemb;
    if (t_first < 0) t_first = now();
    int64_t bad = synth_first_mismatch(t->w->seed, t->pos, (const uint8_t *)ptr, n);
    char *slot;
    if (bad >= 0 && (slot = problem_slot()) != NULL) {
        snprintf(slot, sizeof first_problem, "%s: wrong byte at offset %" PRIu64, t->w->url, t->pos + (uint64_t)bad);
    }
    t->pos += n;
    t->got += n;
    total_bytes += n;
    return n;
}

static void start(CURLM *multi, CURL *easy, transfer *t, const work_item *w) {
    memset(t, 0, sizeof *t);
    t->w = w;
    t->pos = w->offset;
    curl_easy_setopt(easy, CURLOPT_URL, w->url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    if (w->ranged) {
        snprintf(t->range, sizeof t->range, "%" PRIu64 "-%" PRIu64, w->offset, w->offset + w->length - 1);
        curl_easy_setopt(easy, CURLOPT_RANGE, t->range);
    } else {
        curl_easy_setopt(easy, CURLOPT_RANGE, NULL);
    }
    curl_multi_add_handle(multi, easy);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: curlload STREAMS WORKFILE [MAX_SECONDS]\n");
        return 2;
    }
    int streams = atoi(argv[1]);
    double max_seconds = argc == 4 ? atof(argv[3]) : 0;
    int partial = 0;
    FILE *f = fopen(argv[2], "r");
    if (streams < 1 || f == NULL) {
        fprintf(stderr, "curlload: bad stream count or unreadable work file %s\n", argv[2]);
        return 2;
    }
    size_t cap = 64, count = 0;
    work_item *items = malloc(cap * sizeof *items);
    char url[4096];
    work_item w;
    while (fscanf(f, "%4095s %" SCNu64 " %" SCNu64 " %" SCNu64 " %d", url, &w.seed, &w.offset, &w.length, &w.ranged) == 5) {
        if (count == cap) items = realloc(items, (cap *= 2) * sizeof *items);
        w.url = strdup(url);
        items[count++] = w;
    }
    fclose(f);
    if (items == NULL || count == 0) {
        fprintf(stderr, "curlload: no work in %s\n", argv[2]);
        return 2;
    }
    if ((size_t)streams > count) streams = (int)count;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)streams);
    CURL **easies = calloc((size_t)streams, sizeof *easies);
    transfer *ts = calloc((size_t)streams, sizeof *ts);
    size_t next = 0;
    long done = 0;
    t_start = now();
    for (int i = 0; i < streams; i++) {
        easies[i] = curl_easy_init();
        start(multi, easies[i], &ts[i], &items[next++]);
    }
    int running = 1;
    while (running || next < count) {
        if (max_seconds > 0 && now() - t_start > max_seconds) {
            partial = 1;
            break;
        }
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *easy = msg->easy_handle;
            transfer *t;
            long code = 0;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
            char *slot;
            if (msg->data.result != CURLE_OK) {
                if ((slot = problem_slot()) != NULL) {
                    snprintf(slot, sizeof first_problem, "%s: %s", t->w->url, curl_easy_strerror(msg->data.result));
                }
            } else if (code != (t->w->ranged ? 206 : 200) || t->got != t->w->length) {
                if ((slot = problem_slot()) != NULL) {
                    snprintf(slot, sizeof first_problem, "%s: status %ld with %" PRIu64 " bytes, expected %" PRIu64,
                             t->w->url, code, t->got, t->w->length);
                }
            }
            done++;
            curl_multi_remove_handle(multi, easy);
            if (next < count) {
                start(multi, easy, t, &items[next++]);
                running = 1;
            }
        }
        if (running) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double seconds = now() - t_start;
    printf("{\"bytes\": %" PRIu64 ", \"seconds\": %.6f, \"ttfb\": %.6f, \"transfers\": %ld, \"problems\": %ld, "
           "\"first_problem\": \"%s\", \"partial\": %s}\n",
           total_bytes, seconds, t_first < 0 ? -1.0 : t_first - t_start, done, problems, first_problem,
           partial ? "true" : "false");
    for (int i = 0; i < streams; i++) {
        curl_multi_remove_handle(multi, easies[i]); /* a no-op for handles already removed */
        curl_easy_cleanup(easies[i]);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return 0;
}
