/* Commands end with '%', replies end with "\r\n", "m-" lines are messages, "e-" lines errors, and every
 * command is closed by "m-ready". Standard EEMBC commands keep their exact reply strings so the
 * MLCommons runner drives this firmware unchanged; munify's own commands start with "munify". */
#include "protocol.h"

#include <stddef.h>
#include <string.h>

#include "hal.h"
#include "mlperf.h"
#include "model.h"
#include "out.h"

#define COMMAND_MAX 80u
#define MAX_TOKENS 8
#define DEFAULT_WARMUPS 10u
/* Bounds of `infer N W`: a typo such as `infer 1 4294967295%` is refused instead of running for days. */
#define MAX_INFERENCES 100000u
#define MAX_WARMUPS 100000u
/* m-lap-us is a 32-bit count (EEMBC prints an unsigned long): a window may last at most 2^31 us, and a
 * window starts only with 2^31 us of headroom before the count wraps (see lap_start_window). A test build
 * sets a smaller half range in mlperf_profile.h to see both happen. */
#ifndef MUNIFY_LAP_US_HALF_RANGE
#define MUNIFY_LAP_US_HALF_RANGE 0x80000000u
#endif
#define US_PER_SECOND 1000000u
#define FIRMWARE_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define DEVICE_NAME "munify"

typedef enum { TRACE_OFF, TRACE_TICKS, TRACE_TENSORS } TraceMode;
typedef enum { RUN_DONE, RUN_FAILED, RUN_STOPPED_BY_HOST, RUN_WINDOW_FULL } RunEnd;

typedef struct {
    uint64_t min_ticks;
    uint64_t max_ticks;
    uint64_t sum_ticks;
} Tally;

typedef struct {
    char text[COMMAND_MAX + 1];
    uint32_t length;
    int too_long;
} CommandLine;

typedef struct {
    uint32_t count;
    char *argv[MAX_TOKENS];
} Tokens;

typedef struct {
    const char *name;
    void (*run)(const Tokens *tokens);
} Command;

static CommandLine line;
static uint8_t wire_input[MLPERF_WIRE_INPUT_SIZE] __attribute__((aligned(16)));
static int8_t input[MUNIFY_INPUT_SIZE] __attribute__((aligned(16)));
static int8_t output[MUNIFY_OUTPUT_SIZE] __attribute__((aligned(16)));
static uint32_t expected_bytes;
static uint32_t loaded_bytes;
static int have_output;
static TraceMode trace_mode;
static uint64_t layer_ticks[MUNIFY_NUM_LAYERS];
static uint64_t layer_start;
static uint64_t lap_epoch_ticks;
static uint32_t lap_epoch_us;

/* ---- replies ---------------------------------------------------------------------------------- */

static void error(const char *text)
{
    out_line_bracket("e-", text);
}

static void error_with_number(const char *before, uint64_t value, const char *after)
{
    out_str("e-[");
    out_str(before);
    out_u64(value);
    out_str(after);
    out_str("]");
    out_end();
}

static void error_with_text(const char *before, const char *text)
{
    out_str("e-[");
    out_str(before);
    out_str(text);
    out_str("]");
    out_end();
}

static uint64_t ticks_to_us(uint64_t ticks)
{
    uint64_t hz = hal_tick_hz();
    return (ticks / hz) * 1000000u + (ticks % hz) * 1000000u / hz;
}

/* The protocol's 32-bit microsecond count: lap_epoch_us at tick lap_epoch_ticks (boot at first), then whole
 * microseconds of ticks since then. */
static uint32_t lap_us(uint64_t ticks)
{
    return lap_epoch_us + (uint32_t)ticks_to_us(ticks - lap_epoch_ticks);
}

/* A window's first stamp becomes the epoch, so its length converts to microseconds the same way every time
 * (whole microseconds of its ticks, whatever the phase), and a count past 2^31 restarts at 0, so no window
 * shorter than 2^31 us straddles a wrap. The count never goes back except at that restart. */
static void lap_start_window(uint64_t ticks)
{
    uint32_t now = lap_us(ticks);
    lap_epoch_ticks = ticks;
    lap_epoch_us = now >= MUNIFY_LAP_US_HALF_RANGE ? 0u : now;
}

