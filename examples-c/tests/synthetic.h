/*
 * The synthetic object bytes oss-local serves, in C, so that the C tests check what they read
 * without a reference copy. Same definition as tools/testkit/src/synthetic.rs:
 *   seed(key) = FNV-1a-64 of the key's bytes
 *   word(i)   = y ^ (y >> 31), y = (seed + i) * 0x9E3779B97F4A7C15 mod 2^64
 *   byte at offset o = byte (o % 8), little-endian, of word(o / 8)
 * and the order-sensitive checksum load_model prints (see ossmc_checksum in load_model.c).
 */
#ifndef OSSMC_TESTS_SYNTHETIC_H
#define OSSMC_TESTS_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#define SYNTH_MULTIPLIER UINT64_C(0x9E3779B97F4A7C15)

static inline uint64_t synth_seed(const char *key) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= (uint64_t)*p;
        h *= UINT64_C(0x00000100000001b3);
    }
    return h;
}

static inline uint64_t synth_word(uint64_t seed, uint64_t i) {
    uint64_t y = (seed + i) * SYNTH_MULTIPLIER;
    return y ^ (y >> 31);
}

static inline unsigned char synth_byte(uint64_t seed, uint64_t offset) {
    return (unsigned char)(synth_word(seed, offset / 8) >> (8 * (offset % 8)));
}

/* Index of the first byte of buf (the object's bytes from offset) that differs, or -1. */
static inline long long synth_first_mismatch(uint64_t seed, uint64_t offset, const unsigned char *buf,
                                             size_t len) {
    size_t i = 0;
    /* Byte by byte up to a word boundary, then whole words. */
    while (i < len && (offset + i) % 8 != 0) {
        if (buf[i] != synth_byte(seed, offset + i)) return (long long)i;
        i++;
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w = synth_word(seed, (offset + i) / 8);
        for (int b = 0; b < 8; b++) {
            if (buf[i + (size_t)b] != (unsigned char)(w >> (8 * b))) return (long long)(i + (size_t)b);
        }
    }
    for (; i < len; i++) {
        if (buf[i] != synth_byte(seed, offset + i)) return (long long)i;
    }
    return -1;
}

#endif
