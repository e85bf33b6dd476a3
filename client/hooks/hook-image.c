/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The restore gate reads the saved image itself: libvirtd holds it open
 * while it runs "restore begin" (a regular file after `virsh restore` or
 * the managed save's NAME.save on a start; with --bypass-cache only pipes,
 * which are not read, since reading them would steal QEMU's stream).
 *
 * The image comes from whoever could write to the save directory, and may
 * sit on storage that stalls: it is read in a child process with a memory
 * and a time limit, which writes its verdict to a pipe.  The parent never
 * waits for the child once the time is up: a read stuck in the kernel may
 * not end even on SIGKILL.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook-image.h"
#include "itsmig/diag.h"
#include "itsmig/domain-profile.h"
#include "itsmig/kvm-its.h"
#include "itsmig/qemu-image.h"

#define SAVE_MAGIC     "LibvirtQemudSave"
#define SAVE_MAGIC_LEN 16
#define MESSAGE_MAX    4096

/* Opens /proc/PID/fd/NAME when it is a regular file that starts with
 * libvirt's save magic, else -1. */
static int open_save_image(const char *fd_path)
{
    char magic[SAVE_MAGIC_LEN];
    struct stat st;
    int fd;

    /* stat first, and without blocking: opening a FIFO for reading would block, and libvirtd
     * may reuse the descriptor's number for one between the stat and the open, which the
     * fstat of what was opened catches. */
    if (stat(fd_path, &st) < 0 || !S_ISREG(st.st_mode))
        return -1;
    fd = open(fd_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
        pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
        memcmp(magic, SAVE_MAGIC, SAVE_MAGIC_LEN) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The image at @fd when its domain XML has @uuid, else NULL; *ret_error
 * says why an image could not be read at all.  The UUID is taken from the
 * header first: another domain's image is never read further (nor
 * decompressed). */
static ItsmigQemuImage *image_of(int fd, const char *name, const char *uuid, char **ret_error)
{
    const ItsmigQemuImageOptions opts = {.tmp_dir = HOOK_IMAGE_TMP_DIR,
                                         .decompressed_max = HOOK_IMAGE_DECOMPRESSED_MAX};
    g_autoptr(ItsmigQemuImage) img = NULL;
    g_autoptr(ItsmigDomainProfile) p = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = itsmig_qemu_image_peek_domain_xml(fd, name, &error);

    if (xml) {
        p = itsmig_domain_profile_parse(xml, -1, NULL);
        if (!p || !p->uuid || g_ascii_strcasecmp(p->uuid, uuid) != 0)
            return NULL;
        img = itsmig_qemu_image_open_full(fd, name, &opts, &error);
    }
    if (!img) {
        g_free(*ret_error);
        *ret_error = g_strdup(error->message);
    }
    return g_steal_pointer(&img);
}

/* The restoring domain's image among the files libvirtd (@ppid) holds. */
static ItsmigQemuImage *find_image(pid_t ppid, const char *uuid, char **ret_path, char **ret_error)
{
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/fd", (int)ppid);
    DIR *dir = opendir(dir_path);
    struct dirent *e;
    ItsmigQemuImage *img = NULL;

    if (!dir) {
        *ret_error = g_strdup_printf("cannot list %s: %s", dir_path, g_strerror(errno));
        return NULL;
    }
    while (!img && (e = readdir(dir))) {
        g_autofree char *fd_path = NULL;
        int fd;

        if (e->d_name[0] == '.')
            continue;
        fd_path = g_strdup_printf("%s/%s", dir_path, e->d_name);
        fd = open_save_image(fd_path);
        if (fd < 0)
            continue;
        *ret_path = g_file_read_link(fd_path, NULL);
        if (!*ret_path)
            *ret_path = g_strdup(fd_path);
        img = image_of(fd, *ret_path, uuid, ret_error);
        /* The image reads its pages through @fd: it stays open until the
         * child exits. */
        if (!img) {
            close(fd);
            g_clear_pointer(ret_path, g_free);
        }
    }
    closedir(dir);
    return img;
}

/* The walk's error finding: "code: message". */
static char *cause_text(const ItsmigItsReport *r)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const ItsmigItsFinding *f = &r->findings[i];

        if (f->severity == ITSMIG_SEVERITY_ERROR && f->errnum == r->restore_errno &&
            (!r->restore_cause || strcmp(f->code, r->restore_cause) == 0))
            return g_strdup_printf("%s: %s", f->code, f->message);
    }
    return g_strdup(r->restore_cause ? r->restore_cause : "no finding named");
}

/* This host's kernel and the image's ITS ABI revision; TRUE when it takes
 * it or cannot be asked (then the walker's own revisions decide). */
static gboolean host_takes_revision(unsigned rev, char **ret_message)
{
    ItsmigKvmItsCaps caps;
    ItsmigDiag diag;

    if (itsmig_kvm_its_probe(&caps, &diag) < 0 || !caps.available)
        return TRUE;
    if (caps.abi_revisions & (1u << rev))
        return TRUE;
    *ret_message = g_strdup_printf(
        "abi-revision-unsupported: this host's kernel %s does not take ITS ABI revision %u",
        caps.kernel_release, rev);
    return FALSE;
}

