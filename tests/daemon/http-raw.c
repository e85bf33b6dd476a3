/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A raw client for the daemon tests: sends bytes that curl will not send (a
 * partial request line, bytes one at a time with pauses, raw invalid UTF-8)
 * to an AF_UNIX stream socket and tells when and how the server ended the
 * connection.
 *
 *   http-raw [-d DELAY_MS] [-t TIMEOUT_S] SOCKET REQUEST
 *
 * REQUEST takes the escapes \r \n \t \\ and \xHH.  With -d the bytes go one
 * at a time, DELAY_MS apart; otherwise all at once.  Whatever the server
 * sends is copied to stdout.  The last line on stderr says what happened:
 *
 *   http-raw: closed after 2.004 s, sent 3 of 25 bytes, received 0 bytes
 *   http-raw: still open after 30.000 s, sent 25 of 25 bytes, received 0 bytes
 *
 * Exit status: 0 the server closed the connection, 3 it was still open after
 * TIMEOUT_S (default 30), 4 connect() failed, 1 another error, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escapes in place; returns the length or -1 on a bad escape. */
static long unescape(char *s)
{
    char *out = s;
    for (const char *in = s; *in; in++) {
        if (*in != '\\') {
            *out++ = *in;
            continue;
        }
        in++;
        switch (*in) {
        case 'r': *out++ = '\r'; break;
        case 'n': *out++ = '\n'; break;
        case 't': *out++ = '\t'; break;
        case '\\': *out++ = '\\'; break;
        case 'x': {
            int hi = hex_digit(in[1]);
            int lo = hi < 0 ? -1 : hex_digit(in[2]);
            if (lo < 0)
                return -1;
            *out++ = (char)(hi * 16 + lo);
            in += 2;
            break;
        }
        default: return -1;
        }
    }
    return out - s;
}

static int parse_number(const char *s, long max, long *ret_value)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -1;
    *ret_value = v;
    return 0;
}

typedef struct {
    int fd;
    size_t received;
    int closed; /* the server closed or reset the connection */
} Conn;

/* Waits up to timeout_ms for the server, copying what it sends to stdout.
 * Returns -1 on an unexpected error. */
static int drain(Conn *c, int timeout_ms)
{
    double until = now_s() + timeout_ms / 1000.0;
    while (!c->closed) {
        int left = (int)((until - now_s()) * 1000.0);
        if (left < 0)
            left = 0;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = poll(&p, 1, left);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return 0;
        char buf[4096];
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            fflush(stdout);
            c->received += (size_t)n;
        } else if (n == 0 || errno == ECONNRESET || errno == EPIPE) {
            c->closed = 1;
        } else if (errno != EINTR && errno != EAGAIN) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    long delay_ms = 0, timeout_s = 30;
    int opt;

    while ((opt = getopt(argc, argv, "d:t:")) != -1) {
        switch (opt) {
        case 'd':
            if (parse_number(optarg, 3600000, &delay_ms) < 0)
                goto usage;
            break;
        case 't':
            if (parse_number(optarg, 3600, &timeout_s) < 0)
                goto usage;
            break;
        default: goto usage;
        }
    }
    if (argc - optind != 2)
        goto usage;

    const char *path = argv[optind];
    char *request = argv[optind + 1];
    long len = unescape(request);
    if (len < 0) {
        fprintf(stderr, "http-raw: bad escape in the request\n");
        return 2;
    }

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "http-raw: socket path too long\n");
        return 2;
    }
    strcpy(addr.sun_path, path);
    signal(SIGPIPE, SIG_IGN);

    double start = now_s();
    Conn c = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (c.fd < 0) {
        fprintf(stderr, "http-raw: socket: %s\n", strerror(errno));
        return 1;
    }
    if (connect(c.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "http-raw: connect %s: %s\n", path, strerror(errno));
        return 4;
    }

    size_t sent = 0;
    double deadline = start + (double)timeout_s;
    while (sent < (size_t)len && !c.closed && now_s() < deadline) {
        size_t chunk = delay_ms ? 1 : (size_t)len - sent;
        ssize_t n = write(c.fd, request + sent, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET) {
                c.closed = 1;
                break;
            }
            fprintf(stderr, "http-raw: write: %s\n", strerror(errno));
            return 1;
        }
        sent += (size_t)n;
        if (delay_ms && sent < (size_t)len) {
            double left = deadline - now_s();
            long wait_ms = delay_ms;
            if (left * 1000.0 < (double)wait_ms)
                wait_ms = left > 0 ? (long)(left * 1000.0) : 0;
            if (drain(&c, (int)wait_ms) < 0) {
                fprintf(stderr, "http-raw: read: %s\n", strerror(errno));
                return 1;
            }
        }
    }
    double left = deadline - now_s();
    if (!c.closed && left > 0 && drain(&c, (int)(left * 1000.0)) < 0) {
        fprintf(stderr, "http-raw: read: %s\n", strerror(errno));
        return 1;
    }

    fprintf(stderr, "http-raw: %s after %.3f s, sent %zu of %ld bytes, received %zu bytes\n",
            c.closed ? "closed" : "still open", now_s() - start, sent, len, c.received);
    close(c.fd);
    return c.closed ? 0 : 3;

usage:
    fprintf(stderr, "usage: http-raw [-d DELAY_MS] [-t TIMEOUT_S] SOCKET REQUEST\n");
    return 2;
}
