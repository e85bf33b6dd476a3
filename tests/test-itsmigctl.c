/* SPDX-License-Identifier: GPL-2.0-or-later */
/* itsmigctl run as a program: output, exit status and bad input. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "itsmig/its-abi.h"
#include "its-fixtures.h"
#include "qemu-image-builder.h"

#define RAM      0x40000000ull
#define RAM_SIZE (4ull << 20)
#define DT       (RAM + 0x000000)
#define CT       (RAM + 0x080000)
#define ITT      (RAM + 0x100000)

typedef struct {
    char *dir;
    char *ram; /* path of the memory image */
    ItsmigItsMapping mapping;
    uint64_t baser0, baser1;
} Fixture;

typedef struct {
    int status;
    char *out;
    char *err;
} Run;

static void run_clear(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

static Run run_ctl(const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    Run r = {0};
    int wait_status;

    g_ptr_array_add(argv, (char *)ITSMIGCTL);
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error));
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(wait_status));
    r.status = WEXITSTATUS(wait_status);
    return r;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    ItsFixtureParams p = {
        .seed = 7,
        .n_devices = 20,
        .device_id_span = 8192,
        .max_events = 12,
        .min_event_bits = 1,
        .max_event_bits = 6,
        .n_collections = 6,
        .icid_span = 64,
        .nr_vcpus = 4,
        .unmapped_percent = 25,
        .itt_base = ITT,
        .lpi_base = 8192,
    };
    ItsmigGuestMem mem;
    ItsmigItsLayout layout;
    ItsmigDiag diag;
    g_autoptr(GError) error = NULL;

    f->dir = g_dir_make_tmp("itsmigctl-XXXXXX", &error);
    g_assert_no_error(error);
    f->ram = g_build_filename(f->dir, "ram.bin", NULL);
    f->baser0 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_DEVICE, DT, 1, false);
    f->baser1 = itsmig_gits_baser_make(ITSMIG_BASER_TYPE_COLLECTION, CT, 1, false);
    layout = (ItsmigItsLayout){f->baser0, f->baser1, 0};
    g_assert_cmpint(its_fixture_mapping(&p, &f->mapping, NULL), ==, 0);
    g_assert_cmpint(its_fixture_mem_new(RAM, RAM_SIZE, &mem), ==, 0);
    g_assert_cmpint(itsmig_its_write_tables(&f->mapping, &layout, &mem, &diag), ==, 0);
    if (data) {
        /* A bad image: the first mapped ITE gets a pINTID below 8192. */
        const ItsmigItsDevice *d = f->mapping.devices;
        uint64_t gpa;

        while (d->n_events == 0)
            d++;
        gpa = d->itt_addr + 8ull * f->mapping.events[d->first_event].event_id;
        itsmig_le64_store(itsmig_guest_mem_ptr(&mem, gpa, 8), 100ull << 16);
    }
    g_assert_true(g_file_set_contents(f->ram, (const char *)mem.regions[0].data, RAM_SIZE, &error));
    g_assert_no_error(error);
    its_fixture_mem_free(&mem);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);

        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->ram);
    itsmig_its_mapping_clear(&f->mapping);
}

static Run inspect(Fixture *f, const char *extra1, const char *extra2)
{
    g_autofree char *mem = g_strdup_printf("%s@0x%llx", f->ram, (unsigned long long)RAM);
    g_autofree char *b0 = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->baser0);
    g_autofree char *b1 = g_strdup_printf("%" G_GUINT64_FORMAT, f->baser1);
    const char *args[] = {"its", "inspect", "--memory", mem,    "--baser0", b0,  "--baser1",
                          b1,    "--vcpus", "4",        extra1, extra2,     NULL};

    return run_ctl(args);
}

static JsonObject *parse_object(JsonParser *parser, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
    g_assert_no_error(error);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    return json_node_get_object(json_parser_get_root(parser));
}