static void print_lap(uint64_t ticks)
{
    out_line_u64("m-lap-us-", lap_us(ticks));
}

/* ---- parsing ---------------------------------------------------------------------------------- */

static int parse_u32(const char *text, uint32_t *value)
{
    uint64_t result = 0;
    if (*text == '\0') {
        return 0;
    }
    for (; *text; text++) {
        if (*text < '0' || *text > '9') {
            return 0;
        }
        result = result * 10u + (uint64_t)(*text - '0');
        if (result > 0xFFFFFFFFu) {
            return 0;
        }
    }
    *value = (uint32_t)result;
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int tokenize(char *text, Tokens *tokens)
{
    tokens->count = 0;
    for (;;) {
        while (*text == ' ') {
            *text++ = '\0';
        }
        if (*text == '\0') {
            return 1;
        }
        if (tokens->count == MAX_TOKENS) {
            return 0;
        }
        tokens->argv[tokens->count++] = text;
        while (*text != ' ' && *text != '\0') {
            text++;
        }
    }
}

static int require_args(const Tokens *tokens, uint32_t most, const char *usage)
{
    if (tokens->count > most) {
        error_with_text("Too many arguments; usage: ", usage);
        return 0;
    }
    return 1;
}

/* ---- inference -------------------------------------------------------------------------------- */

static void layer_hook(int layer, const int8_t *data, uint32_t size, void *ctx)
{
    (void)ctx;
    if (layer < 0 || layer >= MUNIFY_NUM_LAYERS) {
        return;
    }
    layer_ticks[layer] = hal_ticks() - layer_start;
    if (trace_mode == TRACE_TENSORS) {
        out_str("m-munify-tensor-");
        out_u64((uint64_t)layer);
        out_str("-[");
        out_hex((const uint8_t *)data, size);
        out_str("]");
        out_end();
    }
    /* Restart after printing so a tensor dump does not count against the next layer. */
    layer_start = hal_ticks();
}

static int run_model(uint64_t *ticks)
{
    int status;
    if (trace_mode != TRACE_OFF) {
        memset(layer_ticks, 0, sizeof layer_ticks); /* a layer that never calls the hook reads 0 */
    }
    uint64_t start = hal_ticks();
    layer_start = start;
    if (trace_mode == TRACE_OFF) {
        status = munify_model_run(input, output);
    } else {
        status = munify_model_run_hooked(input, output, layer_hook, NULL);
    }
    *ticks = hal_ticks() - start;
    return status;
}

static void print_results(void)
{
    mlperf_print_results(wire_input, input, output);
    out_str("m-munify-output-[");
    out_hex((const uint8_t *)output, MUNIFY_OUTPUT_SIZE);
    out_str("]");
    out_end();
}

static void print_layer_ticks(void)
{
    out_str("m-munify-layer-ticks-[");
    for (uint32_t i = 0; i < MUNIFY_NUM_LAYERS; i++) {
        if (i != 0) {
            out_str(",");
        }
        out_u64(layer_ticks[i]);
    }
    out_str("]");
    out_end();
}

/* `count` inferences back to back, each timed on its own. Between inferences a byte from the host stops the
 * run (it is left unread: it begins the next command), and so does an inference that would end past
 * `deadline` ticks. */
static RunEnd run_counted(uint32_t count, uint64_t deadline, Tally *tally)
{
    tally->min_ticks = UINT64_MAX;
    tally->max_ticks = 0;
    tally->sum_ticks = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t ticks;
        if (hal_byte_waiting()) {
            return RUN_STOPPED_BY_HOST;
        }
        if (hal_ticks() + tally->max_ticks >= deadline) { /* the next one, as long as the longest, would pass it */
            return RUN_WINDOW_FULL;
        }
        int status = run_model(&ticks);
        if (status != 0) {
            out_str("e-[munify_model_run failed with status ");
            out_i32(status);
            out_str("]");
            out_end();
            return RUN_FAILED;
        }
        tally->min_ticks = ticks < tally->min_ticks ? ticks : tally->min_ticks;
        tally->max_ticks = ticks > tally->max_ticks ? ticks : tally->max_ticks;
        tally->sum_ticks += ticks;
    }
    return RUN_DONE;
}

