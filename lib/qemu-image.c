/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU migration streams and libvirt save images (itsmig/qemu-image.h):
 * libvirt's header, open and free, the accessors, and guest memory read
 * from the image.  The stream is read by qemu-image-stream.c, device
 * sections by qemu-image-vmsd.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gio/gio.h>

#include "itsmig/error.h"
#include "qemu-image-private.h"

/* libvirt src/qemu/qemu_saveimage.h */
#define LIBVIRT_SAVE_MAGIC         "LibvirtQemudSave"
#define LIBVIRT_SAVE_PARTIAL       "LibvirtQemudPart"
#define LIBVIRT_SAVE_HEADER_SIZE   92u /* magic[16], 5 x u32, unused u32[14] */
#define LIBVIRT_SAVE_VERSION_MAX   2u
#define LIBVIRT_SAVE_FORMAT_RAW    0u
#define LIBVIRT_SAVE_FORMAT_SPARSE 6u /* QEMU's mapped-ram stream, read in place */

/* ---- libvirt's save image header --------------------------------------------------- */

static const char *libvirt_compression_name(uint32_t c)
{
    /* virQEMUSaveFormat */
    static const char *const names[] = {"raw", "gzip", "bzip2", "xz", "lzop", "zstd", "sparse"};

    return c < G_N_ELEMENTS(names) ? names[c] : NULL;
}

static uint32_t header_u32(const uint8_t *h, size_t off, gboolean big_endian)
{
    uint32_t v;

    memcpy(&v, h + off, 4);
    return big_endian ? GUINT32_FROM_BE(v) : GUINT32_FROM_LE(v);
}

/* The header and the domain XML; *ret_start is where the QEMU stream starts, in the format
 * *ret_format (LIBVIRT_SAVE_FORMAT_*). */
static gboolean read_libvirt_header(ItsmigQemuImage *img, uint64_t *ret_start, uint32_t *ret_format,
                                    GError **error)
{
    uint8_t h[LIBVIRT_SAVE_HEADER_SIZE];
    uint32_t version, data_len, compressed;
    const char *comp;
    gboolean swap;

    if (!itsmig_qemu_image_read_bytes(img, h, sizeof(h), "libvirt's save image header", error))
        return FALSE;
    if (memcmp(h, LIBVIRT_SAVE_PARTIAL, 16) == 0)
        return itsmig_qemu_image_fail(
            img, 0, error,
            "an incomplete libvirt save image (magic " LIBVIRT_SAVE_PARTIAL
            "): the save did not finish");
    /* The header is in the saving host's byte order; libvirt swaps it when
     * the version only makes sense swapped. */
    version = header_u32(h, 16, FALSE);
    swap = version > LIBVIRT_SAVE_VERSION_MAX;
    version = header_u32(h, 16, swap);
    data_len = header_u32(h, 20, swap);
    compressed = header_u32(h, 28, swap);
    if (version < 1 || version > LIBVIRT_SAVE_VERSION_MAX)
        return itsmig_qemu_image_fail(img, 16, error,
                                      "libvirt save image version %" PRIu32 " (1..%u are read)",
                                      version, LIBVIRT_SAVE_VERSION_MAX);
    comp = libvirt_compression_name(compressed);
    if (!comp)
        return itsmig_qemu_image_fail(img, 28, error,
                                      "the libvirt save image's format %" PRIu32
                                      " (qemu.conf save_image_format) is unknown",
                                      compressed);
    if (compressed != 0 && version < 2)
        return itsmig_qemu_image_fail(img, 16, error,
                                      "a libvirt save image of version 1 in format %s (libvirt "
                                      "writes 2)",
                                      comp);
    *ret_format = compressed;
    if (data_len == 0 || data_len > ITSMIG_QEMU_IMAGE_XML_MAX)
        return itsmig_qemu_image_fail(img, 20, error,
                                      "domain XML area of %" PRIu32 " bytes (1..%u)", data_len,
                                      ITSMIG_QEMU_IMAGE_XML_MAX);
    if ((uint64_t)data_len > img->r.size - LIBVIRT_SAVE_HEADER_SIZE)
        return itsmig_qemu_image_fail(
            img, 20, error, "domain XML area of %" PRIu32 " bytes beyond the file", data_len);
    {
        g_autofree char *xml = g_malloc(data_len + 1);
        ssize_t n;

        do
            n = pread(img->r.fd, xml, data_len, LIBVIRT_SAVE_HEADER_SIZE);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)data_len)
            return itsmig_qemu_image_fail(img, LIBVIRT_SAVE_HEADER_SIZE, error,
                                          "cannot read the domain XML");
        xml[data_len] = '\0';
        if (strlen(xml) == 0 || !g_utf8_validate(xml, -1, NULL) ||
            !g_str_has_prefix(xml, "<domain"))
            return itsmig_qemu_image_fail(
                img, LIBVIRT_SAVE_HEADER_SIZE, error,
                "the libvirt save image does not start with a domain XML");
        img->domain_xml = g_strdup(xml);
    }
    *ret_start = LIBVIRT_SAVE_HEADER_SIZE + (uint64_t)data_len;
    return TRUE;
}