static void test_json_reproduces_mapping(Fixture *f, gconstpointer data)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    Run r = inspect(f, "--json", NULL);
    JsonObject *o, *pred;
    JsonArray *devs, *cols;

    g_assert_cmpint(r.status, ==, 0);
    o = parse_object(parser, r.out);
    g_assert_cmpint(json_object_get_int_member(o, "abi_revision"), ==, 0);
    devs = json_object_get_array_member(o, "devices");
    g_assert_cmpuint(json_array_get_length(devs), ==, f->mapping.n_devices);
    for (guint i = 0; i < json_array_get_length(devs); i++) {
        JsonObject *d = json_array_get_object_element(devs, i);
        const ItsmigItsDevice *md = &f->mapping.devices[i];
        JsonArray *evs = json_object_get_array_member(d, "events");

        g_assert_cmpint(json_object_get_int_member(d, "device_id"), ==, md->device_id);
        g_assert_cmpint(json_object_get_int_member(d, "itt_addr"), ==, (gint64)md->itt_addr);
        g_assert_cmpint(json_object_get_int_member(d, "event_id_bits"), ==, md->event_id_bits);
        g_assert_cmpuint(json_array_get_length(evs), ==, md->n_events);
        for (guint j = 0; j < json_array_get_length(evs); j++) {
            JsonObject *e = json_array_get_object_element(evs, j);
            const ItsmigItsEvent *me = &f->mapping.events[md->first_event + j];

            g_assert_cmpint(json_object_get_int_member(e, "event_id"), ==, me->event_id);
            g_assert_cmpint(json_object_get_int_member(e, "pintid"), ==, me->pintid);
            g_assert_cmpint(json_object_get_int_member(e, "icid"), ==, me->icid);
        }
    }
    cols = json_object_get_array_member(o, "collections");
    g_assert_cmpuint(json_array_get_length(cols), ==, f->mapping.n_collections);
    for (guint i = 0; i < json_array_get_length(cols); i++) {
        JsonObject *c = json_array_get_object_element(cols, i);
        const ItsmigItsCollection *mc = &f->mapping.collections[i];

        g_assert_cmpint(json_object_get_int_member(c, "icid"), ==, mc->icid);
        if (mc->target == ITSMIG_ITS_COLLECTION_UNMAPPED)
            g_assert_true(json_object_get_null_member(c, "target_vcpu"));
        else
            g_assert_cmpint(json_object_get_int_member(c, "target_vcpu"), ==, mc->target);
    }
    g_assert_nonnull(json_object_get_array_member(o, "findings"));
    pred = json_object_get_object_member(o, "restore_prediction");
    g_assert_true(json_object_get_boolean_member(pred, "ok"));
    g_assert_true(json_object_get_null_member(pred, "errno"));
    run_clear(&r);
}

static void test_human_output(Fixture *f, gconstpointer data)
{
    Run r = inspect(f, NULL, NULL);
    g_autofree char *dev = g_strdup_printf("device %-6u", f->mapping.devices[0].device_id);

    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "ITS table ABI revision 0"));
    g_assert_nonnull(strstr(r.out, dev));
    g_assert_nonnull(strstr(r.out, "RESTORE_TABLES succeeds"));
    g_assert_cmpstr(r.err, ==, "");
    run_clear(&r);
}

static void test_restore_fails(Fixture *f, gconstpointer data)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    Run r = inspect(f, "--json", NULL);
    JsonObject *o, *pred;

    g_assert_cmpint(r.status, ==, 3);
    o = parse_object(parser, r.out);
    pred = json_object_get_object_member(o, "restore_prediction");
    g_assert_false(json_object_get_boolean_member(pred, "ok"));
    g_assert_cmpstr(json_object_get_string_member(pred, "errno"), ==, "EINVAL");
    g_assert_cmpstr(json_object_get_string_member(pred, "cause"), ==, "ite-pintid-below-lpi-range");
    run_clear(&r);

    r = inspect(f, NULL, NULL);
    g_assert_cmpint(r.status, ==, 3);
    g_assert_nonnull(strstr(r.out, "fails with EINVAL (ite-pintid-below-lpi-range)"));
    run_clear(&r);
}

/* Guest memory in two files, one of them holding only the ITTs. */
static void test_split_memory(Fixture *f, gconstpointer data)
{
    g_autofree char *contents = NULL;
    g_autofree char *low = g_build_filename(f->dir, "low.bin", NULL);
    g_autofree char *high = g_build_filename(f->dir, "high.bin", NULL);
    g_autofree char *m1 = NULL, *m2 = NULL, *b0 = NULL, *b1 = NULL;
    gsize len;
    Run r;

    g_assert_true(g_file_get_contents(f->ram, &contents, &len, NULL));
    g_assert_true(g_file_set_contents(low, contents, ITT - RAM, NULL));
    g_assert_true(g_file_set_contents(high, contents + (ITT - RAM), len - (ITT - RAM), NULL));
    m1 = g_strdup_printf("%s@%llu", high, (unsigned long long)ITT);
    m2 = g_strdup_printf("%s@0x%llx", low, (unsigned long long)RAM);
    b0 = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->baser0);
    b1 = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->baser1);
    {
        const char *args[] = {"its",      "inspect", "-m",       m1, "-m", m2,
                              "--baser0", b0,        "--baser1", b1, NULL};

        r = run_ctl(args);
    }
    g_assert_cmpint(r.status, ==, 0);
    run_clear(&r);

    /* Without the ITT file the ITT reads fail as KVM's would: EFAULT. */
    {
        const char *args[] = {"its", "inspect",  "-m", m2,       "--baser0",
                              b0,    "--baser1", b1,   "--json", NULL};

        r = run_ctl(args);
    }
    g_assert_cmpint(r.status, ==, 3);
    g_assert_nonnull(strstr(r.out, "\"EFAULT\""));
    g_assert_nonnull(strstr(r.out, "itt-outside-memory"));
    run_clear(&r);
}

