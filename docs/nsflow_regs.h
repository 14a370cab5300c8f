/* nsflow register map v1.1: generated from rtl-model/src/regs.rs by
 * `cargo run -p nsflow-rtl --bin regmap -- write docs`; do not edit. */
#ifndef NSFLOW_REGS_H
#define NSFLOW_REGS_H

#include <stddef.h>
#include <stdint.h>

/* NSFLOW_STATIC_ASSERT(condition, tag): a compile-time check in C99, C11 and C++11. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define NSFLOW_STATIC_ASSERT(cond, tag) static_assert(cond, #tag)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define NSFLOW_STATIC_ASSERT(cond, tag) _Static_assert(cond, #tag)
#else
#define NSFLOW_STATIC_ASSERT(cond, tag) typedef char nsflow_static_assert_##tag[(cond) ? 1 : -1]
#endif

#define NSFLOW_BAR0_SIZE 0x2000u
#define NSFLOW_MAGIC 0x4e53464cu
#define NSFLOW_VERSION_MAJOR 1u
#define NSFLOW_VERSION_MINOR 1u
#define NSFLOW_NUM_PROFILES 14u
#define NSFLOW_RING_MIN_LOG2 4u
#define NSFLOW_RING_MAX_LOG2 20u

/* MSI-X: vectors, and the BAR (BIR) and offsets of the vector table and PBA. */
#define NSFLOW_MSIX_CAP_ID 0x11u
#define NSFLOW_MSIX_VECTORS 1u
#define NSFLOW_MSIX_BAR 4u
#define NSFLOW_MSIX_BAR_SIZE 0x1000u
#define NSFLOW_MSIX_TABLE_OFFSET 0x000u
#define NSFLOW_MSIX_PBA_OFFSET 0x800u

/* Protocol rules with a bound: cycles within which the effect is complete. */
#define NSFLOW_PROTOCOL_REGISTER_PORT_CYCLES 1u
#define NSFLOW_PROTOCOL_TABLE_COMMAND_CYCLES 1u
#define NSFLOW_PROTOCOL_STATS_SNAPSHOT_CYCLES 1u
#define NSFLOW_PROTOCOL_SOFT_RESET_CYCLES 1u

/* ID_MAGIC: Magic number identifying an nsflow engine */
#define NSFLOW_ID_MAGIC 0x000u
#define NSFLOW_ID_MAGIC_RESET 0x4e53464cu
#define NSFLOW_ID_MAGIC_MAGIC_SHIFT 0u
#define NSFLOW_ID_MAGIC_MAGIC_MASK 0xffffffffu /* RO 0x4E53464C ("NSFL") */

/* ID_VERSION: Register-map version */
#define NSFLOW_ID_VERSION 0x004u
#define NSFLOW_ID_VERSION_RESET 0x00010001u
#define NSFLOW_ID_VERSION_MINOR_SHIFT 0u
#define NSFLOW_ID_VERSION_MINOR_MASK 0x0000ffffu /* RO Minor version: compatible additions */
#define NSFLOW_ID_VERSION_MAJOR_SHIFT 16u
#define NSFLOW_ID_VERSION_MAJOR_MASK 0xffff0000u /* RO Major version: a driver refuses other majors */

/* CAP_PROFILES: Profile, record and ring capabilities */
#define NSFLOW_CAP_PROFILES 0x008u
#define NSFLOW_CAP_PROFILES_RESET 0x1401800eu
#define NSFLOW_CAP_PROFILES_PROFILES_SHIFT 0u
#define NSFLOW_CAP_PROFILES_PROFILES_MASK 0x000000ffu /* RO Aggregation profiles implemented */
#define NSFLOW_CAP_PROFILES_RECORD_BYTES_SHIFT 8u
#define NSFLOW_CAP_PROFILES_RECORD_BYTES_MASK 0x0000ff00u /* RO Size of a ring record in bytes */
#define NSFLOW_CAP_PROFILES_RECORD_FORMAT_SHIFT 16u
#define NSFLOW_CAP_PROFILES_RECORD_FORMAT_MASK 0x00ff0000u /* RO Ring record format version */
#define NSFLOW_CAP_PROFILES_RING_MAX_LOG2_SHIFT 24u
#define NSFLOW_CAP_PROFILES_RING_MAX_LOG2_MASK 0x1f000000u /* RO Largest ring, log2 of entries */

/* CAP_ORIG_TABLE: Original-flow (stage 1) table geometry */
#define NSFLOW_CAP_ORIG_TABLE 0x00cu
#define NSFLOW_CAP_ORIG_TABLE_RESET 0x00000811u
#define NSFLOW_CAP_ORIG_TABLE_SETS_LOG2_SHIFT 0u
#define NSFLOW_CAP_ORIG_TABLE_SETS_LOG2_MASK 0x000000ffu /* RO Sets, log2 */
#define NSFLOW_CAP_ORIG_TABLE_WAYS_SHIFT 8u
#define NSFLOW_CAP_ORIG_TABLE_WAYS_MASK 0x0000ff00u /* RO Ways per set */

