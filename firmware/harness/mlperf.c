/* Input decoding and result lines as the MLPerf Tiny reference firmware does them (th_load_tensor,
 * th_results), so the MLCommons runner's datasets and scoring apply unchanged. */
#include "mlperf.h"

#include <math.h>
#include <string.h>

#include "out.h"

static const char *const ENCODING_NAMES[] = {"int8", "uint8", "float32"};

/* The last input came as the int8 tensor itself rather than in the dataset encoding. */
static int input_was_tensor;

#if MUNIFY_INPUT_ENCODING == MUNIFY_ENCODING_FLOAT32
static float wire_float(const uint8_t *wire, uint32_t index)
{
    float value;
    memcpy(&value, wire + 4u * index, sizeof value);
    return value;
}

/* TFLite's float -> int8 quantization: round half away from zero, then saturate. NaN maps to the zero point. */
static int8_t quantize(float value)
{
    float scaled = value / MUNIFY_INPUT_SCALE;
    if (!(scaled > -1024.0f)) {
        scaled = scaled != scaled ? 0.0f : -1024.0f;
    } else if (scaled > 1024.0f) {
        scaled = 1024.0f;
    }
    int32_t q = (int32_t)roundf(scaled) + MUNIFY_INPUT_ZERO_POINT;
    return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}
#endif

int mlperf_input_size_ok(uint32_t size)
{
    return size == MLPERF_WIRE_INPUT_SIZE || size == MUNIFY_INPUT_SIZE;
}

void mlperf_decode_input(const uint8_t *wire, uint32_t size, int8_t *input)
{
    input_was_tensor = size == MUNIFY_INPUT_SIZE && size != MLPERF_WIRE_INPUT_SIZE;
    if (input_was_tensor) {
        memcpy(input, wire, MUNIFY_INPUT_SIZE);
        return;
    }
    for (uint32_t i = 0; i < MUNIFY_INPUT_SIZE; i++) {
#if MUNIFY_INPUT_ENCODING == MUNIFY_ENCODING_FLOAT32
        input[i] = quantize(wire_float(wire, i));
#elif MUNIFY_INPUT_ENCODING == MUNIFY_ENCODING_UINT8
        input[i] = (int8_t)(wire[i] ^ 0x80u);
#else
        input[i] = (int8_t)wire[i];
#endif
    }
}

static float dequantize_output(int8_t q)
{
    return (float)((int32_t)q - MUNIFY_OUTPUT_ZERO_POINT) * MUNIFY_OUTPUT_SCALE;
}

#if MUNIFY_RESULTS == MUNIFY_RESULTS_RECONSTRUCTION_ERROR
static float input_value(const uint8_t *wire, const int8_t *input, uint32_t i)
{
#if MUNIFY_INPUT_ENCODING == MUNIFY_ENCODING_FLOAT32
    if (!input_was_tensor) {
        return wire_float(wire, i);
    }
#else
    (void)wire;
#endif
    return (float)((int32_t)input[i] - MUNIFY_INPUT_ZERO_POINT) * MUNIFY_INPUT_SCALE;
}

/* The ad01 anomaly score of the reference firmware: mean over the features of (output - input)^2. */
static float reconstruction_error(const uint8_t *wire, const int8_t *input, const int8_t *output)
{
    float sum = 0.0f;
    for (uint32_t i = 0; i < MUNIFY_OUTPUT_SIZE; i++) {
        float difference = dequantize_output(output[i]) - input_value(wire, input, i);
        sum += difference * difference;
    }
    return sum / (float)MUNIFY_OUTPUT_SIZE;
}
#endif

void mlperf_print_results(const uint8_t *wire, const int8_t *input, const int8_t *output)
{
    out_str("m-results-[");
#if MUNIFY_RESULTS == MUNIFY_RESULTS_RECONSTRUCTION_ERROR
    out_float(reconstruction_error(wire, input, output));
#else
    (void)wire;
    (void)input;
    for (uint32_t i = 0; i < MUNIFY_OUTPUT_SIZE; i++) {
        if (i != 0) {
            out_str(",");
        }
        out_float(dequantize_output(output[i]));
    }
#endif
    out_str("]");
    out_end();
}

void mlperf_print_input_format(void)
{
    out_line_bracket("m-munify-input-encoding-", ENCODING_NAMES[MUNIFY_INPUT_ENCODING]);
}
