/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The migration stream / save image reader, on streams written here. */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "its-fixtures.h"
#include "itsmig/error.h"
#include "itsmig/qemu-image.h"
#include "qemu-image-builder.h"

#define RAM      ITSMIG_QEMU_VIRT_RAM_BASE
#define RAM_SIZE (8u << 20)

static QibParams default_params(void)
{
    QibParams p = {
        .ram_size = RAM_SIZE,
        .its = {.ctlr = 0x1,
                .iidr = 0x4b00043b,
                .cbaser = 0xb8000000400f0000ull,
                .cwriter = 0x40,
                .creadr = 0x40},
        .n_cpus = 2,
        .propbaser = 0x40710000ull | 0xf,
        .pendbaser = {0x40720000ull, 0x40730000ull},
    };

    p.its.baser[0] = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, RAM, 1, false);
    p.its.baser[1] = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, RAM + 0x100000, 1, false);
    return p;
}

/* A stream of 2 data pages (offsets 0 and 0x3000) and the rest zero pages
 * except page 5, which is never sent. */
static GByteArray *small_stream(const QibParams *p)
{
    GByteArray *s = g_byte_array_new();
    uint8_t page[QIB_PAGE_SIZE];

    qib_begin(s, p);
    qib_part_begin(s);
    memset(page, 0xa5, sizeof(page));
    qib_page(s, 0, TRUE, page);
    for (uint64_t off = QIB_PAGE_SIZE; off < p->ram_size; off += QIB_PAGE_SIZE) {
        if (off == 5 * QIB_PAGE_SIZE)
            continue;
        if (off == 3 * QIB_PAGE_SIZE) {
            memset(page, 0x3c, sizeof(page));
            qib_page(s, off, FALSE, page);
        } else {
            qib_zero_page(s, off, FALSE);
        }
    }
    qib_part_end(s);
    qib_end(s, p);
    return s;
}

static ItsmigQemuImage *open_bytes_full(const guint8 *data, gsize len,
                                        const ItsmigQemuImageOptions *opts, GError **error)
{
    g_autofree char *path = NULL;
    g_autoptr(GError) local = NULL;
    ItsmigQemuImage *img;
    int fd = g_file_open_tmp("qemu-image-XXXXXX", &path, &local);

    g_assert_no_error(local);
    g_assert_true(write(fd, data, len) == (ssize_t)len);
    img = itsmig_qemu_image_open_full(fd, "test.img", opts, error);
    /* the caller's file offset stays where it was, also when a decompressor read the file */
    g_assert_cmpint(lseek(fd, 0, SEEK_CUR), ==, (off_t)len);
    g_unlink(path);
    if (img) {
        /* keep fd open for reads: the image does not own it; leak into the test */
        return img;
    }
    close(fd);
    return NULL;
}

static ItsmigQemuImage *open_bytes(const guint8 *data, gsize len, GError **error)
{
    return open_bytes_full(data, len, NULL, error);
}

static void assert_refused(const GByteArray *s, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = open_bytes(s->data, s->len, &error);

    g_assert_null(img);
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    if (!strstr(error->message, needle))
        g_error("expected \"%s\" in: %s", needle, error->message);
}

/* Offset of the vmstate description's JSON in @s. */
static gsize json_start(const GByteArray *s)
{
    const guint8 *p = memmem(s->data, s->len, "{\"page_size\"", 12);

    g_assert_nonnull(p);
    return (gsize)(p - s->data);
}

/* Replaces @from by @to in the description and fixes its length. */
static void replace_json(GByteArray *s, const char *from, const char *to)
{
    gsize at = json_start(s);
    g_autoptr(GString) js = g_string_new_len((const char *)s->data + at, s->len - at);
    uint32_t len;

    g_assert_cmpuint(g_string_replace(js, from, to, 1), ==, 1);
    g_byte_array_set_size(s, (guint)at);
    g_byte_array_append(s, (const guint8 *)js->str, (guint)js->len);
    len = GUINT32_TO_BE((uint32_t)js->len);
    memcpy(s->data + at - 4, &len, 4);
}