/* True when the run completed; otherwise reports why it did not (a failed run has reported already). */
static int run_completed(RunEnd end)
{
    if (end == RUN_STOPPED_BY_HOST) {
        error("infer stopped: the host sent a byte");
    } else if (end == RUN_WINDOW_FULL) {
        error("infer stopped: the window would outlast the 32-bit lap count; use fewer inferences");
    }
    return end == RUN_DONE;
}

static uint64_t window_limit_ticks(void)
{
    return (uint64_t)hal_tick_hz() * MUNIFY_LAP_US_HALF_RANGE / US_PER_SECOND;
}

/* EEMBC's ee_infer: decode the input, W untimed warm-ups, then a window of N inferences between two
 * m-lap-us stamps. The window starts on a tick edge (hal_tick_sync, outside the window), so under QEMU
 * -icount its length is an exact, repeatable instruction count; both stamps are printed after it ends, so
 * no serial output falls inside it. */
static void infer(uint32_t count, uint32_t warmups)
{
    Tally tally;
    mlperf_decode_input(wire_input, loaded_bytes, input);
    out_line_u64("m-warmup-start-", warmups);
    if (!run_completed(run_counted(warmups, UINT64_MAX, &tally))) {
        return;
    }
    out_str("m-warmup-done");
    out_end();
    out_line_u64("m-infer-start-", count);
    hal_tick_sync();
    uint64_t window_start = hal_ticks();
    lap_start_window(window_start);
    RunEnd end = run_counted(count, window_start + window_limit_ticks(), &tally);
    uint64_t window_end = hal_ticks();
    if (!run_completed(end)) {
        return;
    }
    print_lap(window_start);
    print_lap(window_end);
    out_str("m-infer-done");
    out_end();
    have_output = 1;
    print_results();
    out_line_u64("m-munify-ticks-min-", tally.min_ticks);
    out_line_u64("m-munify-ticks-max-", tally.max_ticks);
    out_line_u64("m-munify-ticks-sum-", tally.sum_ticks);
    out_line_u64("m-munify-tick-hz-", hal_tick_hz());
    if (trace_mode != TRACE_OFF) {
        print_layer_ticks();
    }
}

/* ---- commands --------------------------------------------------------------------------------- */

static void cmd_name(const Tokens *tokens)
{
    if (require_args(tokens, 1, "name")) {
        out_line_bracket("m-name-dut-", DEVICE_NAME);
    }
}

static void cmd_timestamp(const Tokens *tokens)
{
    if (require_args(tokens, 1, "timestamp")) {
        print_lap(hal_ticks());
    }
}

static void cmd_profile(const Tokens *tokens)
{
    if (require_args(tokens, 1, "profile")) {
        out_line_bracket("m-profile-", FIRMWARE_VERSION);
        out_line_bracket("m-model-", MUNIFY_MLPERF_MODEL_ID);
    }
}

static void cmd_help(const Tokens *tokens)
{
    if (!require_args(tokens, 1, "help")) {
        return;
    }
    out_str(FIRMWARE_VERSION "\r\n\r\n"
            "help              : Print this information\r\n"
            "name              : Print the name of the device\r\n"
            "timestamp         : Generate a timestamp\r\n"
            "profile           : Print the firmware profile and model\r\n"
            "db load N         : Expect N input bytes (N = the model input in its MLPerf encoding)\r\n"
            "db HH[HH]*        : Load hex bytes until N bytes\r\n"
            "db print          : Print the loaded bytes as hex\r\n"
            "infer N [W=10]    : Run N <= 100000 inferences after W <= 100000 warmups (a byte stops it)\r\n"
            "results           : Print the last output\r\n"
            "munify info       : Model, memory and timer facts\r\n"
            "munify trace MODE : off | ticks (per layer) | tensors (per layer output)\r\n"
            "munify exit N     : Stop with exit status N\r\n");
}

static void wrong_input_size(void)
{
    out_str("e-[db load: the model input is ");
    out_u64(MLPERF_WIRE_INPUT_SIZE);
    out_str(" bytes");
#if MLPERF_WIRE_INPUT_SIZE != MUNIFY_INPUT_SIZE
    out_str(" (float32) or ");
    out_u64(MUNIFY_INPUT_SIZE);
    out_str(" (the int8 tensor)");
#endif
    out_str("]");
    out_end();
}

