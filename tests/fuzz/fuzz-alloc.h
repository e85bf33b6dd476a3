/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * Heap bytes in use and their peak, counted through the sanitizer allocator's
 * hooks (ASan's, in both the libFuzzer and the replay build), so that a
 * harness can assert a bound on what a call allocates.
 */

#include <stddef.h>

int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);

static size_t fuzz_alloc_now, fuzz_alloc_peak;

static void fuzz_alloc_on_malloc(const volatile void *p, size_t size)
{
    fuzz_alloc_now += size;
    if (fuzz_alloc_now > fuzz_alloc_peak)
        fuzz_alloc_peak = fuzz_alloc_now;
}

static void fuzz_alloc_on_free(const volatile void *p)
{
    size_t size = p ? __sanitizer_get_allocated_size(p) : 0;

    fuzz_alloc_now = size > fuzz_alloc_now ? 0 : fuzz_alloc_now - size;
}

/* Starts counting (once) and makes the bytes in use now the base of the
 * peak: returns that base. */
static inline size_t fuzz_alloc_start(void)
{
    static int installed;

    if (!installed) {
        __sanitizer_install_malloc_and_free_hooks(fuzz_alloc_on_malloc, fuzz_alloc_on_free);
        installed = 1;
    }
    fuzz_alloc_peak = fuzz_alloc_now;
    return fuzz_alloc_now;
}

/* The most bytes in use at once since fuzz_alloc_start(). */
static inline size_t fuzz_alloc_peak_bytes(void)
{
    return fuzz_alloc_peak;
}