static void test_registers(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = open_bytes(s->data, s->len, &error);
    const ItsmigQemuImageIts *its;
    const ItsmigQemuImageBlock *b;
    ItsmigQemuImageStats st;

    g_assert_no_error(error);
    g_assert_nonnull(img);
    g_assert_cmpint(itsmig_qemu_image_get_format(img), ==, ITSMIG_QEMU_IMAGE_STREAM);
    g_assert_cmpstr(itsmig_qemu_image_get_machine(img), ==, "virt-7.2");
    g_assert_cmpuint(itsmig_qemu_image_get_page_size(img), ==, 4096);
    its = itsmig_qemu_image_get_its(img);
    g_assert_nonnull(its);
    g_assert_cmpuint(its->ctlr, ==, p.its.ctlr);
    g_assert_cmpuint(its->iidr, ==, p.its.iidr);
    g_assert_cmpuint(its->cbaser, ==, p.its.cbaser);
    g_assert_cmpuint(its->cwriter, ==, p.its.cwriter);
    g_assert_cmpuint(its->creadr, ==, p.its.creadr);
    g_assert_cmpuint(its->baser[0], ==, p.its.baser[0]);
    g_assert_cmpuint(its->baser[1], ==, p.its.baser[1]);
    g_assert_cmpuint(its->baser[2], ==, 0);
    g_assert_cmpuint(itsmig_qemu_image_get_n_redists(img), ==, 2);
    g_assert_cmpuint(itsmig_qemu_image_get_propbasers(img)[1], ==, p.propbaser);
    g_assert_cmpuint(itsmig_qemu_image_get_pendbasers(img)[0], ==, p.pendbaser[0]);
    g_assert_cmpuint(itsmig_qemu_image_get_pendbasers(img)[1], ==, p.pendbaser[1]);
    g_assert_cmpuint(itsmig_qemu_image_get_n_blocks(img), ==, 1);
    b = itsmig_qemu_image_get_block(img, 0);
    g_assert_cmpstr(b->name, ==, "mach-virt.ram");
    g_assert_cmpuint(b->length, ==, RAM_SIZE);
    g_assert_cmpuint(b->pages_data, ==, 2);
    g_assert_cmpuint(b->pages_zero, ==, RAM_SIZE / 4096 - 3);
    itsmig_qemu_image_get_stats(img, &st);
    g_assert_cmpuint(st.sections, ==, 5);
    g_assert_cmpuint(st.file_size, ==, s->len);
}

/* QEMU 10.0 describes the last element of an array of structs without its "index" (the
 * entry then stands for the one element left); the redistributors are counted, not taken
 * from "index", and one that numbers another element is refused. */
static void test_redistributors_described(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;

    p.n_cpus = 3;
    p.pendbaser[2] = 0x40740000ull;
    s = small_stream(&p);
    replace_json(s, "\"index\": 2, ", "");
    img = open_bytes(s->data, s->len, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(itsmig_qemu_image_get_n_redists(img), ==, 3);
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpuint(itsmig_qemu_image_get_propbasers(img)[i], ==, p.propbaser);
        g_assert_cmpuint(itsmig_qemu_image_get_pendbasers(img)[i], ==, p.pendbaser[i]);
    }
    g_byte_array_unref(g_steal_pointer(&s));
    s = small_stream(&p);
    replace_json(s, "\"index\": 2, ", "\"index\": 1, ");
    assert_refused(s, "numbers redistributor 2 as element 1");
}

static void test_guest_mem(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = open_bytes(s->data, s->len, &error);
    ItsmigGuestMem mem;
    uint8_t buf[16];

    g_assert_no_error(error);
    itsmig_qemu_image_guest_mem(img, &mem);
    /* nothing mapped yet */
    g_assert_cmpint(itsmig_guest_mem_read(&mem, RAM, buf, 8), ==, -EFAULT);
    g_assert_true(itsmig_qemu_image_map_default(img, &error));
    g_assert_no_error(error);
    g_assert_cmpint(itsmig_guest_mem_read(&mem, RAM + 8, buf, 8), ==, 0);
    g_assert_cmpuint(buf[0], ==, 0xa5);
    /* spans a data page and a zero page */
    g_assert_cmpint(itsmig_guest_mem_read(&mem, RAM + 3 * 4096 - 8, buf, 16), ==, 0);
    g_assert_cmpuint(buf[0], ==, 0);
    g_assert_cmpuint(buf[8], ==, 0x3c);
    g_assert_cmpint(itsmig_guest_mem_read(&mem, RAM + 5 * 4096 + 64, buf, 8), ==, -EFAULT);
    g_assert_nonnull(strstr(itsmig_qemu_image_last_read_error(img), "is not in the image"));
    g_assert_cmpint(itsmig_guest_mem_read(&mem, RAM + RAM_SIZE - 4, buf, 8), ==, -EFAULT);
    g_assert_cmpint(itsmig_guest_mem_write(&mem, RAM, buf, 8), ==, -EROFS);
    /* a block cannot be mapped over another, nor one that does not exist */
    g_assert_false(itsmig_qemu_image_map_block(img, "nope", 0, &error));
    g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
}

/* A byte of a page sent with content is found in the file at the offset given; zero pages,
 * pages never sent and memory outside the blocks have none. */
static void test_file_offset(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = open_bytes(s->data, s->len, &error);
    uint64_t off = 0;

    g_assert_no_error(error);
    g_assert_false(itsmig_qemu_image_file_offset(img, RAM + 8, &off));
    g_assert_true(itsmig_qemu_image_map_default(img, &error));
    g_assert_true(itsmig_qemu_image_file_offset(img, RAM + 3 * 4096 + 100, &off));
    g_assert_cmpuint(off, <, s->len);
    g_assert_cmpuint(s->data[off], ==, 0x3c);
    g_assert_cmpuint(s->data[off - 100 - 1], !=, 0x3c); /* the page's content starts there */
    g_assert_true(itsmig_qemu_image_file_offset(img, RAM + 4095, &off));
    g_assert_cmpuint(s->data[off], ==, 0xa5);
    g_assert_false(itsmig_qemu_image_file_offset(img, RAM + 4096, &off));     /* zero page */
    g_assert_false(itsmig_qemu_image_file_offset(img, RAM + 5 * 4096, &off)); /* never sent */
    g_assert_false(itsmig_qemu_image_file_offset(img, RAM + RAM_SIZE, &off));
}