static void db_load(const Tokens *tokens)
{
    uint32_t size;
    if (tokens->count < 3) {
        error("Command 'db load' requires the # of bytes");
        return;
    }
    if (!require_args(tokens, 3, "db load N")) {
        return;
    }
    if (!parse_u32(tokens->argv[2], &size)) {
        error_with_text("Invalid byte count: ", tokens->argv[2]);
        return;
    }
    if (!mlperf_input_size_ok(size)) {
        wrong_input_size();
        return;
    }
    expected_bytes = size;
    loaded_bytes = 0;
    out_str("m-[Expecting ");
    out_u64(size);
    out_str(" bytes]");
    out_end();
}

static void db_print(const Tokens *tokens)
{
    if (!require_args(tokens, 2, "db print")) {
        return;
    }
    for (uint32_t i = 0; i < loaded_bytes; i += 8u) {
        uint32_t end = i + 8u < loaded_bytes ? i + 8u : loaded_bytes;
        out_str("m-buffer-");
        for (uint32_t j = i; j < end; j++) {
            if (j != i) {
                out_str("-");
            }
            out_hex(&wire_input[j], 1);
        }
        out_end();
    }
}

static void db_data(const char *hex)
{
    uint32_t digits = (uint32_t)strlen(hex);
    if (expected_bytes == 0) {
        error("db: no 'db load N' before the data");
        return;
    }
    if (digits % 2u != 0) {
        error("Odd number of hex digits");
        return;
    }
    for (uint32_t i = 0; i < digits; i++) {
        if (hex_value(hex[i]) < 0) {
            error_with_text("Invalid hex digit in ", hex);
            return;
        }
    }
    if (loaded_bytes + digits / 2u > expected_bytes) {
        error_with_number("db: data overflows the ", expected_bytes, " expected bytes");
        return;
    }
    for (uint32_t i = 0; i < digits; i += 2u) {
        wire_input[loaded_bytes++] = (uint8_t)(hex_value(hex[i]) * 16 + hex_value(hex[i + 1]));
    }
    if (loaded_bytes == expected_bytes) {
        out_str("m-load-done");
        out_end();
    }
}

static void cmd_db(const Tokens *tokens)
{
    if (tokens->count < 2) {
        error("Command 'db' requires a subcommand");
    } else if (strcmp(tokens->argv[1], "load") == 0) {
        db_load(tokens);
    } else if (strcmp(tokens->argv[1], "print") == 0) {
        db_print(tokens);
    } else if (require_args(tokens, 2, "db HH[HH]*")) {
        db_data(tokens->argv[1]);
    }
}

static void cmd_infer(const Tokens *tokens)
{
    uint32_t count = 1;
    uint32_t warmups = DEFAULT_WARMUPS;
    if (!require_args(tokens, 3, "infer N [W]")) {
        return;
    }
    if (tokens->count > 1 && (!parse_u32(tokens->argv[1], &count) || count == 0)) {
        error("Inference iterations must be >0");
        return;
    }
    if (count > MAX_INFERENCES) {
        error_with_number("Inference iterations must be <=", MAX_INFERENCES, "");
        return;
    }
    if (tokens->count > 2 && !parse_u32(tokens->argv[2], &warmups)) {
        error("Inference warmup must be >=0");
        return;
    }
    if (warmups > MAX_WARMUPS) {
        error_with_number("Inference warmup must be <=", MAX_WARMUPS, "");
        return;
    }
    if (expected_bytes == 0 || loaded_bytes != expected_bytes) {
        error_with_number("infer: input not loaded (have ", loaded_bytes,
                          " bytes; send 'db load N' and the data first)");
        return;
    }
    infer(count, warmups);
}

static void cmd_results(const Tokens *tokens)
{
    if (!require_args(tokens, 1, "results")) {
        return;
    }
    if (!have_output) {
        error("results: no inference has run yet");
        return;
    }
    print_results();
}

