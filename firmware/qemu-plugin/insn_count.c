/* insn_count: a QEMU TCG plugin (plugin API version 1, QEMU 7.x) that counts executed guest instructions,
 * in total and per address range, exactly: every instruction carries its own inline counter increment, so a
 * translation block left early (an exception, an icount I/O restart) counts only the instructions it started.
 * (QEMU does not instrument the one-instruction block it re-runs an I/O access in, so nothing counts twice:
 * uart_write, with its MMIO accesses, counts exactly 6 instructions per call.)
 *
 *   qemu-... -plugin insn_count.so,ranges=RANGES,out=RESULT ...
 *
 * RANGES: one range a line, "START END FLAG NAME": hexadecimal [START, END), FLAG "m" or "-", NAME the rest
 * of the line; sorted by START, not overlapping. A range's first instruction counts its entries; a flagged
 * ("m") range also logs the running total each time that instruction runs (a mark), which lets the caller
 * cut the run into windows: one inference, one layer.
 *
 * RESULT, written at exit (to RESULT.tmp, then renamed):
 *   insn-count 1
 *   total N                      every instruction executed
 *   range NAME COUNT ENTRIES     each range that executed, in file order; COUNT excludes callees
 *   outside COUNT                instructions outside every range
 *   marks-lost N                 only if memory ran out for the mark log
 *   mark NAME TOTAL              in execution order; TOTAL = the running count when the mark's instruction
 *                                is reached (one convention for every mark: differences between marks are exact)
 *
 * One vCPU: the counters are plain (not atomic) increments, right for the single-core MPS2/MPS3 machines
 * and a single-threaded user-mode process.
 *
 * QEMU ships no header for plugins on Debian; the declarations below are the few calls used here, written
 * from QEMU's plugin API documentation (docs/devel/tcg-plugins.rst, API version 1). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 ------------------------------------------------------------------ */

#define PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* not read: an opaque pointer is all this plugin needs */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);

PLUGIN_EXPORT int qemu_plugin_version = 1;
PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* ---- state --------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t start;
    uint64_t end;
    bool marked;
    char *name;
    uint64_t count;   /* instructions executed inside [start, end) */
    uint64_t entries; /* executions of the instruction at start */
} Range;

typedef struct {
    size_t range;
    uint64_t total;
} Mark;

static Range *ranges;
static size_t n_ranges;
static uint64_t outside; /* instructions in no range */
static Mark *marks;
static size_t n_marks, marks_capacity;
static uint64_t marks_lost; /* marks not logged for want of memory: the result says so */
static char *out_path;

/* ---- the ranges file ----------------------------------------------------------------------------- */

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "insn_count: %s%s\n", what, detail);
    return -1;
}

static int parse_range(char *text, Range *range)
{
    unsigned long long start, end;
    char flag;
    int name_at = 0;
    if (sscanf(text, "%llx %llx %c %n", &start, &end, &flag, &name_at) != 3 || name_at == 0 || end <= start ||
        (flag != 'm' && flag != '-')) {
        return 0;
    }
    text[strcspn(text, "\r\n")] = '\0';
    if (text[name_at] == '\0') {
        return 0;
    }
    *range = (Range){.start = start, .end = end, .marked = flag == 'm', .name = strdup(text + name_at)};
    return range->name != NULL;
}

static int read_ranges(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return fail("cannot read the ranges file ", path);
    }
    char *line = NULL;
    size_t line_size = 0, capacity = 0;
    int status = 0;
    while (getline(&line, &line_size, file) != -1) {
        if (n_ranges == capacity) {
            capacity = capacity ? 2 * capacity : 256;
            Range *grown = realloc(ranges, capacity * sizeof *ranges);
            if (grown == NULL) {
                status = fail("out of memory reading ", path);
                break;
            }
            ranges = grown;
        }
        if (!parse_range(line, &ranges[n_ranges])) {
            status = fail("bad line (want 'START END m|- NAME') in ", path);
            break;
        }
        if (n_ranges > 0 && ranges[n_ranges].start < ranges[n_ranges - 1].end) {
            status = fail("ranges not sorted or overlapping in ", path);
            break;
        }
        n_ranges++;
    }
    free(line);
    fclose(file);
    return status;
}

