"""RunReport: the JSON document of `munify run --json` and the table it prints."""

import dataclasses
import json

from toolchain.runners.qemu import QemuSystemRunner
from toolchain.report import ExactInstructions, LayerCount, Latency, MemoryUse, Mismatch, RunReport, render


def make_report(mismatches=()):
    return RunReport(
        model="kws", board="mps2-an386", inputs=2, bit_exact=not mismatches, mismatches=list(mismatches),
        latency=Latency(1_000_040, 1_000_000, 1_000_080),
        layers=[LayerCount("conv_2d_0", "CONV_2D", "conv_dense_dsp", 750_000, macs=500_000),
                LayerCount("softmax_1", "SOFTMAX", "softmax_generic", 250_000)],
        memory=MemoryUse(49_000, 30_000, 16_000, 17_000, 16_000, 330))


def test_json_has_exactly_the_documented_fields(tmp_path):
    path = tmp_path / "report.json"
    make_report().write_json(path)
    doc = json.loads(path.read_text())
    assert list(doc) == ["model", "board", "runner", "inputs", "bit_exact", "mismatches", "latency", "layers",
                         "prediction", "memory"]
    assert doc["runner"] == "qemu"
    assert doc["latency"] == {"unit": "instructions", "per_inference": 1_000_040, "min": 1_000_000,
                              "max": 1_000_080, "instructions_exact": None}
    assert doc["layers"][0] == {"name": "conv_2d_0", "op": "CONV_2D", "kernel": "conv_dense_dsp", "count": 750_000,
                                "instructions_exact": None, "predicted": None}
    assert doc["prediction"] is None  # nothing was planned
    assert doc["memory"] == {"flash_bytes": 49_000, "weights_bytes": 30_000, "code_bytes": 16_000,
                             "static_ram_bytes": 17_000, "arena_bytes": 16_000, "stack_bytes": 330}


def test_table_shows_latency_layers_and_memory():
    text = render(make_report())
    assert "bit-exact: yes (2/2 match the reference)" in text
    assert "latency: 1,000,040 instructions per inference (min 1,000,000, max 1,000,080)" in text
    conv = next(line for line in text.splitlines() if line.startswith("conv_2d_0"))
    assert conv.split()[-4:] == ["750,000", "75.0", "500,000", "1.50"]  # instructions, %, MACs, per MAC
    softmax = next(line for line in text.splitlines() if line.startswith("softmax_1"))
    assert softmax.split()[-2:] == ["-", "-"]
    assert "instructions/MAC" in text
    assert "flash 49,000 B (weights 30,000, code 16,000)" in text and "stack 330 B" in text


def test_mismatch_names_input_layer_and_first_element():
    report = make_report([Mismatch(1, "output", None, 3, 5, -2, 4),
                          Mismatch(1, "t_conv", "conv_2d_0", 17, 9, 8, 1)])
    text = render(report)
    assert "bit-exact: NO (2 mismatch(es))" in text
    assert "input 1: the output differs in 4 element(s); first at [3]: expected 5, got -2" in text
    assert "input 1: layer 'conv_2d_0' (tensor 't_conv') differs in 1 element(s); first at [17]" in text
    assert json.loads(json.dumps(report.to_json()))["mismatches"][1]["layer"] == "conv_2d_0"


def test_ticks_convert_to_instructions_under_icount():
    assert QemuSystemRunner.count(1, 25_000_000) == 40  # MPS2: 25 MHz SysTick, 1 ns per instruction
    assert QemuSystemRunner.count(4, 32_000_000) == 125  # MPS3 AN547: 31.25 per tick


def test_exact_counts_sit_next_to_the_tick_figures():
    exact = dataclasses.replace(
        make_report(),
        latency=Latency(1_000_040, 1_000_000, 1_000_080, "instructions",
                        ExactInstructions(1_000_037, 1_000_011, 1_000_063, 1_000_063)),
        layers=[LayerCount("conv_2d_0", "CONV_2D", "conv_dense_dsp", 750_000, 500_000, 749_950),
                LayerCount("reshape_1", "RESHAPE", "reshape_alias", 40)])
    doc = exact.to_json()
    assert doc["latency"]["instructions_exact"] == {"per_inference": 1_000_037, "min": 1_000_011, "max": 1_000_063,
                                                    "last": 1_000_063}
    assert [layer["instructions_exact"] for layer in doc["layers"]] == [749_950, None]
    text = render(exact)
    assert "exact instructions (QEMU plugin, not cycles): 1,000,037 per inference (min 1,000,011, max 1,000,063)" \
        in text
    conv = next(line for line in text.splitlines() if line.startswith("conv_2d_0"))
    assert conv.split()[-2:] == ["749,950", "1.50"]
    reshape = next(line for line in text.splitlines() if line.startswith("reshape_1"))
    assert reshape.split()[-2:] == ["-", "-"]
    assert exact.instructions == 1_000_037 and make_report().instructions == 1_000_040


def predicted_report(unit="instructions"):
    layers = [LayerCount("conv_2d_0", "CONV_2D", "conv_dense_dsp", 750_000, macs=500_000, instructions_exact=735_000,
                         predicted=700_000.4),
              LayerCount("reshape_1", "RESHAPE", "reshape_alias", 0, predicted=0.0),
              LayerCount("softmax_2", "SOFTMAX", "softmax_generic", 250_000, instructions_exact=None,
                         predicted=250_000.0)]
    return RunReport(model="kws", board="mps2-an386", inputs=1, bit_exact=True, mismatches=[],
                     latency=Latency(1_000_040, 1_000_040, 1_000_040, unit), layers=layers,
                     memory=MemoryUse(49_000, 30_000, 16_000, 17_000, 16_000, 330))


def test_predicted_instructions_sit_beside_the_measured_ones():
    report = predicted_report()
    doc = report.to_json()
    assert [layer["predicted"] for layer in doc["layers"]] == [700_000, 0, 250_000]
    # conv: the exact count is compared (735,000 / 700,000.4 - 1); softmax: the tick count; the alias: nothing
    assert doc["prediction"] == {"predicted": 950_000, "measured": 1_000_040, "deviation": 0.0527,
                                 "tolerance": 0.05, "layers_compared": 2, "layers_within_tolerance": 2,
                                 "worst_layer": "conv_2d_0", "worst_deviation": 0.05}
    text = render(report)
    conv = next(line for line in text.splitlines() if line.startswith("conv_2d_0"))
    assert conv.split()[-2:] == ["700,000", "+5.0%"]
    assert next(line for line in text.splitlines() if line.startswith("reshape_1")).split()[-2:] == ["0", "-"]
    assert ("predicted by the plan's cost model: 950,000 instructions per inference; measured 1,000,040 (+5.3%); "
            "2/2 layers within ±5%, furthest: conv_2d_0 (+5.0%)") in text


def test_prediction_is_not_compared_with_host_time():
    report = predicted_report(unit="ns")
    prediction = report.to_json()["prediction"]
    assert prediction["measured"] is None and prediction["deviation"] is None
    assert prediction["layers_compared"] == 1  # only the layer the plugin counted in instructions
    assert "(not compared: this run does not measure instructions)" in render(report)
