/* munify host runner: runs a generated model natively.
 *
 *   model_host [--layers] < inputs.bin > outputs.bin
 *
 * stdin holds any number of inputs of MUNIFY_INPUT_SIZE bytes. For each one, stdout gets, with --layers,
 * every layer's output as a record {int32 layer, uint32 size, size bytes} (little-endian host order), then
 * the model output (MUNIFY_OUTPUT_SIZE bytes). Exit status 0 on success, 1 on a short read or write.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static int8_t input[MUNIFY_INPUT_SIZE];
static int8_t output[MUNIFY_OUTPUT_SIZE];
static int write_failed;

static void write_bytes(const void *data, size_t size)
{
    if (fwrite(data, 1, size, stdout) != size) {
        write_failed = 1;
    }
}

static void dump_layer(int layer, const int8_t *data, uint32_t size, void *ctx)
{
    const int32_t index = layer;
    (void)ctx;
    write_bytes(&index, sizeof index);
    write_bytes(&size, sizeof size);
    write_bytes(data, size);
}

int main(int argc, char **argv)
{
    const int layers = argc > 1 && strcmp(argv[1], "--layers") == 0;
    for (;;) {
        const size_t got = fread(input, 1, sizeof input, stdin);
        if (got == 0 && feof(stdin)) {
            break;
        }
        if (got != sizeof input) {
            fprintf(stderr, "model_host: short input (%lu of %d bytes)\n", (unsigned long)got, MUNIFY_INPUT_SIZE);
            return 1;
        }
        munify_model_run_hooked(input, output, layers ? dump_layer : NULL, NULL);
        write_bytes(output, sizeof output);
    }
    fflush(stdout);
    return write_failed ? 1 : 0;
}