/* CAP_AGG_TABLE: Aggregation (stage 2) table geometry, per profile */
#define NSFLOW_CAP_AGG_TABLE 0x010u
#define NSFLOW_CAP_AGG_TABLE_RESET 0x00000810u
#define NSFLOW_CAP_AGG_TABLE_SETS_LOG2_SHIFT 0u
#define NSFLOW_CAP_AGG_TABLE_SETS_LOG2_MASK 0x000000ffu /* RO Sets, log2 */
#define NSFLOW_CAP_AGG_TABLE_WAYS_SHIFT 8u
#define NSFLOW_CAP_AGG_TABLE_WAYS_MASK 0x0000ff00u /* RO Ways per set */

/* CAP_CLOCK: Core clock frequency */
#define NSFLOW_CAP_CLOCK 0x014u
#define NSFLOW_CAP_CLOCK_RESET 0x0003d090u
#define NSFLOW_CAP_CLOCK_KHZ_SHIFT 0u
#define NSFLOW_CAP_CLOCK_KHZ_MASK 0xffffffffu /* RO Core clock in kHz */

/* CAP_TABLES: Lookup table sizes */
#define NSFLOW_CAP_TABLES 0x018u
#define NSFLOW_CAP_TABLES_RESET 0x00400400u
#define NSFLOW_CAP_TABLES_ROUTE_ENTRIES_SHIFT 0u
#define NSFLOW_CAP_TABLES_ROUTE_ENTRIES_MASK 0x0000ffffu /* RO Route table entries */
#define NSFLOW_CAP_TABLES_LABEL_ENTRIES_SHIFT 16u
#define NSFLOW_CAP_TABLES_LABEL_ENTRIES_MASK 0xffff0000u /* RO Label table entries */

/* CAP_DMA: DMA capabilities */
#define NSFLOW_CAP_DMA 0x01cu
#define NSFLOW_CAP_DMA_RESET 0x00000040u
#define NSFLOW_CAP_DMA_ADDR_BITS_SHIFT 0u
#define NSFLOW_CAP_DMA_ADDR_BITS_MASK 0x0000007fu /* RO Address bits the engine's DMA drives: every IOVA given to it must fit */

/* CTRL: Global control */
#define NSFLOW_CTRL 0x020u
#define NSFLOW_CTRL_RESET 0x00000000u
#define NSFLOW_CTRL_ENABLE_SHIFT 0u
#define NSFLOW_CTRL_ENABLE_MASK 0x00000001u /* RW Accept packets; 0 drops nothing already in the tables */
#define NSFLOW_CTRL_SOFT_RESET_SHIFT 1u
#define NSFLOW_CTRL_SOFT_RESET_MASK 0x00000002u /* WO Write 1: reset every register, table and counter */
#define NSFLOW_CTRL_FLUSH_SHIFT 2u
#define NSFLOW_CTRL_FLUSH_MASK 0x00000004u /* WO Write 1: export every entry of both stages (reason forced) */
#define NSFLOW_CTRL_STATS_SNAPSHOT_SHIFT 3u
#define NSFLOW_CTRL_STATS_SNAPSHOT_MASK 0x00000008u /* WO Write 1: latch every 64-bit statistic for reading */

/* STATUS: Global status */
#define NSFLOW_STATUS 0x024u
#define NSFLOW_STATUS_RESET 0x00000000u
#define NSFLOW_STATUS_FLUSH_BUSY_SHIFT 0u
#define NSFLOW_STATUS_FLUSH_BUSY_MASK 0x00000001u /* RO A flush is running */
#define NSFLOW_STATUS_ERROR_SHIFT 1u
#define NSFLOW_STATUS_ERROR_MASK 0x00000002u /* RO The device stopped on an error; soft reset clears it */
#define NSFLOW_STATUS_RING_FULL_SHIFT 2u
#define NSFLOW_STATUS_RING_FULL_MASK 0x00000004u /* RO The ring holds 2^log2 unconsumed records (producer - consumer = entries) */
#define NSFLOW_STATUS_ERROR_CODE_SHIFT 8u
#define NSFLOW_STATUS_ERROR_CODE_MASK 0x0000ff00u /* RO Why the device stopped (0 while no error) */
enum nsflow_status_error_code {
    NSFLOW_STATUS_ERROR_CODE_DMA_FAULT = 1, /* A DMA write would have left the mapped ring or write-back memory */
    NSFLOW_STATUS_ERROR_CODE_BAD_RING = 2, /* The ring was enabled with an invalid size or address */
};

/* FLUSH_COUNT: Flushes completed since reset */
#define NSFLOW_FLUSH_COUNT 0x028u
#define NSFLOW_FLUSH_COUNT_RESET 0x00000000u
#define NSFLOW_FLUSH_COUNT_COUNT_SHIFT 0u
#define NSFLOW_FLUSH_COUNT_COUNT_MASK 0xffffffffu /* RO Increments when a flush's last record is in the ring */

/* UNKNOWN_ACCESS: Writes ignored: unknown offsets, read-only registers, reserved bits */
#define NSFLOW_UNKNOWN_ACCESS 0x02cu
#define NSFLOW_UNKNOWN_ACCESS_RESET 0x00000000u
#define NSFLOW_UNKNOWN_ACCESS_COUNT_SHIFT 0u
#define NSFLOW_UNKNOWN_ACCESS_COUNT_MASK 0xffffffffu /* RO Saturating count */

/* TIME_LO: Free-running nanosecond clock, low half; reading latches TIME_HI */
#define NSFLOW_TIME_LO 0x030u
#define NSFLOW_TIME_LO_RESET 0x00000000u
#define NSFLOW_TIME_LO_NS_SHIFT 0u
#define NSFLOW_TIME_LO_NS_MASK 0xffffffffu /* RO Bits 31:0 of the clock; a read latches bits 63:32 into TIME_HI */

