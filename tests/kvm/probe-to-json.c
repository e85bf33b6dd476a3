/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * probe-to-json FILE: turns the probe results the real-kernel bed's guest
 * printed (ITSMIG-PROBE lines, itsmig/kvm-probe-text.h; FILE may be the
 * whole console log, "-" for stdin) into the JSON `itsmigctl host probe
 * --json` prints on that kernel, and checks that the register set in it
 * reads back through the strict reader peers' documents go through.
 * Exit status: 0 done; 1 no well-formed probe block, or the JSON refused;
 * 2 bad arguments.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "itsmig/kvm-probe-text.h"
#include "itsmig/kvm-regs-json.h"

int main(int argc, char **argv)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *out = NULL;
    ItsmigKvmItsCaps caps;
    ItsmigKvmRegSet regs, back;
    ItsmigDiag diag = {0};
    gsize len;

    if (argc != 2) {
        fprintf(stderr, "usage: probe-to-json FILE|-\n");
        return 2;
    }
    if (g_strcmp0(argv[1], "-") == 0) {
        GString *s = g_string_new(NULL);
        char buf[4096];
        size_t n;

        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
            g_string_append_len(s, buf, (gssize)n);
        text = g_string_free(s, FALSE);
    } else if (!g_file_get_contents(argv[1], &text, &len, &error)) {
        fprintf(stderr, "probe-to-json: %s\n", error->message);
        return 1;
    }
    if (itsmig_kvm_probe_text_read(text, &caps, &regs, &diag) < 0) {
        fprintf(stderr, "probe-to-json: %s: %s\n", argv[1], diag.text);
        itsmig_kvm_regs_clear(&regs);
        return 1;
    }
    node = itsmig_kvm_probe_to_json(&caps, &regs);
    itsmig_kvm_regs_clear(&regs);
    if (!itsmig_kvm_regs_from_json(
            json_object_get_member(json_node_get_object(node), "vcpu_registers"), argv[1], &back,
            &error)) {
        fprintf(stderr, "probe-to-json: %s\n", error->message);
        return 1;
    }
    itsmig_kvm_regs_clear(&back);

    /* As itsmigctl prints it. */
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, node);
    out = json_generator_to_data(gen, NULL);
    printf("%s\n", out);
    return 0;
}