/* What this host's KVM does with @img's ITS tables. */
static HookImageVerdict judge_image(ItsmigQemuImage *img, const char *path, char **ret_message)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *cause = NULL;
    ItsmigItsWalkInput in;
    ItsmigGuestMem mem;
    ItsmigItsReport rep;
    ItsmigDiag diag;
    HookImageVerdict v = HOOK_IMAGE_PASSES;

    if (!itsmig_qemu_image_get_its(img)) {
        *ret_message = g_strdup_printf("%s has no in-kernel ITS (arm_gicv3_its)", path);
        return HOOK_IMAGE_SKIPPED;
    }
    if (!itsmig_qemu_image_map_default(img, &error)) {
        *ret_message = g_strdup_printf("%s: %s", path, error->message);
        return HOOK_IMAGE_UNREAD;
    }
    itsmig_qemu_image_walk_input(img, 0, &in, &mem);
    if (itsmig_guest_mem_check(&mem, &diag) < 0 || itsmig_its_walk(&in, &mem, &rep, &diag) < 0) {
        *ret_message = g_strdup_printf("%s: %s", path, diag.text);
        return HOOK_IMAGE_UNREAD;
    }
    if (rep.restore_errno) {
        cause = cause_text(&rep);
        *ret_message = g_strdup_printf(
            "the ITS tables of %s would make KVM_DEV_ARM_ITS_RESTORE_TABLES fail with %s: %s", path,
            itsmig_errno_name(rep.restore_errno) ? itsmig_errno_name(rep.restore_errno)
                                                 : "an error",
            cause);
        v = HOOK_IMAGE_REFUSED;
    } else if (!host_takes_revision(rep.abi_revision, &cause)) {
        *ret_message = g_strdup_printf("%s: %s", path, cause);
        v = HOOK_IMAGE_REFUSED;
    } else {
        *ret_message = g_strdup_printf("%s: %zu device(s), %zu collection(s) restore here", path,
                                       rep.mapping.n_devices, rep.mapping.n_collections);
    }
    itsmig_its_report_clear(&rep);
    return v;
}

/* The child: finds, reads and judges, and writes "V message" to @out. */
static G_GNUC_NORETURN void child_run(int out, pid_t ppid, const char *uuid, unsigned timeout_s)
{
    struct rlimit as = {HOOK_IMAGE_AS_MAX, HOOK_IMAGE_AS_MAX};
    g_autoptr(ItsmigQemuImage) img = NULL;
    g_autofree char *path = NULL;
    g_autofree char *message = NULL;
    g_autofree char *line = NULL;
    HookImageVerdict v = HOOK_IMAGE_UNREAD;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    /* libvirtd reads the hook's output to its end: a child stuck in a read
     * must not hold it open. */
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    setrlimit(RLIMIT_AS, &as);
    alarm(timeout_s + 1);
    img = find_image(ppid, uuid, &path, &message);
    if (img) {
        g_clear_pointer(&message, g_free);
        v = judge_image(img, path, &message);
    } else if (!message) {
        message = g_strdup_printf("no save image of UUID %s is open in libvirtd (pid %d)", uuid,
                                  (int)ppid);
    }
    line = g_strdup_printf("%d %s", (int)v, message);
    if (write(out, line, strlen(line)) < 0)
        _exit(1);
    _exit(0);
}

/* Reads the child's verdict until @deadline (monotonic µs); -1 on timeout. */
static int read_verdict(int in, gint64 deadline, GString *ret)
{
    char buf[512];

    for (;;) {
        struct pollfd pfd = {in, POLLIN, 0};
        gint64 left = deadline - g_get_monotonic_time();
        ssize_t n;
        int r;

        if (left <= 0)
            return -1;
        r = poll(&pfd, 1, (int)MIN(left / 1000 + 1, G_MAXINT));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (ret->len + (gsize)n <= MESSAGE_MAX)
            g_string_append_len(ret, buf, n);
    }
}

/* "V message" as the child wrote it. */
static HookImageVerdict parse_verdict(const GString *s, int wait_status, char **ret_message)
{
    char *end = NULL;
    long v = s->len ? strtol(s->str, &end, 10) : -1;

    if (s->len && end && *end == ' ' && v >= 0 && v < HOOK_IMAGE_LAST) {
        *ret_message = g_strdup(end + 1);
        return (HookImageVerdict)v;
    }
    if (WIFSIGNALED(wait_status))
        *ret_message = g_strdup_printf("the image reader was killed by signal %d (limits: %lu MiB "
                                       "of address space, [hook] timeout)",
                                       WTERMSIG(wait_status), HOOK_IMAGE_AS_MAX >> 20);
    else
        *ret_message = g_strdup("the image reader ended without a verdict (out of memory?)");
    return HOOK_IMAGE_UNREAD;
}

HookImageVerdict hook_image_judge(const char *uuid, unsigned timeout_s, char **ret_message)
{
    g_autoptr(GString) s = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
    pid_t ppid = getppid();
    int fds[2];
    int wait_status = 0;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        *ret_message = g_strdup_printf("cannot make a pipe: %s", g_strerror(errno));
        return HOOK_IMAGE_UNREAD;
    }
    pid = fork();
    if (pid < 0) {
        *ret_message = g_strdup_printf("cannot fork the image reader: %s", g_strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return HOOK_IMAGE_UNREAD;
    }
    if (pid == 0) {
        close(fds[0]);
        child_run(fds[1], ppid, uuid, timeout_s);
    }
    close(fds[1]);
    if (read_verdict(fds[0], deadline, s) < 0) {
        close(fds[0]);
        /* Not waited for: a read stuck in the kernel may outlive SIGKILL. */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, WNOHANG);
        *ret_message =
            g_strdup_printf("the save image was not read within %u s ([hook] timeout)", timeout_s);
        return HOOK_IMAGE_UNREAD;
    }
    close(fds[0]);
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR)
        ;
    return parse_verdict(s, wait_status, ret_message);
}