/* KVM-layout tables in a stream's pages walk to the mapping they hold. */
static void test_tables_walk(void)
{
    ItsFixtureParams fp = {
        .seed = 11,
        .n_devices = 30,
        .device_id_span = 8192,
        .max_events = 10,
        .min_event_bits = 1,
        .max_event_bits = 5,
        .n_collections = 4,
        .icid_span = 32,
        .nr_vcpus = 2,
        .unmapped_percent = 0,
        .itt_base = RAM + 0x200000,
        .lpi_base = 8192,
    };
    QibParams p = default_params();
    ItsmigItsMapping m;
    ItsmigGuestMem fmem, imem;
    ItsmigItsLayout layout = {p.its.baser[0], p.its.baser[1], 0};
    ItsmigItsWalkInput in = {
        .iidr = p.its.iidr, .baser0 = p.its.baser[0], .baser1 = p.its.baser[1], .nr_vcpus = 2};
    ItsmigItsReport rep;
    ItsmigDiag diag;
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;
    gboolean first = TRUE;

    g_assert_cmpint(its_fixture_mapping(&fp, &m, NULL), ==, 0);
    g_assert_cmpint(its_fixture_mem_new(RAM, RAM_SIZE, &fmem), ==, 0);
    g_assert_cmpint(itsmig_its_write_tables(&m, &layout, &fmem, &diag), ==, 0);
    qib_begin(s, &p);
    /* two passes, as precopy sends a page again when it was dirtied */
    for (int pass = 0; pass < 2; pass++) {
        qib_part_begin(s);
        for (uint64_t off = 0; off < RAM_SIZE; off += QIB_PAGE_SIZE) {
            const uint8_t *pg = fmem.regions[0].data + off;
            static const uint8_t zero[QIB_PAGE_SIZE];

            if (pass == 0 || memcmp(pg, zero, QIB_PAGE_SIZE) != 0) {
                if (pass == 0 || memcmp(pg, zero, QIB_PAGE_SIZE) == 0)
                    qib_zero_page(s, off, first);
                else
                    qib_page(s, off, first, pg);
                first = FALSE;
            }
        }
        qib_part_end(s);
    }
    qib_end(s, &p);
    img = open_bytes(s->data, s->len, &error);
    g_assert_no_error(error);
    g_assert_true(itsmig_qemu_image_map_default(img, &error));
    itsmig_qemu_image_guest_mem(img, &imem);
    g_assert_cmpint(itsmig_guest_mem_check(&imem, &diag), ==, 0);
    g_assert_cmpint(itsmig_its_walk(&in, &imem, &rep, &diag), ==, 0);
    g_assert_cmpint(rep.restore_errno, ==, 0);
    g_assert_cmpuint(rep.mapping.n_devices, ==, m.n_devices);
    g_assert_true(itsmig_its_mapping_equal(&rep.mapping, &m));
    itsmig_its_report_clear(&rep);
    itsmig_its_mapping_clear(&m);
    its_fixture_mem_free(&fmem);
}

static void test_libvirt(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;
    static const guint8 pad[8192];

    qib_libvirt_wrap(w, s, 0, "LibvirtQemudSave");
    /* libvirt's iohelper pads what it writes with O_DIRECT */
    g_byte_array_append(w, pad, sizeof(pad));
    img = open_bytes(w->data, w->len, &error);
    g_assert_no_error(error);
    g_assert_cmpint(itsmig_qemu_image_get_format(img), ==, ITSMIG_QEMU_IMAGE_LIBVIRT);
    g_assert_true(g_str_has_prefix(itsmig_qemu_image_get_domain_xml(img), "<domain type='kvm'>"));
    g_assert_cmpuint(itsmig_qemu_image_get_its(img)->cwriter, ==, 0x40);

    g_byte_array_set_size(w, 0);
    qib_libvirt_wrap(w, s, 7, "LibvirtQemudSave");
    assert_refused(w, "format 7 (qemu.conf save_image_format) is unknown");
    g_byte_array_set_size(w, 0);
    qib_libvirt_wrap(w, s, 0, "LibvirtQemudPart");
    assert_refused(w, "incomplete libvirt save image");
    g_byte_array_set_size(w, 0);
    qib_libvirt_wrap(w, s, 0, "LibvirtQemudSave");
    w->data[20] = 0xff, w->data[21] = 0xff, w->data[22] = 0xff, w->data[23] = 0x7f;
    assert_refused(w, "domain XML area of");
}