/* TIME_HI: Nanosecond clock, high half as latched by the last TIME_LO read */
#define NSFLOW_TIME_HI 0x034u
#define NSFLOW_TIME_HI_RESET 0x00000000u
#define NSFLOW_TIME_HI_NS_SHIFT 0u
#define NSFLOW_TIME_HI_NS_MASK 0xffffffffu /* RO Bits 63:32 of the clock */

/* ORIG_ACTIVE: Original-flow active timeout */
#define NSFLOW_ORIG_ACTIVE 0x040u
#define NSFLOW_ORIG_ACTIVE_RESET 0x00000708u
#define NSFLOW_ORIG_ACTIVE_SECONDS_SHIFT 0u
#define NSFLOW_ORIG_ACTIVE_SECONDS_MASK 0x0000ffffu /* RW Seconds (VRP: ipv6 netstream timeout active, default 30 min; 0 ends every entry at its next check) */

/* ORIG_INACTIVE: Original-flow inactive timeout */
#define NSFLOW_ORIG_INACTIVE 0x044u
#define NSFLOW_ORIG_INACTIVE_RESET 0x0000001eu
#define NSFLOW_ORIG_INACTIVE_SECONDS_SHIFT 0u
#define NSFLOW_ORIG_INACTIVE_SECONDS_MASK 0x0000ffffu /* RW Seconds (VRP: ipv6 netstream timeout inactive, default 30 s; 0 ends every entry at its next check) */

/* ORIG_CTRL: Original-flow aging control */
#define NSFLOW_ORIG_CTRL 0x048u
#define NSFLOW_ORIG_CTRL_RESET 0x00000001u
#define NSFLOW_ORIG_CTRL_FIN_RST_AGING_SHIFT 0u
#define NSFLOW_ORIG_CTRL_FIN_RST_AGING_MASK 0x00000001u /* RW Age a flow on TCP FIN or RST unless it is its first packet */

/* SCAN_CTRL: Aging scanner share of table bandwidth */
#define NSFLOW_SCAN_CTRL 0x04cu
#define NSFLOW_SCAN_CTRL_RESET 0x00000020u
#define NSFLOW_SCAN_CTRL_SHARE_SHIFT 0u
#define NSFLOW_SCAN_CTRL_SHARE_MASK 0x000000ffu /* RW Table slots per 256 cycles given to the scanner (1-255; 0 stops aging) */

/* INT_STATUS: Interrupt causes, write 1 to clear */
#define NSFLOW_INT_STATUS 0x050u
#define NSFLOW_INT_STATUS_RESET 0x00000000u
#define NSFLOW_INT_STATUS_RECORDS_SHIFT 0u
#define NSFLOW_INT_STATUS_RECORDS_MASK 0x00000001u /* W1C Records were written (after moderation) */
#define NSFLOW_INT_STATUS_FLUSH_DONE_SHIFT 1u
#define NSFLOW_INT_STATUS_FLUSH_DONE_MASK 0x00000002u /* W1C A flush completed */
#define NSFLOW_INT_STATUS_ERROR_SHIFT 2u
#define NSFLOW_INT_STATUS_ERROR_MASK 0x00000004u /* W1C The device entered the error state */
#define NSFLOW_INT_STATUS_RING_FULL_SHIFT 3u
#define NSFLOW_INT_STATUS_RING_FULL_MASK 0x00000008u /* W1C The ring became full */

/* INT_MASK: Interrupt mask: 1 masks the cause */
#define NSFLOW_INT_MASK 0x054u
#define NSFLOW_INT_MASK_RESET 0x0000000fu
#define NSFLOW_INT_MASK_RECORDS_SHIFT 0u
#define NSFLOW_INT_MASK_RECORDS_MASK 0x00000001u /* RW Mask records */
#define NSFLOW_INT_MASK_FLUSH_DONE_SHIFT 1u
#define NSFLOW_INT_MASK_FLUSH_DONE_MASK 0x00000002u /* RW Mask flush_done */
#define NSFLOW_INT_MASK_ERROR_SHIFT 2u
#define NSFLOW_INT_MASK_ERROR_MASK 0x00000004u /* RW Mask error */
#define NSFLOW_INT_MASK_RING_FULL_SHIFT 3u
#define NSFLOW_INT_MASK_RING_FULL_MASK 0x00000008u /* RW Mask ring_full */

/* INT_MOD_RECORDS: Interrupt moderation by count */
#define NSFLOW_INT_MOD_RECORDS 0x058u
#define NSFLOW_INT_MOD_RECORDS_RESET 0x00000040u
#define NSFLOW_INT_MOD_RECORDS_COUNT_SHIFT 0u
#define NSFLOW_INT_MOD_RECORDS_COUNT_MASK 0x0000ffffu /* RW Raise after this many records (0 = every record) */

/* INT_MOD_TIME: Interrupt moderation by time */
#define NSFLOW_INT_MOD_TIME 0x05cu
#define NSFLOW_INT_MOD_TIME_RESET 0x00000032u
#define NSFLOW_INT_MOD_TIME_USEC_SHIFT 0u
#define NSFLOW_INT_MOD_TIME_USEC_MASK 0x0000ffffu /* RW Raise at most this long after the first pending record (0 = at once) */

