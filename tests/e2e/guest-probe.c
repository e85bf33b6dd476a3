/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The two-host bed's liveness probe, run by the guest's init (static,
 * aarch64).  It makes MSIs happen and says so on the console:
 *
 *   every 10 ms:   "tick SEQ"          after reading a few bytes from
 *                                      /dev/hwrng (virtio-rng: one request,
 *                                      one interrupt)
 *   every second:  "irq NAME COUNT"    that device's ITS interrupt count,
 *                                      summed over CPUs, from /proc/interrupts
 *                  "pci ADDR..."       the PCI functions the guest has now
 *
 * The host side stamps each console line as it arrives, so the gap between
 * two ticks is what the outside world sees of a pause; the guest's own clock
 * stops with its vCPUs under TCG and could not tell.  The count rising on a
 * destination proves interrupts are delivered there, through its ITS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS  10000000L
#define IRQ_EACH 100

/* "virtioN" of the device the virtio-rng driver is bound to. */
static int rng_virtio_name(char *name, size_t size)
{
    DIR *dir = opendir("/sys/bus/virtio/drivers/virtio_rng");
    struct dirent *e;
    int found = -1;

    if (!dir)
        return -1;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, "virtio", 6) == 0 && e->d_name[6] >= '0' && e->d_name[6] <= '9' &&
            strlen(e->d_name) < size) {
            memcpy(name, e->d_name, strlen(e->d_name) + 1);
            found = 0;
            break;
        }
    }
    closedir(dir);
    return found;
}

/* Whether a /proc/interrupts line is of an interrupt the ITS delivers: its
 * chip is "ITS-MSI" (6.1), or "ITS-PCI-MSIX-0000:00:02.0" and the like since
 * the ITS gives each PCI device its own MSI domain (6.12, 7.x). */
static int its_line(const char *line)
{
    return strstr(line, " ITS-MSI ") || strstr(line, " ITS-PCI-MSI");
}

/* The sum over CPUs of the ITS lines of @dev other than its config vector
 * ("virtio1-input" or "virtio1-virtqueues"); -1 when none. */
static long irq_count(const char *dev)
{
    FILE *f = fopen("/proc/interrupts", "r");
    char line[1024];
    char prefix[64];
    long total = -1;

    if (!f)
        return -1;
    snprintf(prefix, sizeof(prefix), " %s-", dev);
    while (fgets(line, sizeof(line), f)) {
        char *p, *name;
        long sum = 0;

        if (!its_line(line) || !(name = strstr(line, prefix)) ||
            strncmp(name + strlen(prefix), "config", 6) == 0)
            continue;
        p = strchr(line, ':');
        if (!p)
            continue;
        p++;
        for (;;) {
            char *end;
            long v = strtol(p, &end, 10);

            if (end == p)
                break;
            sum += v;
            p = end;
        }
        total = (total < 0 ? 0 : total) + sum;
    }
    fclose(f);
    return total;
}

static void print_pci(void)
{
    DIR *dir = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    char line[1024] = "pci";
    size_t len = 3;

    if (!dir)
        return;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);

        if (e->d_name[0] == '.' || len + 1 + n + 1 > sizeof(line))
            continue;
        line[len++] = ' ';
        memcpy(line + len, e->d_name, n + 1);
        len += n;
    }
    closedir(dir);
    printf("%s\n", line);
}

int main(void)
{
    char dev[32] = "";
    struct timespec next;
    unsigned long seq = 0;
    unsigned char buf[16];
    int rng;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rng = open("/dev/hwrng", O_RDONLY);
    if (rng < 0)
        printf("probe: cannot open /dev/hwrng: %s\n", strerror(errno));
    if (rng_virtio_name(dev, sizeof(dev)) < 0)
        printf("probe: no device bound to virtio_rng\n");
    else
        printf("probe: virtio-rng is %s\n", dev);

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        if (rng >= 0 && read(rng, buf, sizeof(buf)) < 0 && errno != EINTR)
            printf("probe: read /dev/hwrng: %s\n", strerror(errno));
        printf("tick %lu\n", seq);
        if (seq % IRQ_EACH == 0) {
            if (dev[0])
                printf("irq %s %ld\n", dev, irq_count(dev));
            print_pci();
        }
        seq++;
        next.tv_nsec += TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }
}