/* @in through "@prog -c", as libvirt's save writes it. */
static GByteArray *compress_with(const char *prog, const GByteArray *in)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) input = g_bytes_new(in->data, in->len);
    g_autoptr(GBytes) output = NULL;
    g_autoptr(GSubprocess) p = g_subprocess_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, prog, "-c", NULL);
    GByteArray *out = g_byte_array_new();
    gsize len;
    const guint8 *data;

    g_assert_no_error(error);
    g_assert_true(g_subprocess_communicate(p, input, NULL, &output, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(g_subprocess_get_successful(p));
    data = g_bytes_get_data(output, &len);
    g_byte_array_append(out, data, (guint)len);
    return out;
}

/* A compressed image reads as the raw one, through each program libvirt may use; what
 * cannot be decompressed is refused with the program's reason. */
static void test_libvirt_compressed(void)
{
    static const char *const progs[] = {NULL, "gzip", "bzip2", "xz", "lzop", "zstd"};
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) raw = NULL;

    qib_libvirt_wrap(w, s, 0, "LibvirtQemudSave");
    raw = open_bytes(w->data, w->len, &error);
    g_assert_no_error(error);
    g_assert_true(itsmig_qemu_image_map_default(raw, &error));
    for (uint32_t c = 1; c < G_N_ELEMENTS(progs); c++) {
        g_autoptr(GByteArray) z = NULL;
        g_autoptr(ItsmigQemuImage) img = NULL;
        g_autofree char *found = g_find_program_in_path(progs[c]);
        ItsmigQemuImageStats st;
        uint8_t a[64], b[64];
        ItsmigGuestMem ma, mb;

        /* gzip is essential in Debian; the others come with the test dependencies */
        if (!found && c != 1) {
            g_test_message("%s is not installed: not tried", progs[c]);
            continue;
        }
        g_assert_nonnull(found);
        z = compress_with(progs[c], s);
        g_byte_array_set_size(w, 0);
        qib_libvirt_wrap(w, z, c, "LibvirtQemudSave");
        img = open_bytes(w->data, w->len, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(itsmig_qemu_image_get_compression(img), ==, progs[c]);
        g_assert_true(g_str_has_prefix(itsmig_qemu_image_get_domain_xml(img), "<domain "));
        g_assert_cmpmem(itsmig_qemu_image_get_its(img), sizeof(ItsmigQemuImageIts),
                        itsmig_qemu_image_get_its(raw), sizeof(ItsmigQemuImageIts));
        itsmig_qemu_image_get_stats(img, &st);
        g_assert_cmpuint(st.decompressed_size, ==, s->len);
        g_assert_cmpuint(st.stream_offset, ==, w->len - z->len);
        /* the guest's memory too */
        g_assert_true(itsmig_qemu_image_map_default(img, &error));
        itsmig_qemu_image_guest_mem(img, &ma);
        itsmig_qemu_image_guest_mem(raw, &mb);
        g_assert_cmpint(ma.read(ma.opaque, ITSMIG_QEMU_VIRT_RAM_BASE, a, sizeof(a)), ==, 0);
        g_assert_cmpint(mb.read(mb.opaque, ITSMIG_QEMU_VIRT_RAM_BASE, b, sizeof(b)), ==, 0);
        g_assert_cmpmem(a, sizeof(a), b, sizeof(b));
    }
    {
        const ItsmigQemuImageOptions no = {.no_decompress = TRUE};
        const ItsmigQemuImageOptions small = {.decompressed_max = 1000};
        const ItsmigQemuImageOptions nowhere = {.tmp_dir = "/nonexistent/itsmig"};
        g_autoptr(GByteArray) z = compress_with("gzip", s);
        g_autoptr(ItsmigQemuImage) img = NULL;

        g_byte_array_set_size(w, 0);
        qib_libvirt_wrap(w, z, 1, "LibvirtQemudSave");
        img = open_bytes_full(w->data, w->len, &no, &error);
        g_assert_null(img);
        g_assert_nonnull(strstr(error->message, "compressed with gzip"));
        g_clear_error(&error);
        /* more than the limit */
        img = open_bytes_full(w->data, w->len, &small, &error);
        g_assert_null(img);
        g_assert_nonnull(strstr(error->message, "decompresses to more than 1000 bytes"));
        g_clear_error(&error);
        /* the temporary directory is the caller's */
        img = open_bytes_full(w->data, w->len, &nowhere, &error);
        g_assert_null(img);
        g_assert_nonnull(strstr(error->message, "free space of /nonexistent/itsmig"));
        g_clear_error(&error);
        /* a compressed image holding a mapped-ram stream: libvirt writes those only as
         * "sparse" */
        {
            g_autoptr(GByteArray) m = g_byte_array_new();
            g_autoptr(GByteArray) mz = NULL;
            g_autofree const uint8_t **data = g_new0(const uint8_t *, RAM_SIZE / QIB_PAGE_SIZE);

            qib_begin_mapped_ram(m, &p, 0, QIB_PAGE_SIZE, data);
            qib_part_begin(m);
            qib_part_end(m);
            qib_end(m, &p);
            mz = compress_with("gzip", m);
            g_byte_array_set_size(w, 0);
            qib_libvirt_wrap(w, mz, 1, "LibvirtQemudSave");
            assert_refused(w, "the format is gzip, but the stream is in mapped-ram");
        }
        /* cut short */
        g_byte_array_set_size(w, w->len - z->len / 2);
        assert_refused(w,
                       "gzip -dc failed with exit status 1: gzip: stdin: unexpected end of file");
        /* not compressed at all */
        g_byte_array_set_size(w, 0);
        qib_libvirt_wrap(w, s, 1, "LibvirtQemudSave");
        assert_refused(w, "gzip: stdin: not in gzip format");
        /* libvirt writes compressed images as version 2 */
        w->data[16] = 1;
        assert_refused(w, "libvirt save image of version 1 in format gzip");
    }
}

/* The program not on PATH: the image names it.  In a subprocess, whose PATH is set before
 * any thread runs. */
static void test_libvirt_no_program(void)
{
    if (g_test_subprocess()) {
        QibParams p = default_params();
        g_autoptr(GByteArray) s = small_stream(&p);
        g_autoptr(GByteArray) w = g_byte_array_new();

        g_setenv("PATH", "/nonexistent", TRUE);
        qib_libvirt_wrap(w, s, 5, "LibvirtQemudSave");
        assert_refused(w, "the image is compressed with zstd, which cannot be run");
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

/* The header alone: the domain XML, nothing run. */
static void test_libvirt_peek(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL;
    g_autofree char *xml = NULL;
    int fd;

    /* a header that names a compression, and a stream that is none: not looked at */
    qib_libvirt_wrap(w, s, 1, "LibvirtQemudSave");
    fd = g_file_open_tmp("qemu-image-XXXXXX", &path, &error);
    g_assert_no_error(error);
    g_assert_true(write(fd, w->data, w->len) == (ssize_t)w->len);
    g_unlink(path);
    xml = itsmig_qemu_image_peek_domain_xml(fd, "test.img", &error);
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(xml, "<domain type='kvm'>"));
    g_clear_pointer(&xml, g_free);
    g_assert_true(pwrite(fd, s->data, s->len, 0) == (ssize_t)s->len);
    xml = itsmig_qemu_image_peek_domain_xml(fd, "test.img", &error);
    g_assert_null(xml);
    g_assert_nonnull(strstr(error->message, "not a libvirt save image"));
    close(fd);
}

static void test_truncated(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    guint len = s->len;

    /* Every prefix is refused: the end marker and description are missing. */
    for (guint cut = 0; cut < len; cut += (cut < 256 || len - cut < 2048) ? 1 : 997) {
        g_autoptr(GError) error = NULL;
        g_autoptr(ItsmigQemuImage) img = open_bytes(s->data, cut, &error);

        g_assert_null(img);
        g_assert_error(error, ITSMIG_ERROR, ITSMIG_ERROR_INVALID_ARGUMENT);
    }
    /* The description intact, the stream cut inside: the lengths disagree. */
    {
        g_autoptr(GByteArray) c = g_byte_array_new();
        gsize js = json_start(s);

        g_byte_array_append(c, s->data, 200);
        g_byte_array_append(c, s->data + js - 6, len - (js - 6));
        assert_refused(c, "");
    }
}

static void test_lying_lengths(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = NULL;
    gsize js;

    /* the description's length one byte short / long */
    s = small_stream(&p);
    js = json_start(s);
    s->data[js - 1]++;
    assert_refused(s, "no vmstate description");
    g_byte_array_unref(s);
    s = small_stream(&p);
    s->data[json_start(s) - 1]--;
    assert_refused(s, "no vmstate description");
    g_byte_array_unref(s);

    /* the machine name claims 255 bytes */
    s = small_stream(&p);
    s->data[8 + 1 + 3] = 0xff;
    assert_refused(s, "");
    g_byte_array_unref(s);

    /* a RAM block longer than the RAM total */
    {
        QibParams q = p;
        guint8 *at;

        s = small_stream(&q);
        at = memmem(s->data, s->len, "\rmach-virt.ram", 14);
        g_assert_nonnull(at);
        at[14 + 4] = 0x10; /* length 8 MiB -> 256 MiB + 8 MiB */
        assert_refused(s, "RAM block 'mach-virt.ram' has length");
        g_byte_array_unref(s);
    }

    /* the description says ctlr has 8 bytes: wrong sizes are refused */
    s = small_stream(&p);
    replace_json(s, "\"ctlr\", \"type\": \"uint32\", \"size\": 4",
                 "\"ctlr\", \"type\": \"uint32\", \"size\": 8");
    assert_refused(s, "field 'ctlr' has 1 element(s) of 8 bytes");
    g_byte_array_unref(s);

    /* the description of the timer is 8 bytes short: the footer is not there */
    s = small_stream(&p);
    replace_json(s, "\"unused_buffer\", \"size\": 8", "\"unused_buffer\", \"size\": 16");
    assert_refused(s, "does not end where its description says");
    g_byte_array_unref(s);

    /* a device the description does not list */
    s = small_stream(&p);
    replace_json(s, "\"name\": \"timer\"", "\"name\": \"timex\"");
    assert_refused(s, "section 'timer' instance 0 is not in the vmstate description");
    g_byte_array_unref(s);

    /* an array length beyond what the file holds */
    s = small_stream(&p);
    replace_json(s, "\"array_len\": 8,", "\"array_len\": 2000000000,");
    assert_refused(s, "");
}

/* RAM blocks that claim more pages than the page index may track are
 * refused before the index is allocated: 4 TiB of 1 KiB pages would need a
 * 64 MiB chunk table, for a file of a few KiB. */
static void test_index_bound(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;
    ItsmigQemuImageStats stats;
    guint8 *bits;

    p.ram_size = ITSMIG_QEMU_IMAGE_RAM_MAX;
    qib_begin(s, &p);
    qib_end(s, &p);
    /* with 4 KiB pages the same RAM fits (a 16 MiB table) */
    img = open_bytes(s->data, s->len, &error);
    g_assert_no_error(error);
    itsmig_qemu_image_get_stats(img, &stats);
    g_assert_cmpuint(stats.index_bytes, <=, ITSMIG_QEMU_IMAGE_INDEX_MAX);
    bits = memmem(s->data, s->len, "configuration/target-page-bits", 30);
    g_assert_nonnull(bits);
    g_assert_cmpuint(bits[30 + 4 + 3], ==, QIB_PAGE_BITS);
    bits[30 + 4 + 3] = 10;
    assert_refused(s, "the RAM page index would need more than 40 MiB");
}

static void test_unknown_section(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    gsize eof = json_start(s) - 6;

    g_assert_cmpuint(s->data[eof], ==, 0x00);
    s->data[eof] = 0x09;
    /* byte 0x09 then the description: an unknown section type */
    assert_refused(s, "unknown section type 0x09");
    s->data[eof] = 0x08;
    assert_refused(s, "a migration command needs 4 bytes");
}

/* QEMU 10.0 sends a switchover-start notice before the devices' final state: passed over.
 * Other commands, or that one with arguments, are not of a saved stream. */
static GByteArray *stream_with_command(const QibParams *p, uint16_t cmd, uint16_t len)
{
    GByteArray *s = g_byte_array_new();
    static const uint8_t args[16] = {0};
    uint8_t page[QIB_PAGE_SIZE];

    qib_begin(s, p);
    qib_part_begin(s);
    memset(page, 0xa5, sizeof(page));
    qib_page(s, 0, TRUE, page);
    qib_part_end(s);
    qib_command(s, cmd, len, args);
    qib_end(s, p);
    return s;
}

static void test_commands(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) ok = stream_with_command(&p, 11, 0);
    g_autoptr(GByteArray) advise = stream_with_command(&p, 3, 16);
    g_autoptr(GByteArray) with_args = stream_with_command(&p, 11, 4);
    g_autoptr(GByteArray) unknown = stream_with_command(&p, 300, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = open_bytes(ok->data, ok->len, &error);

    g_assert_no_error(error);
    g_assert_nonnull(img);
    assert_refused(advise, "migration command 3 (POSTCOPY_ADVISE) with 16 bytes: not a saved "
                           "precopy stream");
    assert_refused(with_args, "migration command 11 (SWITCHOVER_START) with 4 bytes");
    assert_refused(unknown, "migration command 300 (unknown) with 0 bytes");
}

static void test_oversized_json(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);
    g_autofree char *big = g_strnfill(ITSMIG_QEMU_IMAGE_JSON_MAX, ' ');
    g_autofree char *to = g_strconcat("{\"page_size\":", big, NULL);

    replace_json(s, "{\"page_size\":", to);
    assert_refused(s, "no vmstate description (JSON of at most 8388608 bytes)");
}

static void test_bad_json(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = small_stream(&p);

    replace_json(s, "\"devices\": [", "\"devices\": [/* */");
    assert_refused(s, "is not JSON");
    g_byte_array_unref(g_steal_pointer(&s));
    s = small_stream(&p);
    replace_json(s, "\"devices\"", "\"device5\"");
    assert_refused(s, "no \"devices\" list");
}

/* A stream whose one page record is @rec (8 bytes big-endian) + @extra. */
static GByteArray *stream_with_record(uint64_t rec, const char *extra, gsize extra_len)
{
    QibParams p = default_params();
    GByteArray *s = g_byte_array_new();
    uint8_t b[8];

    qib_begin(s, &p);
    qib_part_begin(s);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(rec >> (56 - 8 * i));
    g_byte_array_append(s, b, 8);
    g_byte_array_append(s, (const guint8 *)extra, (guint)extra_len);
    qib_part_end(s);
    qib_end(s, &p);
    return s;
}

static void test_page_flags(void)
{
    static const char block[] = "\rmach-virt.ram";
    static const struct {
        uint64_t rec;
        const char *extra;
        gsize extra_len;
        const char *needle;
    } cases[] = {
        {0x40, block, 14, "XBZRLE"},
        {0x100, block, 14, "compress capability"},
        {0x80, "", 0, "RDMA"},
        {0x01, block, 14, "invalid flags 0x1"},
        {0x0a, block, 14, "invalid flags 0xa"},
        {0x22, "\0", 1, "continues a block, but none was named"},
        {0x02, "\rmach-virt.ram\x07", 15, "fill byte 0x07"},
        {0x02, "\x04nope\0", 6, "unknown block 'nope'"},
        {0x02, "\0", 1, "empty"},
        {(8u << 20) | 0x02, "\rmach-virt.ram\0", 15, "beyond block"},
        {0x04, "", 0, "invalid flags 0x4"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) s =
            stream_with_record(cases[i].rec, cases[i].extra, cases[i].extra_len);

        assert_refused(s, cases[i].needle);
    }
}

/* A mapped-ram stream of small_stream()'s content (pages 0 and 3 with data, the rest zero),
 * starting at byte @base of its file. */
static GByteArray *mapped_stream(const QibParams *p, uint64_t base)
{
    GByteArray *s = g_byte_array_new();
    uint64_t n = p->ram_size / QIB_PAGE_SIZE;
    g_autofree const uint8_t **data = g_new0(const uint8_t *, n);
    static uint8_t p0[QIB_PAGE_SIZE], p3[QIB_PAGE_SIZE];

    memset(p0, 0xa5, sizeof(p0));
    memset(p3, 0x3c, sizeof(p3));
    data[0] = p0;
    data[3] = p3;
    qib_begin_mapped_ram(s, p, base, 1u << 20, data);
    qib_part_begin(s);
    qib_part_end(s);
    qib_end(s, p);
    return s;
}

/* The mapped-ram layout (QEMU 9.0+, libvirt's "sparse" format) reads as the same guest
 * memory, from the pages' fixed offsets, without an index. */
static void test_mapped_ram(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = mapped_stream(&p, 0);
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autoptr(GByteArray) empty = g_byte_array_new();
    g_autoptr(GByteArray) ws = NULL;
    g_autoptr(GError) error = NULL;

    for (int wrapped = 0; wrapped < 2; wrapped++) {
        g_autoptr(ItsmigQemuImage) img = NULL;
        const ItsmigQemuImageBlock *b;
        ItsmigQemuImageStats st;
        ItsmigGuestMem mem;
        uint8_t buf[16];
        uint64_t off;

        if (wrapped) {
            /* offsets count libvirt's header: the stream is built behind it */
            qib_libvirt_wrap(w, empty, 6, "LibvirtQemudSave");
            ws = mapped_stream(&p, w->len);
            g_byte_array_append(w, ws->data, ws->len);
            img = open_bytes(w->data, w->len, &error);
        } else {
            img = open_bytes(s->data, s->len, &error);
        }
        g_assert_no_error(error);
        g_assert_true(itsmig_qemu_image_get_mapped_ram(img));
        g_assert_null(itsmig_qemu_image_get_compression(img));
        g_assert_cmpstr(itsmig_qemu_image_get_machine(img), ==, "virt-10.0");
        g_assert_cmpuint(itsmig_qemu_image_get_its(img)->cwriter, ==, 0x40);
        b = itsmig_qemu_image_get_block(img, 0);
        g_assert_cmpuint(b->pages_data, ==, 2);
        g_assert_cmpuint(b->pages_zero, ==, RAM_SIZE / QIB_PAGE_SIZE - 2);
        itsmig_qemu_image_get_stats(img, &st);
        g_assert_cmpuint(st.index_bytes, ==, 0);
        g_assert_true(itsmig_qemu_image_map_default(img, &error));
        itsmig_qemu_image_guest_mem(img, &mem);
        g_assert_cmpint(mem.read(mem.opaque, RAM + 3 * QIB_PAGE_SIZE - 8, buf, 16), ==, 0);
        for (int i = 0; i < 16; i++)
            g_assert_cmpuint(buf[i], ==, i < 8 ? 0 : 0x3c); /* page 2 is zero, not its slot */
        g_assert_cmpint(mem.read(mem.opaque, RAM + 5, buf, 1), ==, 0);
        g_assert_cmpuint(buf[0], ==, 0xa5);
        /* the content's offset in the file is the page's slot */
        g_assert_true(itsmig_qemu_image_file_offset(img, RAM + 3 * QIB_PAGE_SIZE + 4, &off));
        g_assert_cmpuint((wrapped ? w : s)->data[off], ==, 0x3c);
        g_assert_cmpuint(off % QIB_PAGE_SIZE, ==, 4);
        g_assert_false(itsmig_qemu_image_file_offset(img, RAM + 2 * QIB_PAGE_SIZE, &off));
    }
}

static gsize mapped_header_at(void);

/* libvirt's format and the stream agree; the bitmap's bits past the block do not count. */
static void test_mapped_ram_format(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) raw = small_stream(&p);
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autoptr(GByteArray) empty = g_byte_array_new();
    g_autoptr(GByteArray) m = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ItsmigQemuImage) img = NULL;
    gsize bitmap;

    qib_libvirt_wrap(w, raw, 6, "LibvirtQemudSave");
    assert_refused(w, "the format is sparse, but the stream is not in mapped-ram");
    g_byte_array_set_size(w, 0);
    qib_libvirt_wrap(w, empty, 0, "LibvirtQemudSave");
    m = mapped_stream(&p, w->len);
    g_byte_array_append(w, m->data, m->len);
    assert_refused(w, "the format is raw, but the stream is in mapped-ram");
    /* 2051 pages: the bitmap's last used byte has 3 of its bits in the block */
    p.ram_size = RAM_SIZE + 3 * QIB_PAGE_SIZE;
    g_clear_pointer(&m, g_byte_array_unref);
    m = mapped_stream(&p, 0);
    bitmap = mapped_header_at() + 28;
    m->data[bitmap + 2048 / 8] |= 0xf8; /* pages 2051..2055 */
    img = open_bytes(m->data, m->len, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(itsmig_qemu_image_get_block(img, 0)->pages_data, ==, 2);
    g_assert_cmpuint(itsmig_qemu_image_get_block(img, 0)->pages_zero, ==, 2049);
}