/* RING_BASE_LO: Record ring IOVA, low half (4 KiB aligned) */
#define NSFLOW_RING_BASE_LO 0x060u
#define NSFLOW_RING_BASE_LO_RESET 0x00000000u
#define NSFLOW_RING_BASE_LO_ADDR_SHIFT 12u
#define NSFLOW_RING_BASE_LO_ADDR_MASK 0xfffff000u /* RW IOVA bits 31:12 */

/* RING_BASE_HI: Record ring IOVA, high half */
#define NSFLOW_RING_BASE_HI 0x064u
#define NSFLOW_RING_BASE_HI_RESET 0x00000000u
#define NSFLOW_RING_BASE_HI_ADDR_SHIFT 0u
#define NSFLOW_RING_BASE_HI_ADDR_MASK 0xffffffffu /* RW IOVA bits 63:32 */

/* RING_SIZE: Record ring size; writing resets both indices */
#define NSFLOW_RING_SIZE 0x068u
#define NSFLOW_RING_SIZE_RESET 0x00000000u
#define NSFLOW_RING_SIZE_LOG2_SHIFT 0u
#define NSFLOW_RING_SIZE_LOG2_MASK 0x0000001fu /* RW Entries = 2^log2, 4..20; 0 = no ring; a write resets RING_PROD and RING_CONS to 0 */

/* RING_WB_LO: Producer-index write-back IOVA, low half (8-byte aligned): the device writes the 32-bit producer index there as 8 bytes LE, zero-extended; 0 = no write-back */
#define NSFLOW_RING_WB_LO 0x06cu
#define NSFLOW_RING_WB_LO_RESET 0x00000000u
#define NSFLOW_RING_WB_LO_ADDR_SHIFT 3u
#define NSFLOW_RING_WB_LO_ADDR_MASK 0xfffffff8u /* RW IOVA bits 31:3 */

/* RING_WB_HI: Producer-index write-back IOVA, high half */
#define NSFLOW_RING_WB_HI 0x070u
#define NSFLOW_RING_WB_HI_RESET 0x00000000u
#define NSFLOW_RING_WB_HI_ADDR_SHIFT 0u
#define NSFLOW_RING_WB_HI_ADDR_MASK 0xffffffffu /* RW IOVA bits 63:32 */

/* RING_PROD: Producer index (free-running; also written back to host memory) */
#define NSFLOW_RING_PROD 0x074u
#define NSFLOW_RING_PROD_RESET 0x00000000u
#define NSFLOW_RING_PROD_INDEX_SHIFT 0u
#define NSFLOW_RING_PROD_INDEX_MASK 0xffffffffu /* RO Records written since the ring was configured */

/* RING_CONS: Consumer index doorbell (free-running) */
#define NSFLOW_RING_CONS 0x078u
#define NSFLOW_RING_CONS_RESET 0x00000000u
#define NSFLOW_RING_CONS_INDEX_SHIFT 0u
#define NSFLOW_RING_CONS_INDEX_MASK 0xffffffffu /* RW Records the driver has consumed; a write frees ring space (doorbell) */

/* ROUTE_INDEX: Route table window: entry index */
#define NSFLOW_ROUTE_INDEX 0x100u
#define NSFLOW_ROUTE_INDEX_RESET 0x00000000u
#define NSFLOW_ROUTE_INDEX_INDEX_SHIFT 0u
#define NSFLOW_ROUTE_INDEX_INDEX_MASK 0x000003ffu /* RW Entry 0..1023 */

/* ROUTE_CMD: Route table window: command */
#define NSFLOW_ROUTE_CMD 0x104u
#define NSFLOW_ROUTE_CMD_RESET 0x00000000u
#define NSFLOW_ROUTE_CMD_OP_SHIFT 0u
#define NSFLOW_ROUTE_CMD_OP_MASK 0x00000003u /* WO Command, executed on the write */
enum nsflow_route_cmd_op {
    NSFLOW_ROUTE_CMD_OP_WRITE = 1, /* Write the window registers to the indexed entry */
    NSFLOW_ROUTE_CMD_OP_READ = 2, /* Read the indexed entry into the window registers */
    NSFLOW_ROUTE_CMD_OP_CLEAR = 3, /* Invalidate every entry (route and label tables) */
};

/* ROUTE_PREFIX: Route window: prefix, word 0 = bits 127:96 */
#define NSFLOW_ROUTE_PREFIX(i) (0x110u + (uint32_t)(i) * 0x4u)
#define NSFLOW_ROUTE_PREFIX_COUNT 4u
#define NSFLOW_ROUTE_PREFIX_RESET 0x00000000u
#define NSFLOW_ROUTE_PREFIX_BITS_SHIFT 0u
#define NSFLOW_ROUTE_PREFIX_BITS_MASK 0xffffffffu /* RW Prefix bits, network order by word */

/* ROUTE_NEXTHOP: Route window: BGP next hop, word 0 = bits 127:96 */
#define NSFLOW_ROUTE_NEXTHOP(i) (0x120u + (uint32_t)(i) * 0x4u)
#define NSFLOW_ROUTE_NEXTHOP_COUNT 4u
#define NSFLOW_ROUTE_NEXTHOP_RESET 0x00000000u
#define NSFLOW_ROUTE_NEXTHOP_BITS_SHIFT 0u
#define NSFLOW_ROUTE_NEXTHOP_BITS_MASK 0xffffffffu /* RW Next-hop bits, network order by word */