typedef struct {
    const char *name;
    const char *args[12];
    const char *stderr_has;
} BadArgs;

static const BadArgs bad_args[] = {
    {"no-subcommand", {"its", NULL}, "Usage"},
    {"unknown-subcommand", {"its", "frobnicate", NULL}, "unknown subcommand"},
    {"unknown-command", {"frobnicate", NULL}, "unknown command"},
    {"no-memory", {"its", "inspect", "--baser0", "0", "--baser1", "0", NULL}, "--memory"},
    {"no-baser", {"its", "inspect", "--memory", "@RAM@@0x40000000", NULL}, "--baser0 and --baser1"},
    {"baser-not-number",
     {"its", "inspect", "--memory", "@RAM@@0x40000000", "--baser0", "0xZZ", "--baser1", "0", NULL},
     "--baser0 '0xZZ' is not a number"},
    {"baser-negative",
     {"its", "inspect", "--memory", "@RAM@@0x40000000", "--baser0", "-1", "--baser1", "0", NULL},
     "not a number"},
    {"baser-overflow",
     {"its", "inspect", "--memory", "@RAM@@0x40000000", "--baser0", "0x10000000000000000",
      "--baser1", "0", NULL},
     "not a number"},
    {"memory-no-gpa",
     {"its", "inspect", "--memory", "@RAM@", "--baser0", "0", "--baser1", "0", NULL},
     "expected FILE@GPA"},
    {"memory-missing-file",
     {"its", "inspect", "--memory", "/nonexistent/ram@0", "--baser0", "0", "--baser1", "0", NULL},
     "/nonexistent/ram"},
    {"memory-overlap",
     {"its", "inspect", "--memory", "@RAM@@0x40000000", "--memory", "@RAM@@0x40001000", "--baser0",
      "0", "--baser1", "0", NULL},
     "overlap"},
    {"memory-empty-file",
     {"its", "inspect", "--memory", "@EMPTY@@0", "--baser0", "0", "--baser1", "0", NULL},
     "empty"},
    {"vcpus-negative",
     {"its", "inspect", "--memory", "@RAM@@0", "--baser0", "0", "--baser1", "0", "--vcpus", "-2",
      NULL},
     "out of range"},
    {"iidr-too-wide",
     {"its", "inspect", "--memory", "@RAM@@0", "--baser0", "0", "--baser1", "0", "--iidr",
      "0x100000000", NULL},
     "32-bit"},
    {"stray-argument",
     {"its", "inspect", "--memory", "@RAM@@0", "--baser0", "0", "--baser1", "0", "extra", NULL},
     "unexpected argument"},
    {"unknown-option", {"its", "inspect", "--frob", NULL}, "Unknown option"},
};

static void test_bad_args(Fixture *f, gconstpointer data)
{
    g_autofree char *empty = g_build_filename(f->dir, "empty.bin", NULL);

    g_assert_true(g_file_set_contents(empty, "", 0, NULL));
    for (size_t i = 0; i < G_N_ELEMENTS(bad_args); i++) {
        const BadArgs *b = &bad_args[i];
        g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
        Run r;

        for (const char *const *a = b->args; *a; a++) {
            GString *s = g_string_new(*a);

            g_string_replace(s, "@RAM@", f->ram, 0);
            g_string_replace(s, "@EMPTY@", empty, 0);
            g_ptr_array_add(args, g_string_free(s, FALSE));
        }
        g_ptr_array_add(args, NULL);
        r = run_ctl((const char *const *)args->pdata);
        if (r.status != 2 || !strstr(r.err, b->stderr_has))
            g_error("%s: status %d, stderr: %s", b->name, r.status, r.err);
        g_assert_cmpstr(r.out, ==, "");
        run_clear(&r);
    }
}