/* Offset of the mapped-ram header in mapped_stream(p, 0). */
static gsize mapped_header_at(void)
{
    return 4 + 4 + 1 + 4 + 9 + (1 + 1 + 30 + 4 + 4) + (1 + 1 + 26 + 4 + 4 + 1 + 10) +
           (1 + 4 + 1 + 3 + 4 + 4) + 8 + (1 + 13) + 8;
}

static void put_be(guint8 *d, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        d[i] = (guint8)v;
}

/* A mapped-ram header that lies, and page records where none belong. */
static void test_mapped_ram_refused(void)
{
    QibParams p = default_params();
    g_autoptr(GByteArray) s = mapped_stream(&p, 0);
    gsize h = mapped_header_at();
    struct {
        gsize at;
        int width;
        uint64_t value;
        const char *needle;
    } cases[] = {
        {h, 4, 2, "mapped-ram header version 2"},
        {h + 4, 8, 65536, "mapped-ram pages of 65536 bytes"},
        {h + 12, 8, h + 28 + 8, "the mapped-ram bitmap is at byte"},
        {h + 20, 8, h + 28, "do not fit between its bitmap"},
        {h + 20, 8, (uint64_t)1 << 20 | 1, "do not fit between its bitmap"},
        {h + 20, 8, (uint64_t)2 << 20, "do not fit between its bitmap"},
        {h + 20, 8, UINT64_MAX & ~(uint64_t)4095, "do not fit between its bitmap"},
    };

    /* the layout as QEMU 10.0 writes it, to begin with */
    g_assert_cmpuint(((uint64_t)s->data[h + 12] << 56 | (uint64_t)s->data[h + 13] << 48 |
                      (uint64_t)s->data[h + 14] << 40 | (uint64_t)s->data[h + 15] << 32 |
                      (uint64_t)s->data[h + 16] << 24 | (uint64_t)s->data[h + 17] << 16 |
                      (uint64_t)s->data[h + 18] << 8 | s->data[h + 19]),
                     ==, h + 28);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) c = g_byte_array_new();

        g_byte_array_append(c, s->data, s->len);
        put_be(c->data + cases[i].at, cases[i].value, cases[i].width);
        assert_refused(c, cases[i].needle);
    }
    /* a page record in an iterative part */
    {
        g_autoptr(GByteArray) t = g_byte_array_new();
        g_autofree const uint8_t **data = g_new0(const uint8_t *, p.ram_size / QIB_PAGE_SIZE);

        qib_begin_mapped_ram(t, &p, 0, 1u << 20, data);
        qib_part_begin(t);
        qib_zero_page(t, 0, TRUE);
        qib_part_end(t);
        qib_end(t, &p);
        assert_refused(t, "a RAM page record in a mapped-ram stream");
    }
}

