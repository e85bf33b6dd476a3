/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "daemon/daemon-config.h"
#include "daemon/domain-registry.h"
#include "daemon/event-bus.h"
#include "daemon/local-host.h"
#include "daemon/metrics.h"
#include "daemon/orchestrator.h"
#include "daemon/peer-client.h"
#include "daemon/virt-connect.h"

/* The daemon's parts, shared by the main loop and the HTTP threads.  Each
 * part guards its own state; the pointers themselves never change while the
 * HTTP server runs. */
struct _ItsmigDaemon {
    ItsmigdConfig *config; /* main loop only: replaced on reload */
    ItsmigdRegistry *registry;
    ItsmigdEventBus *bus;
    ItsmigdMetrics *metrics;
    ItsmigdVirt *virt;
    ItsmigdPeers *peers;
    ItsmigdHost host;
    ItsmigdOrchestrator *orchestrator;
    gint64 started_us; /* monotonic */
};
