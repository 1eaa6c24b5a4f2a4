/* munify host runner: runs a generated model natively.
 *
 *   model_host [--layers] [inputs.bin] > outputs.bin      (no file: inputs on stdin)
 *
 * The input holds any number of inputs of MUNIFY_INPUT_SIZE bytes. For each one, stdout gets, with --layers,
 * every layer's output as a record {int32 layer, uint32 size, size bytes} (little-endian host order), then
 * the model output (MUNIFY_OUTPUT_SIZE bytes). Exit status 0 on success, 1 on a short read or write, 2 on a
 * bad command line or an input file that cannot be opened.
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
    int layers = 0;
    FILE *in = stdin;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--layers") == 0) {
            layers = 1;
        } else if (in == stdin) {
            in = fopen(argv[i], "rb");
            if (in == NULL) {
                fprintf(stderr, "model_host: cannot open %s\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: model_host [--layers] [inputs.bin]\n");
            return 2;
        }
    }
    for (;;) {
        const size_t got = fread(input, 1, sizeof input, in);
        if (got == 0 && feof(in)) {
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