static Range *range_at(uint64_t address)
{
    size_t low = 0, high = n_ranges;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (address < ranges[middle].start) {
            high = middle;
        } else if (address >= ranges[middle].end) {
            low = middle + 1;
        } else {
            return &ranges[middle];
        }
    }
    return NULL;
}

/* ---- counting ------------------------------------------------------------------------------------ */

static uint64_t running_total(void)
{
    uint64_t total = outside;
    for (size_t i = 0; i < n_ranges; i++) {
        total += ranges[i].count;
    }
    return total;
}

static void on_mark(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    if (n_marks == marks_capacity) {
        size_t capacity = marks_capacity ? 2 * marks_capacity : 4096;
        Mark *grown = realloc(marks, capacity * sizeof *marks);
        if (grown == NULL) {
            marks_lost++;
            return;
        }
        marks = grown;
        marks_capacity = capacity;
    }
    marks[n_marks++] = (Mark){.range = (size_t)(uintptr_t)userdata, .total = running_total()};
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t address = qemu_plugin_insn_vaddr(insn);
        Range *range = range_at(address);
        if (range == NULL) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &outside, 1);
            continue;
        }
        if (address == range->start) {
            if (range->marked) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)(range - ranges));
            }
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &range->entries, 1);
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &range->count, 1);
    }
}

/* ---- the result ---------------------------------------------------------------------------------- */

static int write_records(FILE *file)
{
    fprintf(file, "insn-count 1\ntotal %" PRIu64 "\n", running_total());
    for (size_t i = 0; i < n_ranges; i++) {
        if (ranges[i].count != 0) {
            fprintf(file, "range %s %" PRIu64 " %" PRIu64 "\n", ranges[i].name, ranges[i].count, ranges[i].entries);
        }
    }
    fprintf(file, "outside %" PRIu64 "\n", outside);
    if (marks_lost != 0) {
        fprintf(file, "marks-lost %" PRIu64 "\n", marks_lost);
    }
    for (size_t i = 0; i < n_marks; i++) {
        fprintf(file, "mark %s %" PRIu64 "\n", ranges[marks[i].range].name, marks[i].total);
    }
    return ferror(file) ? -1 : 0;
}

static void write_result(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    size_t length = strlen(out_path) + sizeof ".tmp";
    char *temporary = malloc(length);
    if (temporary == NULL) {
        fail("out of memory writing ", out_path);
        return;
    }
    snprintf(temporary, length, "%s.tmp", out_path);
    FILE *file = fopen(temporary, "w");
    if (file == NULL) {
        fail("cannot write ", temporary);
    } else if ((write_records(file) | fclose(file)) != 0 || rename(temporary, out_path) != 0) {
        fail("cannot write ", out_path);
        remove(temporary);
    }
    free(temporary);
}

/* ---- installation -------------------------------------------------------------------------------- */

static const char *argument(int argc, char **argv, const char *key)
{
    size_t length = strlen(key);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], key, length) == 0 && argv[i][length] == '=') {
            return argv[i] + length + 1;
        }
    }
    return NULL;
}

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    const char *ranges_path = argument(argc, argv, "ranges");
    const char *result_path = argument(argc, argv, "out");
    if (result_path == NULL) {
        return fail("missing argument out=FILE", "");
    }
    if (ranges_path != NULL && read_ranges(ranges_path) != 0) {
        return -1;
    }
    out_path = strdup(result_path);
    if (out_path == NULL) {
        return fail("out of memory", "");
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, write_result, NULL);
    return 0;
}