/* ROUTE_META: Route window: length and valid */
#define NSFLOW_ROUTE_META 0x130u
#define NSFLOW_ROUTE_META_RESET 0x00000000u
#define NSFLOW_ROUTE_META_LEN_SHIFT 0u
#define NSFLOW_ROUTE_META_LEN_MASK 0x000000ffu /* RW Prefix length 0..128 (an entry written with more holds 128) */
#define NSFLOW_ROUTE_META_VALID_SHIFT 8u
#define NSFLOW_ROUTE_META_VALID_MASK 0x00000100u /* RW Entry takes part in lookups */

/* ROUTE_AS: Route window: origin AS */
#define NSFLOW_ROUTE_AS 0x134u
#define NSFLOW_ROUTE_AS_RESET 0x00000000u
#define NSFLOW_ROUTE_AS_ASN_SHIFT 0u
#define NSFLOW_ROUTE_AS_ASN_MASK 0xffffffffu /* RW Origin AS */

/* ROUTE_OUTIF: Route window: egress ifIndex */
#define NSFLOW_ROUTE_OUTIF 0x138u
#define NSFLOW_ROUTE_OUTIF_RESET 0x00000000u
#define NSFLOW_ROUTE_OUTIF_IFINDEX_SHIFT 0u
#define NSFLOW_ROUTE_OUTIF_IFINDEX_MASK 0xffffffffu /* RW Egress ifIndex */

/* IFACE_INDEX: Interface table window: outer VLAN ID (0 = untagged) */
#define NSFLOW_IFACE_INDEX 0x140u
#define NSFLOW_IFACE_INDEX_RESET 0x00000000u
#define NSFLOW_IFACE_INDEX_VLAN_SHIFT 0u
#define NSFLOW_IFACE_INDEX_VLAN_MASK 0x00000fffu /* RW VLAN ID */

/* IFACE_CMD: Interface table window: command */
#define NSFLOW_IFACE_CMD 0x144u
#define NSFLOW_IFACE_CMD_RESET 0x00000000u
#define NSFLOW_IFACE_CMD_OP_SHIFT 0u
#define NSFLOW_IFACE_CMD_OP_MASK 0x00000003u /* WO Command, executed on the write (CLEAR is ignored: the table has no valid bits) */
enum nsflow_iface_cmd_op {
    NSFLOW_IFACE_CMD_OP_WRITE = 1, /* Write the window registers to the indexed entry */
    NSFLOW_IFACE_CMD_OP_READ = 2, /* Read the indexed entry into the window registers */
    NSFLOW_IFACE_CMD_OP_CLEAR = 3, /* Invalidate every entry (route and label tables) */
};

/* IFACE_IFINDEX: Interface table window: ingress ifIndex */
#define NSFLOW_IFACE_IFINDEX 0x148u
#define NSFLOW_IFACE_IFINDEX_RESET 0x00000000u
#define NSFLOW_IFACE_IFINDEX_IFINDEX_SHIFT 0u
#define NSFLOW_IFACE_IFINDEX_IFINDEX_MASK 0xffffffffu /* RW Ingress ifIndex */

/* LABEL_INDEX: Label table window: entry index */
#define NSFLOW_LABEL_INDEX 0x150u
#define NSFLOW_LABEL_INDEX_RESET 0x00000000u
#define NSFLOW_LABEL_INDEX_INDEX_SHIFT 0u
#define NSFLOW_LABEL_INDEX_INDEX_MASK 0x0000003fu /* RW Entry 0..63 */

/* LABEL_CMD: Label table window: command */
#define NSFLOW_LABEL_CMD 0x154u
#define NSFLOW_LABEL_CMD_RESET 0x00000000u
#define NSFLOW_LABEL_CMD_OP_SHIFT 0u
#define NSFLOW_LABEL_CMD_OP_MASK 0x00000003u /* WO Command, executed on the write */
enum nsflow_label_cmd_op {
    NSFLOW_LABEL_CMD_OP_WRITE = 1, /* Write the window registers to the indexed entry */
    NSFLOW_LABEL_CMD_OP_READ = 2, /* Read the indexed entry into the window registers */
    NSFLOW_LABEL_CMD_OP_CLEAR = 3, /* Invalidate every entry (route and label tables) */
};

/* LABEL_VALUE: Label window: label and valid */
#define NSFLOW_LABEL_VALUE 0x158u
#define NSFLOW_LABEL_VALUE_RESET 0x00000000u
#define NSFLOW_LABEL_VALUE_LABEL_SHIFT 0u
#define NSFLOW_LABEL_VALUE_LABEL_MASK 0x000fffffu /* RW MPLS label */
#define NSFLOW_LABEL_VALUE_VALID_SHIFT 31u
#define NSFLOW_LABEL_VALUE_VALID_MASK 0x80000000u /* RW Entry takes part in lookups */

/* LABEL_ADDR: Label window: top-label IPv4 address */
#define NSFLOW_LABEL_ADDR 0x15cu
#define NSFLOW_LABEL_ADDR_RESET 0x00000000u
#define NSFLOW_LABEL_ADDR_IPV4_SHIFT 0u
#define NSFLOW_LABEL_ADDR_IPV4_MASK 0xffffffffu /* RW IPv4 address, network order as a number */