/* ---- compressed images ------------------------------------------------------------ */

/* An unlinked file in @dir for the decompressed stream. */
static int tmp_open(const char *dir, GError **error)
{
    g_autofree char *templ = NULL;
    int fd;

#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    templ = g_build_filename(dir, "itsmig-image-XXXXXX", NULL);
    fd = g_mkstemp_full(templ, O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INTERNAL,
                    "cannot make a file in %s for the decompressed stream: %s", dir,
                    g_strerror(errno));
        return -1;
    }
    unlink(templ);
    return fd;
}

/* Not /tmp, which may be memory (tmpfs), unless the caller or TMPDIR says so. */
static const char *tmp_dir(const ItsmigQemuImageOptions *o)
{
    const char *env = g_getenv("TMPDIR");

    if (o->tmp_dir)
        return o->tmp_dir;
    return env && *env ? env : "/var/tmp";
}

typedef struct {
    uint64_t fsize_max;
    pid_t reader;
} ChildSetup;

/* In the decompressor, before exec: it dies with the reader (a hook's reader killed at its
 * time limit must not leave it running), and may write only so much. */
static void decompressor_setup(gpointer data)
{
    const ChildSetup *cs = data;
    struct rlimit fs = {cs->fsize_max, cs->fsize_max};

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* the reader may have died before the prctl */
    if (getppid() != cs->reader)
        _exit(127);
    if (setrlimit(RLIMIT_FSIZE, &fs) < 0)
        _exit(127);
    signal(SIGXFSZ, SIG_DFL);
}

/* The most the decompressed stream may take in @dir: @max (0: no fixed bound), and never
 * the last 5 % of the file system (at least 1 GiB). */
static gboolean space_limit(ItsmigQemuImage *img, const char *dir, uint64_t max,
                            uint64_t *ret_limit, GError **error)
{
    struct statvfs v;
    uint64_t avail, reserve;

    if (statvfs(dir, &v) < 0)
        return itsmig_qemu_image_fail(img, 0, error, "cannot read the free space of %s: %s", dir,
                                      g_strerror(errno));
    avail = (uint64_t)v.f_bavail * v.f_frsize;
    reserve = MAX((uint64_t)v.f_blocks * v.f_frsize / 20, UINT64_C(1) << 30);
    if (avail <= reserve)
        return itsmig_qemu_image_fail(img, 0, error,
                                      "%s has %" PRIu64
                                      " MiB free, no more than it keeps in reserve "
                                      "(%" PRIu64 " MiB): no room to decompress the image",
                                      dir, avail >> 20, reserve >> 20);
    *ret_limit = max ? MIN(max, avail - reserve) : avail - reserve;
    return TRUE;
}

/* The first line of a program's standard error that is not empty (gzip starts with a
 * newline), printable, at most 200 bytes. */
static char *first_line(GBytes *b)
{
    gsize len = 0, i = 0;
    const char *d = b ? g_bytes_get_data(b, &len) : NULL;
    GString *s = g_string_new(NULL);

    while (i < len && g_ascii_isspace(d[i]))
        i++;
    for (; i < len && d[i] != '\n' && s->len < 200; i++)
        g_string_append_c(s, g_ascii_isprint(d[i]) ? d[i] : '?');
    return g_strstrip(g_string_free(s, FALSE));
}

