/* Commands end with '%', replies end with "\r\n", "m-" lines are messages, "e-" lines errors, and every
 * command is closed by "m-ready". Standard EEMBC commands keep their exact reply strings so the
 * MLCommons runner drives this firmware unchanged; munify's own commands start with "munify". */
#include "protocol.h"

#include <stddef.h>
#include <string.h>

#include "hal.h"
#include "model.h"
#include "out.h"

#define COMMAND_MAX 80u
#define MAX_TOKENS 8
#define DEFAULT_WARMUPS 10u
#define FIRMWARE_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define DEVICE_NAME "munify"

typedef enum { TRACE_OFF, TRACE_TICKS, TRACE_TENSORS } TraceMode;

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
static int8_t input[MUNIFY_INPUT_SIZE] __attribute__((aligned(16)));
static int8_t output[MUNIFY_OUTPUT_SIZE] __attribute__((aligned(16)));
static uint32_t expected_bytes;
static uint32_t loaded_bytes;
static int have_output;
static TraceMode trace_mode;
static uint64_t layer_ticks[MUNIFY_NUM_LAYERS];
static uint64_t layer_start;

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

static void timestamp(void)
{
    out_line_u64("m-lap-us-", ticks_to_us(hal_ticks()));
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
    hal_tick_sync();
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
    out_str("m-results-[");
    for (uint32_t i = 0; i < MUNIFY_OUTPUT_SIZE; i++) {
        if (i != 0) {
            out_str(",");
        }
        out_i32(output[i]);
    }
    out_str("]");
    out_end();
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

static int run_counted(uint32_t count, uint64_t *min_ticks, uint64_t *max_ticks, uint64_t *sum_ticks)
{
    *min_ticks = UINT64_MAX;
    *max_ticks = 0;
    *sum_ticks = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t ticks;
        int status = run_model(&ticks);
        if (status != 0) {
            out_str("e-[munify_model_run failed with status ");
            out_i32(status);
            out_str("]");
            out_end();
            return 0;
        }
        *min_ticks = ticks < *min_ticks ? ticks : *min_ticks;
        *max_ticks = ticks > *max_ticks ? ticks : *max_ticks;
        *sum_ticks += ticks;
    }
    return 1;
}

static void infer(uint32_t count, uint32_t warmups)
{
    uint64_t min_ticks, max_ticks, sum_ticks;
    out_line_u64("m-warmup-start-", warmups);
    if (!run_counted(warmups, &min_ticks, &max_ticks, &sum_ticks)) {
        return;
    }
    out_str("m-warmup-done");
    out_end();
    out_line_u64("m-infer-start-", count);
    timestamp();
    if (!run_counted(count, &min_ticks, &max_ticks, &sum_ticks)) {
        return;
    }
    timestamp();
    out_str("m-infer-done");
    out_end();
    have_output = 1;
    print_results();
    out_line_u64("m-munify-ticks-min-", min_ticks);
    out_line_u64("m-munify-ticks-max-", max_ticks);
    out_line_u64("m-munify-ticks-sum-", sum_ticks);
    out_line_u64("m-munify-tick-hz-", hal_tick_hz());
    if (trace_mode != TRACE_OFF) {
        print_layer_ticks();
    }
}

/* ---- commands --------------------------------------------------------------------------------- */

static void cmd_name(const Tokens *tokens)
{
    (void)tokens;
    out_line_bracket("m-name-dut-", DEVICE_NAME);
}

static void cmd_timestamp(const Tokens *tokens)
{
    (void)tokens;
    timestamp();
}

static void cmd_profile(const Tokens *tokens)
{
    (void)tokens;
    out_line_bracket("m-profile-", FIRMWARE_VERSION);
    out_line_bracket("m-model-", MUNIFY_MODEL_NAME);
}

static void cmd_help(const Tokens *tokens)
{
    (void)tokens;
    out_str(FIRMWARE_VERSION "\r\n\r\n"
            "help              : Print this information\r\n"
            "name              : Print the name of the device\r\n"
            "timestamp         : Generate a timestamp\r\n"
            "profile           : Print the firmware profile and model\r\n"
            "db load N         : Expect N input bytes (N = the model input size)\r\n"
            "db HH[HH]*        : Load hex bytes until N bytes\r\n"
            "db print          : Print the loaded bytes as hex\r\n"
            "infer N [W=10]    : Run N inferences after W warmups\r\n"
            "results           : Print the last output\r\n"
            "munify info       : Model, memory and timer facts\r\n"
            "munify trace MODE : off | ticks (per layer) | tensors (per layer output)\r\n"
            "munify exit N     : Stop with exit status N\r\n");
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
    if (size != MUNIFY_INPUT_SIZE) {
        error_with_number("db load: the model input is " , MUNIFY_INPUT_SIZE, " bytes");
        return;
    }
    expected_bytes = size;
    loaded_bytes = 0;
    out_str("m-[Expecting ");
    out_u64(size);
    out_str(" bytes]");
    out_end();
}

static void db_print(void)
{
    for (uint32_t i = 0; i < loaded_bytes; i += 8u) {
        uint32_t end = i + 8u < loaded_bytes ? i + 8u : loaded_bytes;
        out_str("m-buffer-");
        for (uint32_t j = i; j < end; j++) {
            if (j != i) {
                out_str("-");
            }
            out_hex((const uint8_t *)&input[j], 1);
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
        input[loaded_bytes++] = (int8_t)(hex_value(hex[i]) * 16 + hex_value(hex[i + 1]));
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
        db_print();
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
    if (tokens->count > 2 && !parse_u32(tokens->argv[2], &warmups)) {
        error("Inference warmup must be >=0");
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
    (void)tokens;
    if (!have_output) {
        error("results: no inference has run yet");
        return;
    }
    print_results();
}

static void munify_info(void)
{
    out_line_bracket("m-munify-model-", MUNIFY_MODEL_NAME);
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