/* PROF_CTRL: Profile enable and aggregation mode */
#define NSFLOW_PROF_CTRL(i) (0x1000u + (uint32_t)(i) * 0x80u)
#define NSFLOW_PROF_CTRL_COUNT 14u
#define NSFLOW_PROF_CTRL_RESET 0x00000000u
#define NSFLOW_PROF_CTRL_ENABLE_SHIFT 0u
#define NSFLOW_PROF_CTRL_ENABLE_MASK 0x00000001u /* RW Merge aged original flows into this profile */
#define NSFLOW_PROF_CTRL_MODE_SHIFT 8u
#define NSFLOW_PROF_CTRL_MODE_MASK 0x00000f00u /* RW Aggregation mode index 0..13 (documentation only to the datapath) */

/* PROF_FIELDS: Field-select mask of the aggregation key */
#define NSFLOW_PROF_FIELDS(i) (0x1004u + (uint32_t)(i) * 0x80u)
#define NSFLOW_PROF_FIELDS_COUNT 14u
#define NSFLOW_PROF_FIELDS_RESET 0x00000000u
#define NSFLOW_PROF_FIELDS_SELECT_SHIFT 0u
#define NSFLOW_PROF_FIELDS_SELECT_MASK 0x000fffffu /* RW Bit per key field (see key layout); bit 19 = prefix masking */

/* PROF_PREFIX_MIN: Minimum prefix lengths (mask ... minimum) */
#define NSFLOW_PROF_PREFIX_MIN(i) (0x1008u + (uint32_t)(i) * 0x80u)
#define NSFLOW_PROF_PREFIX_MIN_COUNT 14u
#define NSFLOW_PROF_PREFIX_MIN_RESET 0x00000000u
#define NSFLOW_PROF_PREFIX_MIN_SRC_SHIFT 0u
#define NSFLOW_PROF_PREFIX_MIN_SRC_MASK 0x000000ffu /* RW Source minimum 0..128 */
#define NSFLOW_PROF_PREFIX_MIN_DST_SHIFT 8u
#define NSFLOW_PROF_PREFIX_MIN_DST_MASK 0x0000ff00u /* RW Destination minimum 0..128 */

/* PROF_ACTIVE: Aggregate active timeout */
#define NSFLOW_PROF_ACTIVE(i) (0x100cu + (uint32_t)(i) * 0x80u)
#define NSFLOW_PROF_ACTIVE_COUNT 14u
#define NSFLOW_PROF_ACTIVE_RESET 0x00000708u
#define NSFLOW_PROF_ACTIVE_SECONDS_SHIFT 0u
#define NSFLOW_PROF_ACTIVE_SECONDS_MASK 0x0000ffffu /* RW Seconds (default 30 min; 0 ends every entry at its next check) */

/* PROF_INACTIVE: Aggregate inactive timeout */
#define NSFLOW_PROF_INACTIVE(i) (0x1010u + (uint32_t)(i) * 0x80u)
#define NSFLOW_PROF_INACTIVE_COUNT 14u
#define NSFLOW_PROF_INACTIVE_RESET 0x0000012cu
#define NSFLOW_PROF_INACTIVE_SECONDS_SHIFT 0u
#define NSFLOW_PROF_INACTIVE_SECONDS_MASK 0x0000ffffu /* RW Seconds (default 300 s; 0 ends every entry at its next check) */

/* PROF_OCCUPANCY: Entries in use in the profile's table */
#define NSFLOW_PROF_OCCUPANCY(i) (0x1014u + (uint32_t)(i) * 0x80u)
#define NSFLOW_PROF_OCCUPANCY_COUNT 14u
#define NSFLOW_PROF_OCCUPANCY_RESET 0x00000000u
#define NSFLOW_PROF_OCCUPANCY_ENTRIES_SHIFT 0u
#define NSFLOW_PROF_OCCUPANCY_ENTRIES_MASK 0xffffffffu /* RO Entries */

