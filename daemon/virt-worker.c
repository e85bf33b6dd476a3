/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The worker: one thread, owned by ItsmigdVirt, that makes every libvirt call
 * the domain events and the resynchronisation need, one item after the other
 * in the order the main loop queued them.  The main loop never waits for
 * libvirt on their account (a libvirtd that hangs stalls the worker only),
 * and the events of a burst are still applied in order.
 *
 * The items run as idle sources of the worker's own main context: sources of
 * one priority are dispatched in the order they were attached, and the record
 * writes' completions and retry timer (domain-sync.c) run there too.
 */
#include "config.h"

#include "daemon/virt-private.h"

/* How long a stop waits for the worker to leave a libvirt call (a libvirtd
 * that stopped answering holds it until keepalive gives up). */
#define STOP_WAIT_US (5 * G_USEC_PER_SEC)

typedef struct {
    ItsmigdVirt *virt;
    ItsmigdVirtWorkFunc func;
    gpointer item;
    GDestroyNotify free_item;
    gint generation; /* of the connection it was queued on */
} Work;

static void work_free(gpointer data)
{
    Work *w = data;

    if (w->free_item)
        w->free_item(w->item);
    g_free(w);
}

static gboolean stopping(ItsmigdVirt *virt)
{
    gboolean stop;

    g_mutex_lock(&virt->lock);
    stop = virt->stopping;
    g_mutex_unlock(&virt->lock);
    return stop;
}

static gboolean run_work(gpointer data)
{
    Work *w = data;

    /* Queued on a connection that closed since: what it would read is
     * what the next resynchronisation reads anyway. */
    if (!stopping(w->virt) && w->generation == g_atomic_int_get(&w->virt->generation))
        w->func(w->virt, w->item);
    return G_SOURCE_REMOVE;
}

static void attach(GMainContext *context, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
    g_autoptr(GSource) source = g_idle_source_new();

    /* The priority of the timers and task completions that share the
     * context, so that all of them keep the order they came in. */
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, func, data, notify);
    g_source_attach(source, context);
}

void itsmigd_virt_worker_queue(ItsmigdVirt *virt, ItsmigdVirtWorkFunc func, gpointer item,
                               GDestroyNotify free_item)
{
    Work *w;

    if (!virt->work_context) {
        /* Stopped: the daemon is going. */
        if (free_item)
            free_item(item);
        return;
    }
    w = g_new0(Work, 1);
    w->virt = virt;
    w->func = func;
    w->item = item;
    w->free_item = free_item;
    w->generation = g_atomic_int_get(&virt->generation);
    attach(virt->work_context, run_work, w, work_free);
}

static gboolean run_hand_back(gpointer data)
{
    Work *w = data;
    ItsmigdVirt *virt = w->virt;

    w->func(virt, w->item);
    g_mutex_lock(&virt->lock);
    virt->hand_back_source = 0;
    virt->held = FALSE;
    g_cond_broadcast(&virt->cond);
    g_mutex_unlock(&virt->lock);
    return G_SOURCE_REMOVE;
}

void itsmigd_virt_worker_hand_back(ItsmigdVirt *virt, ItsmigdVirtWorkFunc func, gpointer item,
                                   GDestroyNotify free_item)
{
    g_autoptr(GSource) source = g_idle_source_new();
    Work *w = g_new0(Work, 1);

    w->virt = virt;
    w->func = func;
    w->item = item;
    w->free_item = free_item;
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, run_hand_back, w, work_free);
    g_mutex_lock(&virt->lock);
    if (virt->stopping) {
        g_mutex_unlock(&virt->lock);
        return; /* @source's unref frees @w */
    }
    /* Under the lock: the stop, on the main loop, removes it by this id. */
    virt->hand_back_source = g_source_attach(source, NULL);
    virt->held = TRUE;
    while (virt->held && !virt->stopping)
        g_cond_wait(&virt->cond, &virt->lock);
    g_mutex_unlock(&virt->lock);
}

gboolean itsmigd_virt_worker_current(ItsmigdVirt *virt)
{
    return virt->work_conn && virt->work_generation == g_atomic_int_get(&virt->generation);
}

static gpointer work_thread(gpointer data)
{
    ItsmigdVirt *virt = data;

    /* The record writes' tasks report back to this context. */
    g_main_context_push_thread_default(virt->work_context);
    g_main_loop_run(virt->work_loop);
    /* What only the worker touches is released by the worker. */
    itsmigd_domain_sync_clear(virt);
    g_clear_pointer(&virt->work_conn, virConnectClose);
    g_main_context_pop_thread_default(virt->work_context);
    g_mutex_lock(&virt->lock);
    virt->worker_done = TRUE;
    g_cond_broadcast(&virt->cond);
    g_mutex_unlock(&virt->lock);
    return NULL;
}

void itsmigd_virt_worker_start(ItsmigdVirt *virt)
{
    g_cond_init(&virt->cond);
    virt->work_context = g_main_context_new();
    virt->work_loop = g_main_loop_new(virt->work_context, FALSE);
    itsmigd_domain_sync_init(virt);
    virt->worker = g_thread_new("itsmigd-virt", work_thread, virt);
}

static gboolean quit_work(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

gboolean itsmigd_virt_worker_stop(ItsmigdVirt *virt, gboolean wait)
{
    gint64 until = g_get_monotonic_time() + STOP_WAIT_US;
    gboolean done;

    if (!virt->worker)
        return TRUE;
    g_mutex_lock(&virt->lock);
    virt->stopping = TRUE;
    g_cond_broadcast(&virt->cond);
    g_mutex_unlock(&virt->lock);
    /* Through the queue, not g_main_loop_quit(): a quit before the thread
     * reached g_main_loop_run() would be lost. */
    attach(virt->work_context, quit_work, virt->work_loop, NULL);
    g_mutex_lock(&virt->lock);
    while (!virt->worker_done) {
        if (wait)
            g_cond_wait(&virt->cond, &virt->lock);
        else if (!g_cond_wait_until(&virt->cond, &virt->lock, until))
            break;
    }
    done = virt->worker_done;
    g_mutex_unlock(&virt->lock);
    if (!done)
        return FALSE;
    g_thread_join(g_steal_pointer(&virt->worker));
    /* The worker is gone: nothing attaches a hand-back any more. */
    g_clear_handle_id(&virt->hand_back_source, g_source_remove);
    g_clear_pointer(&virt->work_loop, g_main_loop_unref);
    /* Frees the items still queued, and their domain references. */
    g_clear_pointer(&virt->work_context, g_main_context_unref);
    g_cond_clear(&virt->cond);
    return TRUE;
}