/* Runs "@prog -dc" from @start of @fd into a new unlinked file, which becomes what the image
 * reads from. */
static gboolean decompress(ItsmigQemuImage *img, int fd, uint64_t start, const char *prog,
                           const ItsmigQemuImageOptions *o, GError **error)
{
    g_autofree char *self = g_strdup_printf("/proc/self/fd/%d", fd);
    const char *dir = tmp_dir(o);
    g_autoptr(GSubprocessLauncher) l = NULL;
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GBytes) err_bytes = NULL;
    g_autoptr(GError) e = NULL;
    g_autofree char *err = NULL;
    ChildSetup cs = {0, getpid()};
    struct stat st;
    int in, out;

    if (!space_limit(img, dir, o->decompressed_max, &cs.fsize_max, error))
        return FALSE;
    /* A file description of its own: the caller's offset stays where it is. */
    in = open(self, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return itsmig_qemu_image_fail(img, start, error,
                                      "cannot open the image again to decompress it: %s",
                                      g_strerror(errno));
    if (lseek(in, (off_t)start, SEEK_SET) != (off_t)start) {
        int saved = errno;

        close(in);
        return itsmig_qemu_image_fail(img, start, error, "cannot seek to the %s stream: %s", prog,
                                      g_strerror(saved));
    }
    out = tmp_open(dir, error);
    if (out < 0) {
        close(in);
        return FALSE;
    }
    img->tmp_fd = out;
    l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_take_stdin_fd(l, in);
    out = fcntl(out, F_DUPFD_CLOEXEC, 3);
    if (out < 0)
        return itsmig_qemu_image_fail(img, start, error, "cannot duplicate a descriptor: %s",
                                      g_strerror(errno));
    g_subprocess_launcher_take_stdout_fd(l, out);
    /* its messages untranslated, as they are quoted */
    g_subprocess_launcher_setenv(l, "LC_ALL", "C", TRUE);
    g_subprocess_launcher_set_child_setup(l, decompressor_setup, &cs, NULL);
    p = g_subprocess_launcher_spawn(l, &e, prog, "-dc", NULL);
    if (!p)
        return itsmig_qemu_image_fail(img, 28, error,
                                      "the image is compressed with %s, which cannot be run: %s",
                                      prog, e->message);
    if (!g_subprocess_communicate(p, NULL, NULL, NULL, &err_bytes, &e)) {
        g_subprocess_force_exit(p);
        g_subprocess_wait(p, NULL, NULL);
        return itsmig_qemu_image_fail(img, start, error, "%s -dc: %s", prog, e->message);
    }
    err = first_line(err_bytes);
    if (g_subprocess_get_if_signaled(p) && g_subprocess_get_term_sig(p) == SIGXFSZ)
        return itsmig_qemu_image_fail(img, start, error,
                                      "the %s stream decompresses to more than %" PRIu64
                                      " bytes, the limit in %s",
                                      prog, cs.fsize_max, dir);
    if (g_subprocess_get_if_signaled(p))
        return itsmig_qemu_image_fail(img, start, error, "%s -dc was killed by signal %d", prog,
                                      g_subprocess_get_term_sig(p));
    if (!g_subprocess_get_successful(p))
        return itsmig_qemu_image_fail(img, start, error, "%s -dc failed with exit status %d: %s",
                                      prog, g_subprocess_get_exit_status(p),
                                      *err ? err : "(no message)");
    if (fstat(img->tmp_fd, &st) < 0)
        return itsmig_qemu_image_fail(img, start, error, "cannot stat the decompressed stream: %s",
                                      g_strerror(errno));
    img->r.fd = img->tmp_fd;
    img->r.size = img->r.limit = (uint64_t)st.st_size;
    img->r.pos = img->r.buf_off = img->r.buf_len = 0;
    img->r.buf_size = img->r.size < READ_BUF_SIZE ? MAX((size_t)img->r.size, 4096) : READ_BUF_SIZE;
    img->r.buf = g_realloc(img->r.buf, img->r.buf_size);
    img->stats.decompressed_size = img->r.size;
    img->compression = prog;
    return TRUE;
}

/* ---- open / free ----------------------------------------------------------------- */