/* 64-bit statistics: write NSFLOW_CTRL_STATS_SNAPSHOT_MASK to NSFLOW_CTRL, then read LO (+0) and HI (+4). */
#define NSFLOW_STAT_RX_FRAMES 0x200u /* Frames offered to the parser */
#define NSFLOW_STAT_IPV6_PACKETS 0x208u /* IPv6 packets keyed */
#define NSFLOW_STAT_IPV6_BYTES 0x210u /* Bytes (IPv6 header + payload) of keyed IPv6 packets */
#define NSFLOW_STAT_IPV4_PACKETS 0x218u /* IPv4 packets (counted, not aggregated) */
#define NSFLOW_STAT_IPV4_BYTES 0x220u /* IPv4 Total Length of those */
#define NSFLOW_STAT_OTHER_FRAMES 0x228u /* Frames without IP, or with no link adapter */
#define NSFLOW_STAT_ERR_TRUNCATED_L2 0x230u /* Parse error: truncated link-layer header */
#define NSFLOW_STAT_ERR_TOO_MANY_VLAN_TAGS 0x238u /* Parse error: more than two VLAN tags */
#define NSFLOW_STAT_ERR_BAD_MPLS_STACK 0x240u /* Parse error: MPLS stack truncated or too deep */
#define NSFLOW_STAT_ERR_BAD_IP_VERSION 0x248u /* Parse error: IPv6 ethertype, other IP version */
#define NSFLOW_STAT_ERR_TRUNCATED_IPV6 0x250u /* Parse error: truncated IPv6 header */
#define NSFLOW_STAT_ERR_BAD_EXTENSION_CHAIN 0x258u /* Parse error: IPv6 extension chain truncated or too long */
#define NSFLOW_STAT_ERR_TRUNCATED_L4 0x260u /* Parse error: truncated L4 header */
#define NSFLOW_STAT_ERR_IPV6_BYTES 0x268u /* Bytes of IPv6 packets rejected by the parser (ignored octets) */
#define NSFLOW_STAT_ORIG_CREATED 0x270u /* Original flows created */
#define NSFLOW_STAT_ORIG_EVICTED 0x278u /* Original flows evicted for room (lack of resources) */
#define NSFLOW_STAT_ORIG_AGED_IDLE 0x280u /* Original flows aged: inactive */
#define NSFLOW_STAT_ORIG_AGED_ACTIVE 0x288u /* Original flows aged: active */
#define NSFLOW_STAT_ORIG_AGED_END 0x290u /* Original flows aged: FIN/RST or counter overflow */
#define NSFLOW_STAT_ORIG_AGED_FORCED 0x298u /* Original flows aged: flush */
#define NSFLOW_STAT_RECORDS_WRITTEN 0x2a0u /* Records written to the ring */
#define NSFLOW_STAT_STALL_RING_FULL 0x2a8u /* Cycles the record FIFO waited for ring space */
#define NSFLOW_STAT_STALL_INGRESS 0x2b0u /* Cycles a packet waited at ingress (pipeline busy) */
#define NSFLOW_STAT_STALL_TABLE 0x2b8u /* Cycles lost to table bandwidth or hazards */
#define NSFLOW_PROF_STAT_RECORDS(p) (0x1020u + (uint32_t)(p) * 0x80u) /* Records this profile exported */
#define NSFLOW_PROF_STAT_CREATED(p) (0x1028u + (uint32_t)(p) * 0x80u) /* Aggregates created */
#define NSFLOW_PROF_STAT_EVICTED(p) (0x1030u + (uint32_t)(p) * 0x80u) /* Aggregates evicted for room (lack of resources) */
#define NSFLOW_PROF_STAT_MERGED_FLOWS(p) (0x1038u + (uint32_t)(p) * 0x80u) /* Original flows merged */
#define NSFLOW_PROF_STAT_MERGED_PACKETS(p) (0x1040u + (uint32_t)(p) * 0x80u) /* Packets of merged original flows */
#define NSFLOW_PROF_STAT_MERGED_BYTES(p) (0x1048u + (uint32_t)(p) * 0x80u) /* Bytes of merged original flows */
#define NSFLOW_PROF_STAT_DROP_RECORDS(p) (0x1050u + (uint32_t)(p) * 0x80u) /* Records dropped (ring full beyond holding, or not written in the error state) */
#define NSFLOW_PROF_STAT_DROP_FLOWS(p) (0x1058u + (uint32_t)(p) * 0x80u) /* Original flows in dropped records */
#define NSFLOW_PROF_STAT_DROP_PACKETS(p) (0x1060u + (uint32_t)(p) * 0x80u) /* Packets in dropped records */
#define NSFLOW_PROF_STAT_DROP_BYTES(p) (0x1068u + (uint32_t)(p) * 0x80u) /* Bytes in dropped records */

