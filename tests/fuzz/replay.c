/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs a fuzz harness once over each file named on the command line, without
 * libFuzzer: `make check` builds every harness with this main() under ASan
 * and UBSan (-fno-sanitize-recover), so any compiler Debian ships can replay
 * the corpora and the regression inputs.  Each input is copied into a buffer
 * of its exact size, so that a read past its end is caught.  Exits 0 when
 * every input went through, 2 when a file cannot be read; a crash aborts.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

static int replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;

        if (len == cap) {
            uint8_t *b;

            cap = cap ? cap * 2 : 4096;
            b = realloc(buf, cap);
            if (!b) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = b;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: read error\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    {
        /* Exactly @len bytes (malloc(0) may return NULL: keep one byte). */
        uint8_t *exact = malloc(len ? len : 1);

        if (!exact) {
            free(buf);
            return -1;
        }
        if (len)
            memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int status = 0;

    for (int i = 1; i < argc; i++)
        if (replay(argv[i]) < 0)
            status = 2;
    return status;
}