/* A new image over @fd, its magic read: *ret_n bytes of it. */
static ItsmigQemuImage *image_new(int fd, const char *name, uint8_t magic[16], ssize_t *ret_n,
                                  GError **error)
{
    g_autoptr(ItsmigQemuImage) img = g_new0(ItsmigQemuImage, 1);
    struct stat st;

    img->r.fd = img->src_fd = img->tmp_fd = -1;
    img->r.name = g_strdup(name);
    if (fstat(fd, &st) < 0) {
        itsmig_qemu_image_fail(img, 0, error, "cannot stat: %s", g_strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        itsmig_qemu_image_fail(img, 0, error,
                               "not a regular file (write a stream with \"exec:cat > FILE\")");
        return NULL;
    }
    img->r.fd = fd;
    img->r.size = img->r.limit = (uint64_t)st.st_size;
    /* small files (the fuzzer's) get a small buffer */
    img->r.buf_size = img->r.size < READ_BUF_SIZE ? MAX((size_t)img->r.size, 4096) : READ_BUF_SIZE;
    img->r.buf = g_malloc(img->r.buf_size);
    img->stats.file_size = img->r.size;
    do
        *ret_n = pread(fd, magic, 16, 0);
    while (*ret_n < 0 && errno == EINTR);
    return g_steal_pointer(&img);
}

static gboolean is_libvirt_magic(const uint8_t magic[16], ssize_t n)
{
    return n == 16 && (memcmp(magic, LIBVIRT_SAVE_MAGIC, 16) == 0 ||
                       memcmp(magic, LIBVIRT_SAVE_PARTIAL, 16) == 0);
}

char *itsmig_qemu_image_peek_domain_xml(int fd, const char *name, GError **error)
{
    g_autoptr(ItsmigQemuImage) img = NULL;
    uint8_t magic[16];
    uint64_t start;
    uint32_t format;
    ssize_t n;

    img = image_new(fd, name, magic, &n, error);
    if (!img)
        return NULL;
    if (!is_libvirt_magic(magic, n)) {
        itsmig_qemu_image_fail(img, 0, error, "not a libvirt save image");
        return NULL;
    }
    img->format = ITSMIG_QEMU_IMAGE_LIBVIRT;
    if (!read_libvirt_header(img, &start, &format, error))
        return NULL;
    return g_steal_pointer(&img->domain_xml);
}

ItsmigQemuImage *itsmig_qemu_image_open_full(int fd, const char *name,
                                             const ItsmigQemuImageOptions *opts, GError **error)
{
    static const ItsmigQemuImageOptions defaults = {0};
    g_autoptr(ItsmigQemuImage) img = NULL;
    uint32_t format = LIBVIRT_SAVE_FORMAT_RAW;
    const char *compression = NULL;
    uint8_t magic[16];
    uint64_t start = 0;
    ssize_t n;

    if (!opts)
        opts = &defaults;
    img = image_new(fd, name, magic, &n, error);
    if (!img)
        return NULL;
    img->src_fd = fd;
    if (is_libvirt_magic(magic, n)) {
        img->format = ITSMIG_QEMU_IMAGE_LIBVIRT;
        if (!read_libvirt_header(img, &start, &format, error))
            goto fail;
        if (format != LIBVIRT_SAVE_FORMAT_RAW && format != LIBVIRT_SAVE_FORMAT_SPARSE)
            compression = libvirt_compression_name(format);
        if (compression && opts->no_decompress) {
            itsmig_qemu_image_fail(img, 28, error,
                                   "the libvirt save image is compressed with %s (qemu.conf "
                                   "save_image_format), which is not read here",
                                   compression);
            goto fail;
        }
        if (compression) {
            img->stats.stream_offset = start;
            if (!decompress(img, fd, start, compression, opts, error))
                goto fail;
            start = 0;
        }
    } else if (n < 8) {
        itsmig_qemu_image_fail(img, 0, error,
                               "too short for a migration stream (%" PRIu64 " bytes)", img->r.size);
        goto fail;
    }
    if (!compression)
        img->stats.stream_offset = start;
    if (!itsmig_qemu_image_find_description(img, start, error) ||
        !itsmig_qemu_image_read_stream(img, start, error))
        goto fail;
    if (!img->ram_setup_done) {
        itsmig_qemu_image_fail(img, img->r.pos, error, "the stream has no RAM");
        goto fail;
    }
    /* libvirt saves in the sparse format exactly when QEMU writes mapped-ram */
    if (img->format == ITSMIG_QEMU_IMAGE_LIBVIRT &&
        (format == LIBVIRT_SAVE_FORMAT_SPARSE) != img->mapped_ram) {
        itsmig_qemu_image_fail(img, 28, error,
                               "libvirt's header says the format is %s, but the stream is %s "
                               "mapped-ram",
                               libvirt_compression_name(format), img->mapped_ram ? "in" : "not in");
        goto fail;
    }
    img->cache = g_malloc(UINT64_C(1) << img->page_bits);
    return g_steal_pointer(&img);
fail:
    img->src_fd = -1;
    return NULL;
}

ItsmigQemuImage *itsmig_qemu_image_open_fd(int fd, const char *name, GError **error)
{
    return itsmig_qemu_image_open_full(fd, name, NULL, error);
}

ItsmigQemuImage *itsmig_qemu_image_open(const char *path, GError **error)
{
    ItsmigQemuImage *img;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT, "%s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    img = itsmig_qemu_image_open_fd(fd, path, error);
    if (!img) {
        close(fd);
        return NULL;
    }
    img->owns_fd = TRUE;
    return img;
}

void itsmig_qemu_image_free(ItsmigQemuImage *img)
{
    if (!img)
        return;
    if (img->owns_fd && img->src_fd >= 0)
        close(img->src_fd);
    if (img->tmp_fd >= 0)
        close(img->tmp_fd);
    for (size_t i = 0; i < img->n_blocks; i++)
        itsmig_qemu_image_block_clear(&img->blocks[i]);
    g_free(img->blocks);
    if (img->parser)
        g_object_unref(img->parser);
    g_free(img->r.buf);
    g_free(img->r.name);
    g_free(img->domain_xml);
    g_free(img->machine);
    g_free(img->propbasers);
    g_free(img->pendbasers);
    g_free(img->cache);
    g_free(img->read_error);
    g_free(img);
}

/* ---- accessors ---------------------------------------------------------------------- */

ItsmigQemuImageFormat itsmig_qemu_image_get_format(const ItsmigQemuImage *img)
{
    return img->format;
}

const char *itsmig_qemu_image_get_compression(const ItsmigQemuImage *img)
{
    return img->compression;
}

gboolean itsmig_qemu_image_get_mapped_ram(const ItsmigQemuImage *img)
{
    return img->mapped_ram;
}

const char *itsmig_qemu_image_get_domain_xml(const ItsmigQemuImage *img)
{
    return img->domain_xml;
}

const char *itsmig_qemu_image_get_machine(const ItsmigQemuImage *img)
{
    return img->machine;
}

uint32_t itsmig_qemu_image_get_page_size(const ItsmigQemuImage *img)
{
    return UINT32_C(1) << img->page_bits;
}

void itsmig_qemu_image_get_stats(const ItsmigQemuImage *img, ItsmigQemuImageStats *ret)
{
    *ret = img->stats;
}

const ItsmigQemuImageIts *itsmig_qemu_image_get_its(const ItsmigQemuImage *img)
{
    return img->its_present ? &img->its : NULL;
}

size_t itsmig_qemu_image_get_n_redists(const ItsmigQemuImage *img)
{
    return img->n_redists;
}

const uint64_t *itsmig_qemu_image_get_propbasers(const ItsmigQemuImage *img)
{
    return img->propbasers;
}

const uint64_t *itsmig_qemu_image_get_pendbasers(const ItsmigQemuImage *img)
{
    return img->pendbasers;
}

size_t itsmig_qemu_image_get_n_blocks(const ItsmigQemuImage *img)
{
    return img->n_blocks;
}

const ItsmigQemuImageBlock *itsmig_qemu_image_get_block(const ItsmigQemuImage *img, size_t i)
{
    return i < img->n_blocks ? &img->blocks[i].pub : NULL;
}

gboolean itsmig_qemu_image_map_block(ItsmigQemuImage *img, const char *name, uint64_t gpa,
                                     GError **error)
{
    Block *b = itsmig_qemu_image_block_find(img, name);

    if (!b) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: no RAM block '%s' in the image", img->r.name, name);
        return FALSE;
    }
    if (gpa % itsmig_qemu_image_get_page_size(img) || gpa + b->pub.length < gpa) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "RAM block '%s' cannot be placed at 0x%" PRIx64, name, gpa);
        return FALSE;
    }
    for (size_t i = 0; i < img->n_blocks; i++) {
        const Block *o = &img->blocks[i];

        if (o == b || !o->pub.mapped)
            continue;
        if (gpa < o->pub.gpa + o->pub.length && o->pub.gpa < gpa + b->pub.length) {
            g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                        "RAM block '%s' at 0x%" PRIx64 " overlaps block '%s'", name, gpa, o->name);
            return FALSE;
        }
    }
    b->pub.gpa = gpa;
    b->pub.mapped = TRUE;
    return TRUE;
}