static void munify_info(void)
{
    out_line_bracket("m-munify-model-", MUNIFY_MODEL_NAME);
    out_line_bracket("m-munify-model-id-", MUNIFY_MLPERF_MODEL_ID);
    mlperf_print_input_format();
    out_line_u64("m-munify-input-bytes-", MUNIFY_INPUT_SIZE);
    out_line_u64("m-munify-output-bytes-", MUNIFY_OUTPUT_SIZE);
    out_line_u64("m-munify-arena-bytes-", MUNIFY_ARENA_SIZE);
    out_line_u64("m-munify-stack-bytes-", hal_stack_size());
    out_line_u64("m-munify-stack-used-", hal_stack_used());
    out_line_u64("m-munify-tick-hz-", hal_tick_hz());
    out_line_u64("m-munify-layers-", MUNIFY_NUM_LAYERS);
    for (uint32_t i = 0; i < MUNIFY_NUM_LAYERS; i++) {
        out_str("m-munify-layer-");
        out_u64(i);
        out_str("-[");
        out_str(munify_layer_names[i]);
        out_str("]-[");
        out_str(munify_layer_kernels[i]);
        out_str("]");
        out_end();
    }
}

static void munify_trace(const Tokens *tokens)
{
    static const char *const modes[] = {"off", "ticks", "tensors"};
    if (tokens->count != 3) {
        error("usage: munify trace off|ticks|tensors");
        return;
    }
    for (uint32_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(tokens->argv[2], modes[i]) == 0) {
            trace_mode = (TraceMode)i;
            out_line_bracket("m-munify-trace-", modes[i]);
            return;
        }
    }
    error_with_text("Unknown trace mode (off, ticks, tensors): ", tokens->argv[2]);
}

static void munify_exit(const Tokens *tokens)
{
    uint32_t status = 0;
    if (tokens->count > 3 || (tokens->count == 3 && !parse_u32(tokens->argv[2], &status)) || status > 255u) {
        error("usage: munify exit [N], 0 <= N <= 255");
        return;
    }
    out_line_u64("m-munify-exit-", status);
    hal_exit((int)status);
}

static void cmd_munify(const Tokens *tokens)
{
    const char *sub = tokens->count > 1 ? tokens->argv[1] : "";
    if (strcmp(sub, "info") == 0) {
        if (require_args(tokens, 2, "munify info")) {
            munify_info();
        }
    } else if (strcmp(sub, "trace") == 0) {
        munify_trace(tokens);
    } else if (strcmp(sub, "exit") == 0) {
        munify_exit(tokens);
    } else {
        error_with_text("Unknown munify subcommand (info, trace, exit): ", sub);
    }
}

static const Command COMMANDS[] = {
    {"name", cmd_name},       {"timestamp", cmd_timestamp}, {"profile", cmd_profile},
    {"help", cmd_help},       {"db", cmd_db},               {"infer", cmd_infer},
    {"results", cmd_results}, {"munify", cmd_munify},
};

static void dispatch(char *text)
{
    Tokens tokens;
    if (!tokenize(text, &tokens)) {
        error("Too many arguments");
        return;
    }
    if (tokens.count == 0) {
        error("Empty command");
        return;
    }
    for (uint32_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        if (strcmp(tokens.argv[0], COMMANDS[i].name) == 0) {
            COMMANDS[i].run(&tokens);
            return;
        }
    }
    error_with_text("Unknown command: ", tokens.argv[0]);
}

static void ready(void)
{
    out_str("m-ready");
    out_end();
}

void protocol_start(void)
{
    out_str("m-timestamp-mode-performance");
    out_end();
    out_str("m-init-done");
    out_end();
    ready();
}

static void finish_command(void)
{
    if (line.too_long) {
        error_with_number("Command longer than ", COMMAND_MAX, " characters");
    } else {
        line.text[line.length] = '\0';
        dispatch(line.text);
    }
    line.length = 0;
    line.too_long = 0;
    ready();
}

void protocol_feed(uint8_t byte)
{
    if (byte == '%') {
        finish_command();
    } else if (byte == '\r' || byte == '\n') {
        /* Terminals send line ends; the protocol ignores them. */
    } else if (line.length == COMMAND_MAX) {
        line.too_long = 1;
    } else {
        /* Keep error replies printable whatever arrives on the wire. */
        line.text[line.length++] = (byte >= 0x20u && byte < 0x7Fu) ? (char)byte : '?';
    }
}