static void test_not_a_stream(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();

    g_byte_array_append(s, (const guint8 *)"hello, world", 12);
    assert_refused(s, "does not end with QEMU's vmstate description");
    g_byte_array_set_size(s, 0);
    assert_refused(s, "too short");
    {
        QibParams p = default_params();
        g_autoptr(GByteArray) t = small_stream(&p);

        t->data[0] = 'X';
        assert_refused(t, "not a QEMU migration stream");
        t->data[0] = 'Q';
        t->data[7] = 2;
        assert_refused(t, "stream version 2");
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-image/stream/registers", test_registers);
    g_test_add_func("/qemu-image/stream/redistributors-described", test_redistributors_described);
    g_test_add_func("/qemu-image/guest-mem/zero-data-absent", test_guest_mem);
    g_test_add_func("/qemu-image/guest-mem/file-offset", test_file_offset);
    g_test_add_func("/qemu-image/guest-mem/tables-walk", test_tables_walk);
    g_test_add_func("/qemu-image/libvirt/header", test_libvirt);
    g_test_add_func("/qemu-image/libvirt/compressed", test_libvirt_compressed);
    g_test_add_func("/qemu-image/libvirt/no-program", test_libvirt_no_program);
    g_test_add_func("/qemu-image/libvirt/peek", test_libvirt_peek);
    g_test_add_func("/qemu-image/refused/truncated", test_truncated);
    g_test_add_func("/qemu-image/refused/lying-lengths", test_lying_lengths);
    g_test_add_func("/qemu-image/refused/unknown-section", test_unknown_section);
    g_test_add_func("/qemu-image/refused/commands", test_commands);
    g_test_add_func("/qemu-image/refused/index-bound", test_index_bound);
    g_test_add_func("/qemu-image/refused/oversized-json", test_oversized_json);
    g_test_add_func("/qemu-image/refused/bad-json", test_bad_json);
    g_test_add_func("/qemu-image/refused/page-flags", test_page_flags);
    g_test_add_func("/qemu-image/mapped-ram/read", test_mapped_ram);
    g_test_add_func("/qemu-image/mapped-ram/format", test_mapped_ram_format);
    g_test_add_func("/qemu-image/refused/mapped-ram", test_mapped_ram_refused);
    g_test_add_func("/qemu-image/refused/not-a-stream", test_not_a_stream);
    return g_test_run();
}