gboolean itsmig_qemu_image_map_default(ItsmigQemuImage *img, GError **error)
{
    if (!img->machine || !g_str_has_prefix(img->machine, "virt")) {
        g_set_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT,
                    "%s: machine '%s' is not QEMU's virt machine: say where its RAM blocks lie",
                    img->r.name, img->machine ? img->machine : "unknown");
        return FALSE;
    }
    if (!itsmig_qemu_image_map_block(img, ITSMIG_QEMU_VIRT_RAM_BLOCK, ITSMIG_QEMU_VIRT_RAM_BASE,
                                     error))
        return FALSE;
    /* The flash banks are guest memory too (KVM maps them read-only), and a
     * guest may put tables there (tests/nested/its-fault.c does). */
    if (itsmig_qemu_image_block_find(img, "virt.flash0") &&
        !itsmig_qemu_image_map_block(img, "virt.flash0", ITSMIG_QEMU_VIRT_FLASH0_BASE, error))
        return FALSE;
    if (itsmig_qemu_image_block_find(img, "virt.flash1") &&
        !itsmig_qemu_image_map_block(img, "virt.flash1", ITSMIG_QEMU_VIRT_FLASH1_BASE, error))
        return FALSE;
    return TRUE;
}

/* ---- guest memory ------------------------------------------------------------------- */

