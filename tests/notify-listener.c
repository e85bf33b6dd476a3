/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stands in for systemd's notification socket in the daemon tests: binds an
 * AF_UNIX datagram socket at PATH and prints every assignment it receives
 * ("READY=1", "STATUS=...") on a line of its own, flushed at once so a shell
 * can watch the output file while the daemon runs.
 *
 *   notify-listener [-t] PATH
 *
 * -t prefixes each line with the CLOCK_MONOTONIC time of arrival in seconds
 * ("12.345 WATCHDOG=1"), which lets a test measure the watchdog period.
 * SIGTERM or SIGINT ends it with status 0 and removes the socket.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* sd_notify messages are small; anything longer is cut and flagged. */
#define MAX_DATAGRAM 65536
#define MAX_FDS      64

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    stop_requested = 1;
}

static void close_passed_fds(struct msghdr *msg)
{
    /* Someone may send FDSTORE=1 with descriptors; do not keep them open. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[MAX_FDS];
        if (n > MAX_FDS)
            n = MAX_FDS;
        memcpy(fds, CMSG_DATA(c), n * sizeof(int));
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
    }
}

static void print_datagram(const char *buf, size_t len, int stamp, int truncated)
{
    char when[32] = "";

    if (stamp) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(when, sizeof(when), "%lld.%03ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
    }

    /* One datagram may carry several newline-separated assignments. */
    size_t start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && buf[end] != '\n')
            end++;
        if (end > start) {
            printf("%s", when);
            for (size_t i = start; i < end; i++) {
                unsigned char ch = (unsigned char)buf[i];
                /* Keep one assignment per line whatever the sender put in it. */
                if (ch < 0x20 || ch == 0x7f)
                    printf("\\x%02x", ch);
                else
                    putchar(ch);
            }
            putchar('\n');
        }
        start = end + 1;
    }
    if (truncated)
        printf("%s(datagram truncated)\n", when);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int stamp = 0;
    const char *path;

    if (argc == 3 && strcmp(argv[1], "-t") == 0) {
        stamp = 1;
        path = argv[2];
    } else if (argc == 2 && argv[1][0] != '-') {
        path = argv[1];
    } else {
        fprintf(stderr, "usage: %s [-t] SOCKET-PATH\n", argv[0]);
        return 2;
    }

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "%s: socket path too long: %s\n", argv[0], path);
        return 2;
    }
    strcpy(addr.sun_path, path);

    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the signal has to interrupt the blocking recvmsg(). */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", argv[0], strerror(errno));
        return 1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "%s: bind %s: %s\n", argv[0], path, strerror(errno));
        close(fd);
        return 1;
    }

    static char buf[MAX_DATAGRAM];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MAX_FDS) +
                   CMSG_SPACE(3 * sizeof(int)) /* struct ucred */];
    } control;
    int status = 0;

    while (!stop_requested) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = control.space,
            .msg_controllen = sizeof(control.space),
        };
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: recvmsg: %s\n", argv[0], strerror(errno));
            status = 1;
            break;
        }
        close_passed_fds(&msg);
        print_datagram(buf, (size_t)n, stamp, (msg.msg_flags & MSG_TRUNC) != 0);
    }

    close(fd);
    unlink(path);
    return status;
}