/* LPI configuration and pending tables in free memory above the ITTs. */
#define IMG_PROPBASER    ((RAM + 0x3c0000) | 15)
#define IMG_PENDBASER(n) (RAM + 0x380000 + 0x10000 * (n))

/* The fixture's memory as a migration stream: --image gives what --memory and
 * the registers give. */
static char *write_image(Fixture *f)
{
    g_autofree char *ram = NULL;
    g_autoptr(GByteArray) s = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    static const guint8 zero[QIB_PAGE_SIZE];
    char *path = g_build_filename(f->dir, "image.mig", NULL);
    QibParams p = {
        .ram_size = RAM_SIZE,
        .n_cpus = 4,
        .its = {.ctlr = 1, .iidr = itsmig_gits_iidr_make_kvm(0)},
        .propbaser = IMG_PROPBASER,
        .pendbaser = {IMG_PENDBASER(0), IMG_PENDBASER(1), IMG_PENDBASER(2), IMG_PENDBASER(3)}};
    gsize len;

    p.its.baser[0] = f->baser0;
    p.its.baser[1] = f->baser1;
    g_assert_true(g_file_get_contents(f->ram, &ram, &len, &error));
    g_assert_cmpuint(len, ==, RAM_SIZE);
    /* LPI 8200 pending on vCPU 1 */
    ram[IMG_PENDBASER(1) - RAM + 8200 / 8] |= 1 << (8200 % 8);
    qib_begin(s, &p);
    qib_part_begin(s);
    for (gsize off = 0; off < len; off += QIB_PAGE_SIZE) {
        if (memcmp(ram + off, zero, QIB_PAGE_SIZE) == 0)
            qib_zero_page(s, off, off == 0);
        else
            qib_page(s, off, off == 0, (const guint8 *)ram + off);
    }
    qib_part_end(s);
    qib_end(s, &p);
    g_assert_true(g_file_set_contents(path, (const char *)s->data, s->len, &error));
    return path;
}

static char *member_text(JsonObject *o, const char *name)
{
    g_autoptr(JsonGenerator) g = json_generator_new();

    json_generator_set_root(g, json_object_get_member(o, name));
    return json_generator_to_data(g, NULL);
}

/* Each event's and collection's file_offset in @o (--image's output) holds, in @image, the
 * table entry @ram holds at its address; the members are taken out, for the comparison with
 * --memory's output. */
static void check_file_offsets(JsonObject *o, const char *image, const char *ram, uint64_t baser1)
{
    g_autofree char *file = NULL, *mem = NULL;
    gsize file_len, mem_len;
    JsonArray *devs = json_object_get_array_member(o, "devices");
    JsonArray *cols = json_object_get_array_member(o, "collections");
    ItsmigGitsBaser coll;
    guint checked = 0;

    g_assert_true(g_file_get_contents(image, &file, &file_len, NULL));
    g_assert_true(g_file_get_contents(ram, &mem, &mem_len, NULL));
    for (guint i = 0; i < json_array_get_length(devs); i++) {
        JsonObject *d = json_array_get_object_element(devs, i);
        JsonArray *evs = json_object_get_array_member(d, "events");
        uint64_t itt = (uint64_t)json_object_get_int_member(d, "itt_addr");

        for (guint j = 0; j < json_array_get_length(evs); j++) {
            JsonObject *e = json_array_get_object_element(evs, j);
            uint64_t off = (uint64_t)json_object_get_int_member(e, "file_offset");
            uint64_t gpa = itt + 8 * (uint64_t)json_object_get_int_member(e, "event_id");

            g_assert_cmpuint(off + 8, <=, file_len);
            g_assert_cmpint(memcmp(file + off, mem + (gpa - RAM), 8), ==, 0);
            json_object_remove_member(e, "file_offset");
            checked++;
        }
    }
    itsmig_gits_baser_decode(baser1, &coll);
    for (guint i = 0; i < json_array_get_length(cols); i++) {
        JsonObject *c = json_array_get_object_element(cols, i);
        uint64_t off = (uint64_t)json_object_get_int_member(c, "file_offset");

        g_assert_cmpuint(off + 8, <=, file_len);
        g_assert_cmpint(memcmp(file + off, mem + (coll.addr + 8 * i - RAM), 8), ==, 0);
        json_object_remove_member(c, "file_offset");
        checked++;
    }
    g_assert_cmpuint(checked, >, 0);
}