static int read_error(ItsmigQemuImage *img, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static int read_error(ItsmigQemuImage *img, int err, const char *fmt, ...)
{
    va_list ap;

    g_free(img->read_error);
    va_start(ap, fmt);
    img->read_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -err;
}

/* Where the page of @gpa is: its block (NULL when none is mapped there), its offset in the
 * block, and its content's offset in the file plus one (0 when the stream does not carry it
 * with content; then *ret_zero says whether it was sent as zero).  *ret_errno is set when a
 * mapped-ram bitmap cannot be read. */
static const Block *page_locate(const ItsmigQemuImage *img, uint64_t gpa, uint64_t *ret_off,
                                uint64_t *ret_foff, gboolean *ret_zero, int *ret_errno)
{
    *ret_errno = 0;
    for (size_t i = 0; i < img->n_blocks; i++) {
        const Block *b = &img->blocks[i];
        uint64_t off, idx;
        const Chunk *c;

        if (!b->pub.mapped || gpa < b->pub.gpa || gpa - b->pub.gpa >= b->pub.length)
            continue;
        off = gpa - b->pub.gpa;
        idx = off >> img->page_bits;
        *ret_off = off;
        *ret_foff = 0;
        *ret_zero = FALSE;
        if (img->mapped_ram && b->pages_offset) {
            uint8_t bits;
            ssize_t n;

            do
                n = pread(img->r.fd, &bits, 1, (off_t)(b->bitmap_offset + idx / 8));
            while (n < 0 && errno == EINTR);
            if (n != 1)
                *ret_errno = n < 0 ? errno : EIO;
            else if (bits >> (idx % 8) & 1)
                *ret_foff = b->pages_offset + (idx << img->page_bits) + 1;
            else
                *ret_zero = TRUE;
            return b;
        }
        if (img->mapped_ram) /* a shared block (x-ignore-shared): not in the image */
            return b;
        c = itsmig_qemu_image_chunk_find(b, idx);
        *ret_foff = c && c->offset ? c->offset[idx % CHUNK_PAGES] : 0;
        *ret_zero = c && (c->zero[(idx % CHUNK_PAGES) / 64] >> (idx % 64) & 1);
        return b;
    }
    return NULL;
}

static int guest_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    ItsmigQemuImage *img = opaque;
    uint64_t page = UINT64_C(1) << img->page_bits;
    uint8_t *out = buf;

    while (len > 0) {
        const Block *b;
        uint64_t off, in_page, n, foff;
        gboolean zero;
        int err;

        b = page_locate(img, gpa, &off, &foff, &zero, &err);
        if (!b)
            return read_error(img, EFAULT, "0x%" PRIx64 " is not in any mapped RAM block", gpa);
        if (err)
            return read_error(img, EIO, "cannot read the mapped-ram bitmap of 0x%" PRIx64 ": %s",
                              gpa, g_strerror(err));
        in_page = off & (page - 1);
        n = page - in_page < len ? page - in_page : len;
        if (foff) {
            foff--;
            if (img->cache_page_off != foff + 1) {
                ssize_t r;

                do
                    r = pread(img->r.fd, img->cache, page, (off_t)foff);
                while (r < 0 && errno == EINTR);
                if (r != (ssize_t)page)
                    return read_error(img, EIO, "cannot read the page of 0x%" PRIx64 ": %s", gpa,
                                      r < 0 ? g_strerror(errno) : "short read");
                img->cache_page_off = foff + 1;
            }
            memcpy(out, img->cache + in_page, n);
        } else if (zero) {
            memset(out, 0, n);
        } else {
            return read_error(img, EFAULT,
                              "the page of 0x%" PRIx64 " (block '%s' offset 0x%" PRIx64
                              ") is not in the image",
                              gpa, b->name, off - in_page);
        }
        out += n;
        gpa += n;
        len -= n;
    }
    return 0;
}

