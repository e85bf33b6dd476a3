/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The GICv3 ITS table ABI that KVM uses to save and restore the in-kernel
 * ITS in guest RAM (Documentation/virt/kvm/devices/arm-vgic-its.rst, "ITS
 * Table ABI REV0"), the ITS and redistributor register fields that locate
 * those tables, a writer that lays a mapping out as KVM's save does, and a
 * walker that reads tables back the way KVM's restore does and predicts its
 * outcome.  libc only: this also runs statically linked in a test guest.
 *
 * All entries are 8 bytes, little-endian in guest memory; the encode/decode
 * functions work on host-order values.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "itsmig/diag.h"

/* ---- constants of KVM's vITS and ABI revision 0 ------------------------ */

#define ITSMIG_ITS_ABI_REV0            0u
#define ITSMIG_ITS_ABI_REV_MAX         15u /* GITS_IIDR.Revision is 4 bits */
#define ITSMIG_ITS_ESZ                 8u  /* DTE, ITE, CTE and L1 entry size */
#define ITSMIG_ITS_DEVBITS             16u /* GITS_TYPER.Devbits + 1 */
#define ITSMIG_ITS_IDBITS              16u /* GITS_TYPER.IDbits + 1: max EventID bits */
#define ITSMIG_ITS_MIN_LPI             8192u
#define ITSMIG_ITS_DTE_MAX_NEXT        0x3fffu /* kernel caps the DeviceID delta */
#define ITSMIG_ITS_ITE_MAX_NEXT        0xffffu /* kernel caps the EventID delta */
#define ITSMIG_ITS_COLLECTION_UNMAPPED 0xffffffffu
#define ITSMIG_ITS_TABLE_PAGE          65536u /* KVM forces 64K ITS table pages */
#define ITSMIG_ITS_L2_DTES             (ITSMIG_ITS_TABLE_PAGE / ITSMIG_ITS_ESZ)
#define ITSMIG_ITS_MAX_COLLECTIONS     65536u /* GITS_TYPER.CIL == 0: 16-bit ICIDs */

/* ---- ITS register offsets (from the ITS base) --------------------------- */

#define ITSMIG_GITS_CTLR       0x0000u
#define ITSMIG_GITS_IIDR       0x0004u
#define ITSMIG_GITS_TYPER      0x0008u
#define ITSMIG_GITS_CBASER     0x0080u
#define ITSMIG_GITS_CWRITER    0x0088u
#define ITSMIG_GITS_CREADR     0x0090u
#define ITSMIG_GITS_BASER(n)   (0x0100u + 8u * (n))
#define ITSMIG_GITS_TRANSLATER 0x10040u

#define ITSMIG_GITS_CTLR_ENABLED   (1u << 0)
#define ITSMIG_GITS_CTLR_QUIESCENT (1u << 31)

/* ---- GITS_IIDR ---------------------------------------------------------- */

#define ITSMIG_GITS_IIDR_PRODUCT_KVM     0x4bu
#define ITSMIG_GITS_IIDR_IMPLEMENTER_ARM 0x43bu

unsigned itsmig_gits_iidr_revision(uint32_t iidr);
unsigned itsmig_gits_iidr_product(uint32_t iidr);
unsigned itsmig_gits_iidr_implementer(uint32_t iidr);
/* The GITS_IIDR value KVM reports for ABI revision @rev (0x4b00043b for 0). */
uint32_t itsmig_gits_iidr_make_kvm(unsigned rev);

/* ---- GITS_TYPER --------------------------------------------------------- */

typedef struct {
    bool physical;           /* PLPIS */
    bool virt;               /* VIRTUAL (GICv4) */
    unsigned itt_entry_size; /* bytes */
    unsigned id_bits;        /* EventID bits */
    unsigned dev_bits;       /* DeviceID bits */
    bool pta;                /* target addresses are physical addresses */
    bool cil;                /* collection ID limit field valid */
    unsigned cid_bits;       /* collection ID bits when cil, else 16 */
} ItsmigGitsTyper;

void itsmig_gits_typer_decode(uint64_t typer, ItsmigGitsTyper *ret);

/* ---- GITS_BASER<n> and GITS_CBASER --------------------------------------- */

typedef enum {
    ITSMIG_BASER_TYPE_NONE = 0,
    ITSMIG_BASER_TYPE_DEVICE = 1,
    ITSMIG_BASER_TYPE_VPE = 2,
    ITSMIG_BASER_TYPE_COLLECTION = 4,
} ItsmigBaserType;

typedef struct {
    bool valid;
    bool indirect;
    unsigned type;       /* ItsmigBaserType */
    unsigned entry_size; /* bytes */
    unsigned page_size;  /* bytes: 4K, 16K or 64K */
    unsigned nr_pages;   /* 1..256 */
    uint64_t addr;       /* table base, bits [51:12] per page size */
    unsigned shareability, inner_cache, outer_cache;
} ItsmigGitsBaser;

void itsmig_gits_baser_decode(uint64_t baser, ItsmigGitsBaser *ret);
/* The value KVM would hold for a Valid 64K-page table of @type at @addr
 * (64K aligned, below 2^52) of @nr_pages (1..256) pages; 0 on bad input. */
uint64_t itsmig_gits_baser_make(ItsmigBaserType type, uint64_t addr, unsigned nr_pages,
                                bool indirect);
/* Table size in bytes (nr_pages * page_size). */
uint64_t itsmig_gits_baser_table_size(uint64_t baser);

typedef struct {
    bool valid;
    uint64_t addr; /* bits [51:12] */
    unsigned size; /* queue size in bytes: (Size + 1) * 4K */
    unsigned shareability, inner_cache, outer_cache;
} ItsmigGitsCbaser;

void itsmig_gits_cbaser_decode(uint64_t cbaser, ItsmigGitsCbaser *ret);
uint64_t itsmig_gits_cbaser_make(uint64_t addr, unsigned nr_4k_pages);

/* ---- redistributor LPI registers ---------------------------------------- */

#define ITSMIG_GICR_CTLR             0x0000u
#define ITSMIG_GICR_PROPBASER        0x0070u
#define ITSMIG_GICR_PENDBASER        0x0078u
#define ITSMIG_GICR_CTLR_ENABLE_LPIS (1u << 0)

uint64_t itsmig_gicr_propbaser_addr(uint64_t propbaser);   /* bits [51:12] */
unsigned itsmig_gicr_propbaser_idbits(uint64_t propbaser); /* IDbits + 1 */
uint64_t itsmig_gicr_propbaser_make(uint64_t addr, unsigned id_bits);
uint64_t itsmig_gicr_pendbaser_addr(uint64_t pendbaser); /* bits [51:16] */
uint64_t itsmig_gicr_pendbaser_make(uint64_t addr);

/* ---- table entries (ABI revision 0) ------------------------------------- */

typedef struct {
    bool valid;
    uint32_t next;          /* DeviceID delta to the next DTE, 0 = last */
    uint64_t itt_addr;      /* 256-byte aligned, below 2^52 */
    unsigned event_id_bits; /* Size + 1: 1..32 (KVM accepts up to 16) */
} ItsmigItsDte;

typedef struct {
    uint32_t next;   /* EventID delta to the next ITE, 0 = last */
    uint32_t pintid; /* 0 = invalid entry */
    uint16_t icid;
} ItsmigItsIte;

typedef struct {
    bool valid;
    uint32_t target; /* vCPU index (RDbase with GITS_TYPER.PTA = 0) */
    uint16_t icid;
} ItsmigItsCte;

typedef struct {
    bool valid;
    uint64_t l2_addr; /* 64K aligned */
} ItsmigItsL1e;

/* Encoders return 0, or -EINVAL when a field does not fit the ABI. */
int itsmig_its_dte_encode(const ItsmigItsDte *dte, uint64_t *ret_raw);
void itsmig_its_dte_decode(uint64_t raw, ItsmigItsDte *ret);
int itsmig_its_ite_encode(const ItsmigItsIte *ite, uint64_t *ret_raw);
void itsmig_its_ite_decode(uint64_t raw, ItsmigItsIte *ret);
int itsmig_its_cte_encode(const ItsmigItsCte *cte, uint64_t *ret_raw);
void itsmig_its_cte_decode(uint64_t raw, ItsmigItsCte *ret);
int itsmig_its_l1e_encode(const ItsmigItsL1e *l1e, uint64_t *ret_raw);
void itsmig_its_l1e_decode(uint64_t raw, ItsmigItsL1e *ret);

static inline uint64_t itsmig_le64_load(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
           (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 |
           (uint64_t)b[7] << 56;
}

static inline void itsmig_le64_store(void *p, uint64_t v)
{
    uint8_t *b = p;
    for (unsigned i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* ---- guest memory -------------------------------------------------------- */

/* One contiguous range of guest-physical memory backed by host memory, like
 * a KVM memslot. */
typedef struct {
    uint64_t gpa;
    uint64_t size;
    uint8_t *data;
} ItsmigGuestRegion;

/* Reads [gpa, gpa+len) of guest memory that is not in host memory (pages
 * indexed in a save image): 0, -EFAULT when a byte is not guest memory, or
 * another -errno when it cannot be read (the reader keeps the reason). */
typedef int (*ItsmigGuestMemReadFn)(void *opaque, uint64_t gpa, void *buf, size_t len);

/* Regions sorted by gpa and not overlapping (itsmig_guest_mem_check()); or,
 * with @read set, no regions and every access through @read (read only:
 * writes fail with -EROFS). */
typedef struct {
    ItsmigGuestRegion *regions;
    size_t n_regions;
    ItsmigGuestMemReadFn read;
    void *opaque;
    /* With @read: how many bytes of guest memory it can return other than
     * zeros (an upper bound), which bounds the walk as region sizes do. */
    uint64_t read_size;
} ItsmigGuestMem;

int itsmig_guest_mem_check(const ItsmigGuestMem *mem, ItsmigDiag *diag);
/* Host pointer to [gpa, gpa+len) when it lies inside one region, else NULL. */
uint8_t *itsmig_guest_mem_ptr(const ItsmigGuestMem *mem, uint64_t gpa, uint64_t len);
/* 0, or -EFAULT when any byte is outside guest memory (KVM's
 * kvm_read_guest semantics: a range may span adjacent regions). */
int itsmig_guest_mem_read(const ItsmigGuestMem *mem, uint64_t gpa, void *buf, size_t len);
int itsmig_guest_mem_write(const ItsmigGuestMem *mem, uint64_t gpa, const void *buf, size_t len);

/* ---- an ITS mapping ------------------------------------------------------ */

typedef struct {
    uint32_t event_id;
    uint32_t pintid;
    uint16_t icid;
} ItsmigItsEvent;

typedef struct {
    uint32_t device_id;
    uint64_t itt_addr;
    unsigned event_id_bits;
    size_t first_event; /* index into ItsmigItsMapping.events */
    size_t n_events;    /* sorted by event_id */
} ItsmigItsDevice;

typedef struct {
    uint16_t icid;
    uint32_t target; /* vCPU index or ITSMIG_ITS_COLLECTION_UNMAPPED */
} ItsmigItsCollection;

/* Devices sorted by device_id; collections in collection-table order. */
typedef struct {
    ItsmigItsDevice *devices;
    size_t n_devices;
    ItsmigItsEvent *events;
    size_t n_events;
    ItsmigItsCollection *collections;
    size_t n_collections;
} ItsmigItsMapping;

void itsmig_its_mapping_clear(ItsmigItsMapping *m);
/* Structural checks: sorted unique device and event IDs, events within each
 * device's EventID range, unique ICIDs.  -EINVAL with the first problem. */
int itsmig_its_mapping_check(const ItsmigItsMapping *m, ItsmigDiag *diag);
/* true when both mappings translate every (device, event) the same way and
 * map the same collections to the same targets (collection order ignored). */
bool itsmig_its_mapping_equal(const ItsmigItsMapping *a, const ItsmigItsMapping *b);

/* ---- writer: lay tables out as KVM's SAVE_TABLES does -------------------- */

typedef struct {
    uint64_t baser0; /* device table */
    uint64_t baser1; /* collection table */
    /* Two-level device tables only: where to place level-2 pages that the
     * level-1 table does not point at yet (a guest allocates them before
     * MAPD).  Pages are used one after another from here, 64K each.  0 means
     * every needed L1 entry must already be valid, as for KVM's save. */
    uint64_t l2_alloc_base;
} ItsmigItsLayout;

/*
 * Writes the DTEs, every device's ITT and the CTEs of @m into @mem, in the
 * order and with the `next` values and caps KVM's save uses; the collection
 * table gets a terminating zero entry unless full.  Unused entries are left
 * as they are.  A table whose BASER is not Valid is skipped, as KVM does.
 */
int itsmig_its_write_tables(const ItsmigItsMapping *m, const ItsmigItsLayout *layout,
                            const ItsmigGuestMem *mem, ItsmigDiag *diag);

/* ---- walker / linter: read tables back as KVM's RESTORE_TABLES does ------ */

typedef enum {
    ITSMIG_SEVERITY_INFO,
    ITSMIG_SEVERITY_WARNING,
    ITSMIG_SEVERITY_ERROR, /* the restore fails on it */
} ItsmigSeverity;

const char *itsmig_severity_to_string(ItsmigSeverity s);

#define ITSMIG_ITS_FINDING_TEXT_MAX 200

typedef struct {
    const char *code; /* stable identifier, e.g. "ite-pintid-below-lpi-range" */
    ItsmigSeverity severity;
    int errnum;   /* for errors: the positive errno RESTORE_TABLES returns */
    uint64_t gpa; /* where the offending entry lives, when relevant */
    char message[ITSMIG_ITS_FINDING_TEXT_MAX];
} ItsmigItsFinding;

#define ITSMIG_ITS_WALK_NO_VCPU_CHECK 0u

typedef struct {
    uint32_t iidr;   /* GITS_IIDR; its Revision selects the ABI */
    uint64_t baser0; /* GITS_BASER0: device table */
    uint64_t baser1; /* GITS_BASER1: collection table */
    /* Number of vCPUs of the destination VM; ITSMIG_ITS_WALK_NO_VCPU_CHECK
     * skips the collection target check. */
    unsigned nr_vcpus;
    /* GICR_PROPBASER (shared by all redistributors in KVM), or 0 when
     * unknown: then the LPI configuration reads are not checked. */
    uint64_t propbaser;
    /* GICR_PENDBASER per vCPU (nr_pendbasers entries), or NULL. */
    const uint64_t *pendbasers;
    unsigned nr_pendbasers;
    /* Findings kept at most (0 = default of 1024); more are counted only. */
    size_t max_findings;
} ItsmigItsWalkInput;

typedef struct {
    unsigned abi_revision;
    ItsmigItsMapping mapping; /* what the restore would install */
    ItsmigItsFinding *findings;
    size_t n_findings;
    size_t n_findings_dropped;
    /* Prediction for KVM_DEV_ARM_ITS_RESTORE_TABLES (and the GITS_IIDR write
     * that precedes it): 0, or the positive errno of the first failure in
     * the kernel's order, with the code of the finding that causes it. */
    int restore_errno;
    const char *restore_cause;
    /* Table bytes and entries examined, for statistics. */
    uint64_t bytes_scanned;
    uint64_t entries_scanned;
} ItsmigItsReport;

/* Bounds of one walk, by the guest memory it is given (the bytes of its
 * regions plus read_size, M): at most ITSMIG_ITS_WALK_MIN_READS +
 * ITSMIG_ITS_WALK_READS_PER_ENTRY * M / 8 entry reads, and never more than
 * ITSMIG_ITS_WALK_MAX_READS; past that the walk stops with the error finding
 * "walk-limit-reached" (E2BIG).  2^20 reads take a few milliseconds; tables
 * that do not overlap need about two per entry.  A walk keeps at most M / 8
 * events and allocates at most ITSMIG_ITS_WALK_BYTES_PER_BYTE * M +
 * ITSMIG_ITS_WALK_FIXED_BYTES bytes at once; tests/fuzz/fuzz-its-walk.c
 * asserts all three. */
#define ITSMIG_ITS_WALK_MIN_READS       (UINT64_C(1) << 20)
#define ITSMIG_ITS_WALK_READS_PER_ENTRY UINT64_C(16)
#define ITSMIG_ITS_WALK_MAX_READS       (UINT64_C(1) << 28)
#define ITSMIG_ITS_WALK_BYTES_PER_BYTE  UINT64_C(16)
#define ITSMIG_ITS_WALK_FIXED_BYTES     (UINT64_C(2) << 20)

int itsmig_its_walk(const ItsmigItsWalkInput *in, const ItsmigGuestMem *mem,
                    ItsmigItsReport *ret_report, ItsmigDiag *diag);
void itsmig_its_report_clear(ItsmigItsReport *r);

/* ---- SAVE_TABLES: what a kernel writes, given its measured behaviour ------ */

/*
 * Where kernels' saves differ (see ItsmigKvmItsSemantics in itsmig/kvm-its.h,
 * which the probe measures; the caller copies the facts in).
 */
typedef struct {
    /* 0: a device the device table can no longer reach (a level-1 entry the
     * guest cleared) is left out of the save; else the positive errno the
     * save fails with. */
    int unreachable_device_errno;
    /* false: a GITS_BASER<n> change since the mappings were made dropped the
     * mappings of that table, so the save writes none of them. */
    bool baser_write_keeps_mappings;
} ItsmigItsSaveSemantics;

typedef struct {
    /* What the ITS holds, as the guest's commands made it: devices sorted by
     * DeviceID, collections in the order they were mapped (KVM's list). */
    const ItsmigItsMapping *mapping;
    uint64_t baser0, baser1; /* GITS_BASER0/1 at the time of the save */
    /* Whether GITS_BASER0/1 were written to another value after the
     * mappings were made. */
    bool baser0_changed, baser1_changed;
    ItsmigItsSaveSemantics semantics;
} ItsmigItsSaveInput;

typedef struct {
    /* 0, or the positive errno SAVE_TABLES returns, with a stable code for
     * why: "save-device-unreachable", "save-collection-table-outside-memory". */
    int save_errno;
    const char *save_cause;
    /* When save_errno is 0: the mapping the saved tables hold, i.e. what a
     * RESTORE_TABLES of them installs. */
    ItsmigItsMapping saved;
    size_t n_devices_dropped;     /* by a GITS_BASER0 change */
    size_t n_devices_skipped;     /* unreachable, left out of the save */
    size_t n_collections_dropped; /* by a GITS_BASER1 change */
    /* Collections written past the end of the collection table (a table
     * shrunk under mapped collections, on a kernel that keeps them): the
     * save writes them there, and a restore does not read them. */
    size_t n_collections_overflow;
} ItsmigItsSavePrediction;

/*
 * Predicts KVM_DEV_ARM_ITS_SAVE_TABLES: which entries reach which table, and
 * so what a restore of the saved tables installs.  Reads the level-1 device
 * table from @mem as the kernel does.  Returns 0 with the prediction, or
 * -errno for bad input (an invalid mapping).  ITEs whose collection is not
 * saved are left out, as kernels that skip them do.
 */
int itsmig_its_predict_save(const ItsmigItsSaveInput *in, const ItsmigGuestMem *mem,
                            ItsmigItsSavePrediction *ret_prediction, ItsmigDiag *diag);
void itsmig_its_save_prediction_clear(ItsmigItsSavePrediction *p);

/* ---- pending tables ------------------------------------------------------ */

/* true when @intid's bit is set in a redistributor pending table. */
bool itsmig_its_pending_test(const uint8_t *table, size_t len, uint32_t intid);
/* The LPIs (INTID >= 8192) a pending table of @len bytes marks pending, in
 * ascending order; *ret_intids is malloc'ed (NULL when none). */
int itsmig_its_pending_decode(const uint8_t *table, size_t len, uint32_t **ret_intids,
                              size_t *ret_n, ItsmigDiag *diag);