static void test_image(Fixture *f, gconstpointer data)
{
    g_autofree char *image = write_image(f);
    g_autofree char *probe = g_build_filename(g_getenv("top_srcdir") ? g_getenv("top_srcdir") : ".",
                                              "tests/data/probe/bookworm.json", NULL);
    g_autoptr(JsonParser) p1 = json_parser_new();
    g_autoptr(JsonParser) p2 = json_parser_new();
    const char *args[] = {"its", "inspect", "--image", image, "--semantics", probe, "--json", NULL};
    g_autofree char *m = g_strdup_printf("%s@0x%llx", f->ram, (unsigned long long)RAM);
    g_autofree char *b0 = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->baser0);
    g_autofree char *b1 = g_strdup_printf("0x%" G_GINT64_MODIFIER "x", f->baser1);
    g_autofree char *pb = g_strdup_printf("0x%llx", (unsigned long long)IMG_PROPBASER);
    char *pe[4];
    const char *margs[] = {"its",         "inspect", "--memory",    m,    "--baser0",    b0,
                           "--baser1",    b1,        "--vcpus",     "4",  "--propbaser", pb,
                           "--pendbaser", NULL,      "--pendbaser", NULL, "--pendbaser", NULL,
                           "--pendbaser", NULL,      "--json",      NULL};
    Run mem, img;

    for (int i = 0; i < 4; i++) {
        pe[i] = g_strdup_printf("0x%llx", (unsigned long long)IMG_PENDBASER(i));
        margs[13 + 2 * i] = pe[i];
    }
    mem = run_ctl(margs);
    img = run_ctl(args);
    JsonObject *a, *b, *kp;
    const char *members[] = {"devices", "collections", "restore_prediction", "abi_revision"};

    g_assert_cmpint(img.status, ==, mem.status);
    g_assert_cmpint(img.status, ==, data ? 3 : 0);
    a = parse_object(p1, mem.out);
    b = parse_object(p2, img.out);
    check_file_offsets(b, image, f->ram, f->baser1);
    for (gsize i = 0; i < G_N_ELEMENTS(members); i++) {
        g_autofree char *x = member_text(a, members[i]);
        g_autofree char *y = member_text(b, members[i]);

        g_assert_cmpstr(x, ==, y);
    }
    kp = json_object_get_object_member(b, "kernel_prediction");
    g_assert_cmpstr(json_object_get_string_member(kp, "kernel_release"), ==, "6.1.0-57-arm64");
    if (!data) {
        JsonObject *save = json_object_get_object_member(kp, "save_after_restore");

        g_assert_true(json_object_get_boolean_member(save, "same_mapping"));
    }
    {
        JsonArray *pend = json_object_get_array_member(b, "pending");
        JsonArray *lpis;

        g_assert_cmpuint(json_array_get_length(pend), ==, 4);
        lpis = json_object_get_array_member(json_array_get_object_element(pend, 1), "lpis");
        g_assert_cmpuint(json_array_get_length(lpis), ==, 1);
        g_assert_cmpint(json_array_get_int_element(lpis, 0), ==, 8200);
        lpis = json_object_get_array_member(json_array_get_object_element(pend, 0), "lpis");
        g_assert_cmpuint(json_array_get_length(lpis), ==, 0);
    }
    g_assert_cmpstr(
        json_object_get_string_member(json_object_get_object_member(b, "image"), "format"), ==,
        "migration-stream");
    for (int i = 0; i < 4; i++)
        g_free(pe[i]);
    run_clear(&mem);
    run_clear(&img);
}

