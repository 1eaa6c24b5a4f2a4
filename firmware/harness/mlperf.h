/* The MLPerf Tiny side of a build: the model id `profile` reports, how `db` data encodes the model input, and
 * what `m-results-[...]` carries. The build writes the values into mlperf_profile.h next to model.h. */
#ifndef MUNIFY_MLPERF_H
#define MUNIFY_MLPERF_H

#include <stdint.h>

/* Input encodings (MUNIFY_INPUT_ENCODING), as the MLPerf Tiny datasets store each model's input. */
#define MUNIFY_ENCODING_INT8 0    /* the int8 tensor as is (kws01) */
#define MUNIFY_ENCODING_UINT8 1   /* uint8 values, the int8 tensor + 128 (ic01, vww01 images) */
#define MUNIFY_ENCODING_FLOAT32 2 /* little-endian float32 features, quantized on the device (ad01) */

/* Results (MUNIFY_RESULTS). */
#define MUNIFY_RESULTS_SCORES 0               /* every output dequantized: (q - zero_point) * scale */
#define MUNIFY_RESULTS_RECONSTRUCTION_ERROR 1 /* one value: mean squared error of output against input (ad01) */

#include "mlperf_profile.h"

#include "model.h"

#if MUNIFY_INPUT_ENCODING == MUNIFY_ENCODING_FLOAT32
#define MLPERF_WIRE_INPUT_SIZE (MUNIFY_INPUT_SIZE * 4u)
#else
#define MLPERF_WIRE_INPUT_SIZE MUNIFY_INPUT_SIZE
#endif

/* `db load N` takes the input in its dataset encoding (MLPERF_WIRE_INPUT_SIZE bytes) or, where that is
 * longer (float32), also as the int8 tensor itself (MUNIFY_INPUT_SIZE bytes; munify's own host sends that). */
int mlperf_input_size_ok(uint32_t size);

/* The `size` loaded bytes -> the model's int8 input tensor. */
void mlperf_decode_input(const uint8_t *wire, uint32_t size, int8_t *input);

/* The m-results-[...] line of the last inference. */
void mlperf_print_results(const uint8_t *wire, const int8_t *input, const int8_t *output);

/* m-munify-input-encoding-[...], for hosts that encode their int8 tensors. */
void mlperf_print_input_format(void);

#endif