gboolean itsmig_qemu_image_file_offset(const ItsmigQemuImage *img, uint64_t gpa,
                                       uint64_t *ret_offset)
{
    uint64_t off, foff;
    gboolean zero;
    int err;

    if (!page_locate(img, gpa, &off, &foff, &zero, &err) || !foff)
        return FALSE;
    *ret_offset = foff - 1 + (off & ((UINT64_C(1) << img->page_bits) - 1));
    return TRUE;
}

void itsmig_qemu_image_guest_mem(ItsmigQemuImage *img, ItsmigGuestMem *ret)
{
    uint64_t data_pages = 0;

    /* Every page sent with content counts, also one sent again or later as
     * zero: an upper bound is what the walk needs. */
    for (size_t i = 0; i < img->n_blocks; i++)
        data_pages += img->blocks[i].pub.pages_data;
    *ret = (ItsmigGuestMem){
        .read = guest_read, .opaque = img, .read_size = data_pages << img->page_bits};
}

const char *itsmig_qemu_image_last_read_error(const ItsmigQemuImage *img)
{
    return img->read_error;
}

gboolean itsmig_qemu_image_walk_input(ItsmigQemuImage *img, unsigned nr_vcpus,
                                      ItsmigItsWalkInput *ret_in, ItsmigGuestMem *ret_mem)
{
    const ItsmigQemuImageIts *its = itsmig_qemu_image_get_its(img);
    size_t n = itsmig_qemu_image_get_n_redists(img);

    if (!its)
        return FALSE;
    memset(ret_in, 0, sizeof(*ret_in));
    ret_in->iidr = its->iidr;
    ret_in->baser0 = its->baser[0];
    ret_in->baser1 = its->baser[1];
    ret_in->nr_vcpus = nr_vcpus;
    if (n > 0) {
        ret_in->propbaser = itsmig_qemu_image_get_propbasers(img)[0];
        ret_in->pendbasers = itsmig_qemu_image_get_pendbasers(img);
        ret_in->nr_pendbasers = (unsigned)n;
        if (!nr_vcpus)
            ret_in->nr_vcpus = (unsigned)n;
    }
    itsmig_qemu_image_guest_mem(img, ret_mem);
    return TRUE;
}
