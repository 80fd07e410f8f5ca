/*
 * synthcheck: checks received bytes against the synthetic object content that oss-local
 * serves (tools/testkit: byte `off` of the object with seed S is byte `off % 8`, little-endian,
 * of w(off / 8), w(i) = y ^ (y >> 31), y = (S + i) * 0x9E3779B97F4A7C15 mod 2^64).
 *
 * The benchmark drivers call it through ctypes on every chunk they receive, so it has to run
 * at memory speed: the Python twin (numpy) would add a second or more per GB on this class of
 * machine and distort the timing it sits inside. ctypes releases the GIL around the call, so
 * thread-pool contenders check in parallel.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define K 0x9E3779B97F4A7C15ULL

static inline uint64_t word(uint64_t seed, uint64_t i) {
    uint64_t y = (seed + i) * K;
    return y ^ (y >> 31);
}

static inline uint8_t byte_at(uint64_t seed, uint64_t off) {
    return (uint8_t)(word(seed, off / 8) >> (8 * (off % 8)));
}

/* Index of the first byte of p[0..n) that differs from the object's bytes at `offset`, or -1. */
int64_t synth_first_mismatch(uint64_t seed, uint64_t offset, const uint8_t *p, size_t n) {
    size_t pos = 0;
    while (pos < n && (offset + pos) % 8 != 0) {
        if (p[pos] != byte_at(seed, offset + pos)) return (int64_t)pos;
        pos++;
    }
    uint64_t first = (offset + pos) / 8;
    size_t words = (n - pos) / 8;
    /* Blocks of words: an OR of differences per block (vectorizes), exact search only on failure. */
    const size_t BLOCK = 2048;
    for (size_t b = 0; b < words; b += BLOCK) {
        size_t m = words - b < BLOCK ? words - b : BLOCK;
        const uint8_t *q = p + pos + 8 * b;
        uint64_t y = (seed + first + b) * K, acc = 0;
        for (size_t j = 0; j < m; j++) {
            uint64_t v;
            memcpy(&v, q + 8 * j, 8);
            acc |= v ^ (y ^ (y >> 31));
            y += K;
        }
        if (acc != 0) {
            for (size_t j = 0; j < 8 * m; j++) {
                if (q[j] != byte_at(seed, offset + pos + 8 * b + j)) return (int64_t)(pos + 8 * b + j);
            }
        }
    }
    pos += words * 8;
    while (pos < n) {
        if (p[pos] != byte_at(seed, offset + pos)) return (int64_t)pos;
        pos++;
    }
    return -1;
}

/* The checksum examples-c/load_model prints with -s for a whole object of `size` bytes:
 * sum over its little-endian words w_i (the last one zero-padded) of w_i * (2i + 1), mod 2^64. */
uint64_t synth_load_model_sum(uint64_t seed, uint64_t size) {
    uint64_t sum = 0, full = size / 8;
    for (uint64_t i = 0; i < full; i++) sum += word(seed, i) * (2 * i + 1);
    unsigned rest = (unsigned)(size % 8);
    if (rest != 0) {
        uint64_t w = word(seed, full) & ((1ULL << (8 * rest)) - 1);
        sum += w * (2 * full + 1);
    }
    return sum;
}
