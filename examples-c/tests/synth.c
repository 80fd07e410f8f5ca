/*
 * synth: the synthetic-data oracle for the C example tests.
 *
 *   synth sum KEY SIZE        prints the load_model checksum of the object KEY of SIZE bytes
 *   synth check KEY [OFFSET]  compares stdin with the object's bytes from OFFSET; prints the
 *                             byte count and exits 0 when all match, 1 at the first mismatch
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthetic.h"

static int sum(const char *key, uint64_t size) {
    uint64_t seed = synth_seed(key), total = 0;
    for (uint64_t i = 0; i * 8 < size; i++) {
        uint64_t w = synth_word(seed, i);
        uint64_t left = size - i * 8;
        if (left < 8) w &= (UINT64_C(1) << (8 * left)) - 1; /* zero-pad the last word */
        total += w * (2 * i + 1);
    }
    printf("%016llx\n", (unsigned long long)total);
    return 0;
}

static int check(const char *key, uint64_t offset) {
    static unsigned char buf[1 << 20];
    uint64_t seed = synth_seed(key), done = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        long long bad = synth_first_mismatch(seed, offset + done, buf, n);
        if (bad >= 0) {
            printf("mismatch at byte %llu\n", (unsigned long long)(done + (uint64_t)bad));
            return 1;
        }
        done += n;
    }
    printf("%llu bytes match\n", (unsigned long long)done);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "sum") == 0) return sum(argv[2], strtoull(argv[3], NULL, 10));
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "check") == 0)
        return check(argv[2], argc == 4 ? strtoull(argv[3], NULL, 10) : 0);
    fprintf(stderr, "usage: synth sum KEY SIZE | synth check KEY [OFFSET] < DATA\n");
    return 2;
}