/* Ring record, format 1, little-endian. */
#define NSFLOW_RECORD_BYTES 128u
#define NSFLOW_RECORD_FORMAT 1u
#define NSFLOW_KEY_BYTES 88u
struct nsflow_record {
    uint8_t version; /* record format version */
    uint8_t profile; /* profile index */
    uint8_t end_reason; /* IPFIX flowEndReason 1-5 */
    uint8_t flags; /* bit 0 phase; bits 7:1 reserved (0) */
    uint32_t flows; /* deltaFlowCount: original flows merged */
    uint64_t packets; /* packets */
    uint64_t bytes; /* bytes (IPv6 header + payload) */
    uint64_t first_ns; /* first packet, device ns */
    uint64_t last_ns; /* last packet, device ns */
    uint8_t key[NSFLOW_KEY_BYTES]; /* masked key, NSFLOW_KEY_* offsets */
};
NSFLOW_STATIC_ASSERT(sizeof(struct nsflow_record) == NSFLOW_RECORD_BYTES, record_size);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, version) == 0, record_version);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, profile) == 1, record_profile);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, end_reason) == 2, record_end_reason);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, flags) == 3, record_flags);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, flows) == 4, record_flows);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, packets) == 8, record_packets);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, bytes) == 16, record_bytes);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, first_ns) == 24, record_first_ns);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, last_ns) == 32, record_last_ns);
NSFLOW_STATIC_ASSERT(offsetof(struct nsflow_record, key) == 40, record_key);
#define NSFLOW_KEY_SRC_ADDR_OFFSET 0u
#define NSFLOW_KEY_SRC_ADDR_LEN 16u
#define NSFLOW_KEY_DST_ADDR_OFFSET 16u
#define NSFLOW_KEY_DST_ADDR_LEN 16u
#define NSFLOW_KEY_NEXT_HOP_OFFSET 32u
#define NSFLOW_KEY_NEXT_HOP_LEN 16u
#define NSFLOW_KEY_SRC_AS_OFFSET 48u
#define NSFLOW_KEY_SRC_AS_LEN 4u
#define NSFLOW_KEY_DST_AS_OFFSET 52u
#define NSFLOW_KEY_DST_AS_LEN 4u
#define NSFLOW_KEY_IN_IF_OFFSET 56u
#define NSFLOW_KEY_IN_IF_LEN 4u
#define NSFLOW_KEY_OUT_IF_OFFSET 60u
#define NSFLOW_KEY_OUT_IF_LEN 4u
#define NSFLOW_KEY_TOP_LABEL_ADDR_OFFSET 64u
#define NSFLOW_KEY_TOP_LABEL_ADDR_LEN 4u
#define NSFLOW_KEY_MPLS1_OFFSET 68u
#define NSFLOW_KEY_MPLS1_LEN 3u
#define NSFLOW_KEY_MPLS2_OFFSET 71u
#define NSFLOW_KEY_MPLS2_LEN 3u
#define NSFLOW_KEY_MPLS3_OFFSET 74u
#define NSFLOW_KEY_MPLS3_LEN 3u
#define NSFLOW_KEY_VLAN_OFFSET 77u
#define NSFLOW_KEY_VLAN_LEN 2u
#define NSFLOW_KEY_SRC_PORT_OFFSET 79u
#define NSFLOW_KEY_SRC_PORT_LEN 2u
#define NSFLOW_KEY_DST_PORT_OFFSET 81u
#define NSFLOW_KEY_DST_PORT_LEN 2u
#define NSFLOW_KEY_PROTOCOL_OFFSET 83u
#define NSFLOW_KEY_PROTOCOL_LEN 1u
#define NSFLOW_KEY_TOS_OFFSET 84u
#define NSFLOW_KEY_TOS_LEN 1u
#define NSFLOW_KEY_SRC_PLEN_OFFSET 85u
#define NSFLOW_KEY_SRC_PLEN_LEN 1u
#define NSFLOW_KEY_DST_PLEN_OFFSET 86u
#define NSFLOW_KEY_DST_PLEN_LEN 1u
#define NSFLOW_KEY_DIRECTION_OFFSET 87u
#define NSFLOW_KEY_DIRECTION_LEN 1u
#define NSFLOW_SELECT_SRC_ADDR (1u << 0)
#define NSFLOW_SELECT_DST_ADDR (1u << 1)
#define NSFLOW_SELECT_SRC_PLEN (1u << 2)
#define NSFLOW_SELECT_DST_PLEN (1u << 3)
#define NSFLOW_SELECT_PROTOCOL (1u << 4)
#define NSFLOW_SELECT_SRC_PORT (1u << 5)
#define NSFLOW_SELECT_DST_PORT (1u << 6)
#define NSFLOW_SELECT_TOS (1u << 7)
#define NSFLOW_SELECT_IN_IF (1u << 8)
#define NSFLOW_SELECT_OUT_IF (1u << 9)
#define NSFLOW_SELECT_VLAN (1u << 10)
#define NSFLOW_SELECT_MPLS1 (1u << 11)
#define NSFLOW_SELECT_MPLS2 (1u << 12)
#define NSFLOW_SELECT_MPLS3 (1u << 13)
#define NSFLOW_SELECT_TOP_LABEL_ADDR (1u << 14)
#define NSFLOW_SELECT_SRC_AS (1u << 15)
#define NSFLOW_SELECT_DST_AS (1u << 16)
#define NSFLOW_SELECT_NEXT_HOP (1u << 17)
#define NSFLOW_SELECT_DIRECTION (1u << 18)
#define NSFLOW_SELECT_PREFIX_MASK (1u << 19)
#define NSFLOW_MODE_AS 0u /* as: PROF_FIELDS 0x58300 */
#define NSFLOW_MODE_AS_TOS 1u /* as-tos: PROF_FIELDS 0x58380 */
#define NSFLOW_MODE_BGP_NEXTHOP_TOS 2u /* bgp-nexthop-tos: PROF_FIELDS 0x78380 */
#define NSFLOW_MODE_DESTINATION_PREFIX 3u /* destination-prefix: PROF_FIELDS 0xd020a */
#define NSFLOW_MODE_DESTINATION_PREFIX_TOS 4u /* destination-prefix-tos: PROF_FIELDS 0xd028a */
#define NSFLOW_MODE_INDEX_TOS 5u /* index-tos: PROF_FIELDS 0x40380 */
#define NSFLOW_MODE_MPLS_LABEL 6u /* mpls-label: PROF_FIELDS 0x47800 */
#define NSFLOW_MODE_PREFIX 7u /* prefix: PROF_FIELDS 0xd830f */
#define NSFLOW_MODE_PREFIX_TOS 8u /* prefix-tos: PROF_FIELDS 0xd838f */
#define NSFLOW_MODE_PROTOCOL_PORT 9u /* protocol-port: PROF_FIELDS 0x40070 */
#define NSFLOW_MODE_PROTOCOL_PORT_TOS 10u /* protocol-port-tos: PROF_FIELDS 0x403f0 */
#define NSFLOW_MODE_SOURCE_PREFIX 11u /* source-prefix: PROF_FIELDS 0xc8105 */
#define NSFLOW_MODE_SOURCE_PREFIX_TOS 12u /* source-prefix-tos: PROF_FIELDS 0xc8185 */
#define NSFLOW_MODE_VLAN_ID 13u /* vlan-id: PROF_FIELDS 0x40500 */

#endif /* NSFLOW_REGS_H */