static void test_image_bad_args(Fixture *f, gconstpointer data)
{
    g_autofree char *image = write_image(f);
    g_autofree char *bad = g_build_filename(f->dir, "bad.json", NULL);
    g_autofree char *mistyped = g_build_filename(f->dir, "mistyped.json", NULL);
    g_autofree char *mem = g_strdup_printf("%s@0x40000000", f->ram);
    const char *conflict[] = {"its", "inspect", "--image", image, "--memory", mem, NULL};
    const char *semantics[] = {"its", "inspect", "--image", image, "--semantics", bad, NULL};
    const char *typed[] = {"its", "inspect", "--image", image, "--semantics", mistyped, NULL};
    const char *block[] = {"its", "inspect", "--image", image, "--ram-block", "nope@0", NULL};
    const char *notimage[] = {"its", "inspect", "--image", f->ram, NULL};
    const char *alone[] = {"its",      "inspect", "--semantics", bad, "--memory", mem,
                           "--baser0", "0",       "--baser1",    "0", NULL};
    const struct {
        const char *const *args;
        const char *needle;
    } cases[] = {
        {conflict, "--memory and --image exclude each other"},
        {semantics, "not a probe document"},
        /* A member of another type is refused, not read as a NULL string. */
        {typed, "outcome is neither"},
        {block, "no RAM block 'nope'"},
        {notimage, "zero bytes at the end of the file"},
        {alone, "need --image"},
    };

    g_assert_true(g_file_set_contents(bad, "{\"available\": true}", -1, NULL));
    g_assert_true(g_file_set_contents(
        mistyped,
        "{\"available\": true, \"its_abi_revisions\": [0], \"semantics\": {\"measured\": true, "
        "\"save_unreachable_device\": {\"outcome\": 1}, \"baser_write\": {\"keeps_mappings\": "
        "true}}}",
        -1, NULL));
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        Run r = run_ctl(cases[i].args);

        g_assert_cmpint(r.status, ==, 2);
        if (!strstr(r.err, cases[i].needle))
            g_error("expected \"%s\" in: %s", cases[i].needle, r.err);
        run_clear(&r);
    }
}

static void test_help_version(void)
{
    const char *help[] = {"--help", NULL};
    const char *version[] = {"--version", NULL};
    const char *inspect_help[] = {"its", "inspect", "--help", NULL};
    const char *none[] = {NULL};
    Run r;

    r = run_ctl(help);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "its "));
    run_clear(&r);
    r = run_ctl(version);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpstr(r.out, ==, "itsmigctl " PACKAGE_VERSION "\n");
    run_clear(&r);
    r = run_ctl(inspect_help);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "--baser0"));
    g_assert_nonnull(strstr(r.out, "Exit status"));
    run_clear(&r);
    r = run_ctl(none);
    g_assert_cmpint(r.status, ==, 2);
    run_clear(&r);
}

/* This machine is not arm64: the probe says so, in both forms, and fails. */
static void test_host_probe(void)
{
    const char *human[] = {"host", "probe", NULL};
    const char *json[] = {"host", "probe", "--json", NULL};
    const char *bad[] = {"host", "probe", "--frob", NULL};
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o, *regs;
    Run r;

#if defined(__aarch64__)
    g_test_skip("on arm64 the probe may succeed; the real-kernel bed covers it");
    return;
#endif
    r = run_ctl(human);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_nonnull(strstr(r.out, "not possible on this host"));
    run_clear(&r);
    r = run_ctl(json);
    g_assert_cmpint(r.status, ==, 1);
    o = parse_object(parser, r.out);
    g_assert_false(json_object_get_boolean_member(o, "available"));
    g_assert_nonnull(strstr(json_object_get_string_member(o, "unavailable_reason"), "arm64"));
    g_assert_true(json_object_get_null_member(o, "its_abi_revisions"));
    /* The register set says the same, with the same reason. */
    regs = json_object_get_object_member(o, "vcpu_registers");
    g_assert_nonnull(regs);
    g_assert_false(json_object_get_boolean_member(regs, "available"));
    g_assert_nonnull(strstr(json_object_get_string_member(regs, "unavailable_reason"), "arm64"));
    g_assert_true(json_object_get_null_member(regs, "registers"));
    run_clear(&r);
    r = run_ctl(bad);
    g_assert_cmpint(r.status, ==, 2);
    g_assert_cmpstr(r.out, ==, "");
    run_clear(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add("/itsmigctl/its-inspect/json-reproduces-mapping", Fixture, NULL, fixture_setup,
               test_json_reproduces_mapping, fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/human-output", Fixture, NULL, fixture_setup,
               test_human_output, fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/restore-fails-exit-3", Fixture, "bad", fixture_setup,
               test_restore_fails, fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/split-memory", Fixture, NULL, fixture_setup,
               test_split_memory, fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/bad-arguments", Fixture, NULL, fixture_setup, test_bad_args,
               fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/image-same-as-memory", Fixture, NULL, fixture_setup,
               test_image, fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/image-restore-fails-exit-3", Fixture, "bad", fixture_setup,
               test_image, fixture_teardown);
    g_test_add("/itsmigctl/its-inspect/image-bad-arguments", Fixture, NULL, fixture_setup,
               test_image_bad_args, fixture_teardown);
    g_test_add_func("/itsmigctl/help-and-version", test_help_version);
    g_test_add_func("/itsmigctl/host-probe/unavailable-here", test_host_probe);

    return g_test_run();
}
