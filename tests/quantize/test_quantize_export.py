"""Export torch -> IR: every supported layer, padding mapping, flatten orders, block structures, errors,
determinism. The integer-exact program must equal the integer reference on the IR value for value."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toolchain.errors import MunifyError
from toolchain.ir import BlockKind, load, reference, weight_matrix
from toolchain.models import FlattenNHWC, init_weights_
from toolchain.quantize import ExportError, quantize_model
from toolchain.quantize.api import batched_graph

from quant_helpers import random_structures


class Exotic(nn.Module):
    """Every exportable layer on an 8x8 input, including paddings that are and are not TFLite SAME."""

    def __init__(self, flatten: nn.Module):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)  # SAME
        self.bn = nn.BatchNorm2d(8)
        self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)  # SAME with dilation
        self.depthwise = nn.Conv2d(8, 16, 3, padding=1, groups=8)  # depth multiplier 2
        self.act6 = nn.ReLU6()
        self.strided = nn.Conv2d(16, 16, 3, stride=2, padding=1)  # 8 -> 4, not SAME: explicit PAD
        self.shortcut = nn.AvgPool2d(2)
        self.pool = nn.MaxPool2d(2)
        self.flatten = flatten
        self.fc = nn.Linear(16 * 2 * 2, 12)
        self.bn1d = nn.BatchNorm1d(12)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = torch.relu(self.dilated(x) + x)
        y = self.act6(self.depthwise(x))
        y = self.strided(y).relu() + self.shortcut(y)
        y = self.pool(y)
        y = F.relu(self.bn1d(self.fc(self.flatten(y))))
        return self.head(self.drop(y))


def _exotic(flatten: nn.Module = None, seed: int = 0) -> Exotic:
    model = Exotic(flatten if flatten is not None else FlattenNHWC())
    init_weights_(model, seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in (model.bn, model.bn1d):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=generator) * 0.1)
            bn.running_var.copy_(torch.rand(bn.num_features, generator=generator) + 0.5)
            bn.weight.copy_(torch.randn(bn.num_features, generator=generator))
    return model.eval()


def _loader(seed: int = 0, n: int = 64, shape=(3, 8, 8)) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *shape, generator=generator) * 2 - 0.5
    return DataLoader(TensorDataset(x, torch.zeros(n, dtype=torch.int64)), batch_size=32)


def _assert_program_matches_reference(q, x: torch.Tensor) -> None:
    """Every activation of the integer-exact torch program equals the reference's, code for code."""
    with torch.no_grad():
        values = q.program.run_all(x)
    ref = reference.run_all(batched_graph(q.graph, len(x)), [q.quantize_input(x)])
    for op in q.graph.ops:
        name = op.outputs[0]
        if name not in values:  # explicit PAD outputs exist only in the IR
            continue
        quant = q.program.quant_of(name)
        codes = torch.round(values[name] / quant.scale) + quant.zero_point
        codes = codes.permute(0, 2, 3, 1) if codes.dim() == 4 else codes
        assert np.array_equal(codes.numpy().astype(np.int8), ref[name]), f"{op.name} ({op.type}) differs"


def test_every_layer_exports_and_matches_the_reference():
    model = _exotic()
    q = quantize_model(model, {}, _loader())
    q.graph.validate()
    assert [op.type for op in q.graph.ops] == [
        "CONV_2D", "CONV_2D", "ADD", "DEPTHWISE_CONV_2D", "PAD", "CONV_2D", "AVERAGE_POOL_2D", "ADD",
        "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED"]
    ops = {op.name: op for op in q.graph.ops}
    assert ops["stem"].attrs["padding"] == "SAME" and ops["stem"].attrs["activation"] == "RELU"
    assert ops["dilated"].attrs["padding"] == "SAME" and ops["dilated"].attrs["dilation"] == (2, 2)
    assert ops["depthwise"].attrs["depth_multiplier"] == 2 and ops["depthwise"].attrs["activation"] == "RELU6"
    assert ops["strided"].attrs["padding"] == "VALID" and ops["strided.pad"].type == "PAD"
    assert q.graph.tensor("strided.pad.paddings").data.tolist() == [[0, 0], [1, 1], [1, 1], [0, 0]]
    assert ops["fc"].attrs["activation"] == "RELU" and ops["head"].attrs["activation"] == "NONE"
    assert q.graph.tensor("input").shape == (1, 8, 8, 3)
    assert q.graph.tensor("depthwise.weight").shape == (1, 3, 3, 16)
    assert q.graph.tensor("depthwise.weight").quant.axis == 3
    # pools keep their input's quantization (TFLite requires it)
    for pool in ("shortcut", "pool"):
        src, out = (q.graph.tensor(n).quant for n in (ops[pool].inputs[0], ops[pool].outputs[0]))
        assert src.scale[0] == out.scale[0] and src.zero_point[0] == out.zero_point[0]
    # relu-fused outputs start at 0
    assert q.graph.tensor("stem").quant.zero_point[0] == -128

    x = _loader(seed=1).dataset.tensors[0][:16]
    _assert_program_matches_reference(q, x)
    with torch.no_grad():
        float_out = model(x)
    fq = q.program.quant_of("head")
    dequantized = fq.scale * (q.reference_outputs(x).astype(np.float64) - fq.zero_point)
    assert np.abs(dequantized - float_out.numpy()).max() < 0.1 * float(float_out.abs().max())


def test_straight_through_fake_quant_is_within_one_code_of_the_reference():
    q = quantize_model(_exotic(), {}, _loader())
    x = _loader(seed=2).dataset.tensors[0]
    diff = np.abs(q.fake_quant_outputs(x, exact=False) - q.reference_outputs(x).astype(np.int64))
    assert diff.max() <= 2 and np.mean(diff == 0) > 0.8


def test_plain_flatten_before_a_dense_linear_reorders_its_columns():
    nhwc = quantize_model(_exotic(FlattenNHWC()), {}, _loader())
    nchw = quantize_model(_exotic(nn.Flatten()), {}, _loader())
    x = _loader(seed=3).dataset.tensors[0][:8]
    _assert_program_matches_reference(nchw, x)
    # the same weights in NCHW order need a permuted FC to compute the same function as the NHWC model
    assert not np.array_equal(nhwc.graph.tensor("fc.weight").data, nchw.graph.tensor("fc.weight").data)
    model = _exotic(nn.Flatten())
    with torch.no_grad():
        reference_logits = nchw.reference_outputs(x).argmax(axis=1)
        assert np.mean(reference_logits == model(x).argmax(1).numpy()) >= 0.75


def test_structured_model_exports_checked_block_structures():
    model = _exotic()
    structures = random_structures(model, bo=2, bi=4, prune=0.3, unify=0.5)
    q = quantize_model(model, structures, _loader())
    for layer, structure in structures.items():
        op = next(op for op in q.graph.ops if op.name == layer)
        weight = q.graph.weight_of(op)
        assert weight.blocks is not None, layer
        weight.blocks.check(weight_matrix(op.type, weight.data), weight.name)
        expected = structure.kinds.copy()
        expected[weight.blocks.kinds == BlockKind.PRUNED] = BlockKind.PRUNED  # magnitudes that rounded to 0
        assert np.array_equal(weight.blocks.kinds, expected)
        changed = int(np.sum(weight.blocks.kinds != structure.kinds))
        assert changed == q.report.pruned_by_rounding.get(layer, 0)
    assert q.graph.metadata["blocks_pruned_by_rounding"] == q.report.total_pruned_by_rounding
    _assert_program_matches_reference(q, _loader(seed=4).dataset.tensors[0][:8])


def test_unified_block_that_rounds_to_zero_becomes_pruned():
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, -1.0, 0.5, 0.25, 1e-4, -1e-4, 1e-4, 1e-4],
                                            [0.5, 0.5, -0.5, 0.5, 2e-4, 2e-4, 2e-4, -2e-4]]))
    kinds = np.array([[BlockKind.DENSE, BlockKind.UNIFIED]], np.uint8)
    from toolchain.compress.structure import LayerStructure
    structures = {"1": LayerStructure("1", "FULLY_CONNECTED", 2, 4, kinds)}
    q = quantize_model(model, structures, _loader(shape=(8,)))
    blocks = q.graph.tensor("1.weight").blocks
    assert blocks.kinds.tolist() == [[BlockKind.DENSE, BlockKind.PRUNED]]
    assert q.report.pruned_by_rounding == {"1": 1}


def test_export_is_deterministic_and_roundtrips(tmp_path):
    model = _exotic()
    structures = random_structures(model, bo=4, bi=8)
    paths = [tmp_path / "a.mun", tmp_path / "b.mun"]
    for path in paths:
        quantize_model(model, structures, _loader()).export(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    graph = load(paths[0])
    q = quantize_model(model, structures, _loader())
    for name, tensor in q.graph.tensors.items():
        loaded = graph.tensor(name)
        assert loaded.shape == tensor.shape and loaded.dtype == tensor.dtype
        if tensor.data is not None:
            assert np.array_equal(loaded.data, tensor.data)
        if tensor.blocks is not None:
            assert np.array_equal(loaded.blocks.magnitudes, tensor.blocks.magnitudes)
            assert np.array_equal(loaded.blocks.signs, tensor.blocks.signs)


def test_qat_export_is_deterministic(tmp_path):
    paths = [tmp_path / "a.mun", tmp_path / "b.mun"]
    for path in paths:
        model = _exotic()
        structures = random_structures(model, bo=1, bi=4)
        generator = torch.Generator().manual_seed(3)
        train = DataLoader(TensorDataset(_loader().dataset.tensors[0], torch.arange(64) % 5), batch_size=16,
                           shuffle=True, generator=generator)
        quantize_model(model, structures, _loader(), mode="qat", train_loader=train, epochs=2).export(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_batched_reference_equals_one_sample_at_a_time():
    q = quantize_model(_exotic(), {}, _loader())
    x = _loader(seed=5).dataset.tensors[0][:4]
    batched = q.reference_outputs(x)
    for i in range(4):
        (single,) = reference.run(q.graph, [q.quantize_input(x[i:i + 1])])
        assert np.array_equal(single.reshape(-1), batched[i])


def test_quantize_leaves_the_model_untouched():
    model = _exotic()
    structures = random_structures(model, bo=2, bi=2)
    before = copy.deepcopy(model.state_dict())
    train = DataLoader(TensorDataset(_loader().dataset.tensors[0], torch.arange(64) % 5), batch_size=32)
    quantize_model(model, structures, _loader(), mode="qat", train_loader=train, epochs=1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


class _Unsupported(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.layer = layer

    def forward(self, x):
        return self.layer(self.conv(x))


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.flatten = nn.Conv2d(3, 4, 3), nn.Flatten()
        self.a, self.b = nn.Linear(144, 2), nn.Linear(144, 2)

    def forward(self, x):
        x = self.flatten(self.conv(x))
        return self.a(x) + self.b(x)


@pytest.mark.parametrize("model, message", [
    (_Unsupported(nn.Sigmoid()), "layer 'layer' (Sigmoid) is not supported"),
    (_Unsupported(nn.Conv2d(4, 8, 3, groups=2)), "layer 'layer' (Conv2d) has groups=2"),
    (_Unsupported(nn.Upsample(scale_factor=2)), "layer 'layer' (Upsample) is not supported"),
    (_Unsupported(F.gelu), "function 'gelu'"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.BatchNorm2d(4)), "BatchNorm '2' follows a maxpool"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.ReLU(), nn.Linear(144, 2)),
     "ReLU '2' follows a reshape step ('1')"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), "'1' flattens a 4x6x6 map in NCHW order and the model output"),
    (_TwoHeads(), "and a second Linear ('b') reads it"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(3, 2, padding=1)), "pads in a way TFLite pools cannot"),
    (nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")), "padding_mode='reflect'"),
])
def test_unsupported_models_fail_with_one_line_naming_the_layer(model, message):
    with pytest.raises(ExportError) as info:
        quantize_model(model, {}, _loader())
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, MunifyError)


def test_structured_linear_after_nchw_flatten_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 8))
    structures = random_structures(model, bo=2, bi=4)
    with pytest.raises(ExportError, match="layer '2' is structured but reads a flatten in NCHW order"):
        quantize_model(model, structures, _loader())


def test_bad_arguments_are_named():
    with pytest.raises(MunifyError, match="quantization mode 'int4'"):
        quantize_model(_exotic(), {}, _loader(), mode="int4")
    with pytest.raises(MunifyError, match="QAT needs a training loader"):
        quantize_model(_exotic(), {}, _loader(), mode="qat")
    with pytest.raises(MunifyError, match="calibration loader is empty"):
        quantize_model(_exotic(), {}, [])


class _Pools(nn.Module):
    """Padded pools that are TFLite SAME, strided/odd convs, layers without bias, a flat-input head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False)  # 9 -> 5: SAME (pads 1 and 1)
        self.avg_same = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.max_same = nn.MaxPool2d(3, stride=1, padding=1)
        self.depthwise = nn.Conv2d(6, 6, 5, stride=2, padding=2, groups=6)  # 5 -> 3: SAME
        self.adaptive = nn.AdaptiveAvgPool2d((1, 3))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(18, 4, bias=False)

    def forward(self, x):
        x = self.max_same(self.avg_same(self.conv(x)))
        return self.fc(self.flatten(self.adaptive(F.relu6(self.depthwise(x)))))


def test_padded_pools_and_strided_convs_match_the_reference():
    model = _Pools()
    init_weights_(model, 3)
    q = quantize_model(model.eval(), {}, _loader(shape=(3, 9, 9)))
    ops = {op.name: op for op in q.graph.ops}
    assert [op.type for op in q.graph.ops] == ["CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D",
                                              "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert all(ops[name].attrs["padding"] == "SAME" for name in ("conv", "avg_same", "max_same", "depthwise"))
    assert ops["adaptive"].attrs["filter"] == (3, 1) and ops["adaptive"].attrs["padding"] == "VALID"
    _assert_program_matches_reference(q, _loader(seed=6, shape=(3, 9, 9)).dataset.tensors[0][:16])


def test_flat_input_model_exports():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    init_weights_(model, 4)
    q = quantize_model(model.eval(), {}, _loader(shape=(8,)))
    assert q.graph.tensor("input").shape == (1, 8)
    _assert_program_matches_reference(q, _loader(seed=7, shape=(8,)).dataset.tensors[0])


@pytest.mark.parametrize("softmax", [nn.Softmax(dim=1), nn.Softmax(dim=-1)])
def test_final_softmax_exports_with_tflite_output_quantization(softmax):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 6),
                          softmax)
    init_weights_(model, 5)
    train = DataLoader(TensorDataset(_loader().dataset.tensors[0], torch.arange(64) % 6), batch_size=32)
    q = quantize_model(model.eval(), {}, _loader(), mode="qat", train_loader=train, epochs=1)
    last = q.graph.ops[-1]
    assert last.type == "SOFTMAX" and last.attrs["beta"] == 1.0
    out = q.graph.tensor(last.outputs[0]).quant
    assert out.scale[0] == np.float32(1 / 256) and out.zero_point[0] == -128
    x = _loader(seed=8).dataset.tensors[0][:16]
    _assert_program_matches_reference(q, x)
    probabilities = (q.reference_outputs(x).astype(np.float64) + 128) / 256
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=0.05)


def test_softmax_over_a_feature_map_is_refused():
    with pytest.raises(ExportError, match="only a softmax over the classes"):
        quantize_model(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softmax(dim=1)), {}, _loader())


@pytest.mark.parametrize("make, shape", [(lambda: _exotic(FlattenNHWC()), (3, 8, 8)),
                                         (lambda: _exotic(nn.Flatten()), (3, 8, 8)),
                                         (lambda: _Pools().eval(), (3, 9, 9))])
def test_float_program_computes_the_torch_model(make, shape):
    """Before rounding, the captured program (BN folded, NHWC flatten, reordered FC columns) is the model."""
    model = make()
    q = quantize_model(model, {}, _loader(shape=shape))
    x = _loader(seed=9, shape=shape).dataset.tensors[0]
    q.program.fake_quant = False
    with torch.no_grad():
        assert torch.allclose(q.program(x), model(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("activations, fused", [([nn.Hardtanh(-1.0, 1.0)], "RELU_N1_TO_1"),
                                                ([nn.ReLU6(), nn.ReLU()], "RELU6"),
                                                ([nn.ReLU(), nn.Hardtanh(0, 6)], "RELU6"),
                                                ([nn.Dropout(), nn.ReLU(), nn.ReLU()], "RELU")])
def test_activations_fuse_into_the_conv(activations, fused):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), *activations)
    init_weights_(model, 6)
    q = quantize_model(model.eval(), {}, _loader())
    assert [(op.type, op.attrs["activation"]) for op in q.graph.ops] == [("CONV_2D", fused)]
    _assert_program_matches_reference(q, _loader(seed=10).dataset.tensors[0][:8])


@pytest.mark.parametrize("activations, message", [
    ([nn.Hardtanh(0.0, 1.0)], "layer '1' (Hardtanh) clamps to [0.0, 1.0]"),
    ([nn.Hardtanh(-1.0, 1.0), nn.ReLU()], "'2' applies ReLU after Hardtanh(-1, 1)"),
])
def test_activations_without_a_tflite_equivalent_are_refused(activations, message):
    with pytest.raises(ExportError, match=re.escape(message)):
        quantize_model(nn.Sequential(nn.Conv2d(3, 4, 3), *activations), {}, _loader())


def test_calibration_uses_the_requested_batches():
    one = quantize_model(_exotic(), {}, _loader(), calib_batches=1)
    every = quantize_model(_exotic(), {}, _loader())
    assert one.history["calibration_samples"] == 32 and every.history["calibration_samples"] == 64
    assert one.program.ranges != every.program.ranges


class _Functional(nn.Module):
    """Functional pools and a global-average-pool mean, as hand-written torch models use them."""

    def __init__(self, keepdim: bool):
        super().__init__()
        self.keepdim = keepdim
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        x = F.avg_pool2d(x, 2, stride=1)
        x = F.adaptive_avg_pool2d(x, (3, 3))
        x = x.mean((2, 3), keepdim=self.keepdim)
        return self.fc(x.flatten(1) if self.keepdim else x)


@pytest.mark.parametrize("keepdim", [False, True])
def test_functional_pools_and_mean_export(keepdim):
    model = _Functional(keepdim)
    init_weights_(model, 12)
    q = quantize_model(model.eval(), {}, _loader())
    assert [op.type for op in q.graph.ops] == ["CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "AVERAGE_POOL_2D",
                                              "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]
    x = _loader(seed=11).dataset.tensors[0][:8]
    _assert_program_matches_reference(q, x)
    q.program.fake_quant = False
    with torch.no_grad():
        assert torch.allclose(q.program(x), model(x), atol=1e-5)


def test_functional_pool_errors_name_the_function():
    class Indices(nn.Module):
        def forward(self, x):
            return F.max_pool2d(x, 2, return_indices=True)[0]

    class Mean(nn.Module):
        def forward(self, x):
            return x.mean(1)

    with pytest.raises(ExportError, match="function 'max_pool2d_with_indices' .* is not supported"):
        quantize_model(Indices(), {}, _loader())
    with pytest.raises(ExportError, match=re.escape("'mean' takes a mean over dims (1,)")):
        quantize_model(Mean(), {}, _loader())


def test_single_output_channel_layers_match_the_reference():
    """One output channel: TFLM treats the FC's scales as per-tensor (float32 product), the conv's as per-channel."""
    model = nn.Sequential(nn.Conv2d(3, 1, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 1))
    init_weights_(model, 13)
    q = quantize_model(model.eval(), {}, _loader(n=256))
    _assert_program_matches_reference(q, _loader(seed=12, n=256).dataset.tensors[0])


class _Flattens(nn.Module):
    def __init__(self, flatten):
        super().__init__()
        self.conv, self.fc, self.flatten = nn.Conv2d(3, 4, 3), nn.Linear(144, 3), flatten

    def forward(self, x):
        return self.fc(self.flatten(torch.relu(self.conv(x))))


@pytest.mark.parametrize("flatten", [nn.Flatten(), FlattenNHWC(), lambda x: torch.flatten(x, 1),
                                     lambda x: x.view(x.size(0), -1), lambda x: x.reshape(x.shape[0], -1),
                                     lambda x: x.permute(0, 2, 3, 1).reshape(-1, 144)])
def test_every_flatten_spelling_exports(flatten):
    model = _Flattens(flatten)
    init_weights_(model, 14)
    q = quantize_model(model.eval(), {}, _loader())
    assert [op.type for op in q.graph.ops] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    x = _loader(seed=13).dataset.tensors[0][:8]
    _assert_program_matches_reference(q, x)
    q.program.fake_quant = False
    with torch.no_grad():
        assert torch.allclose(q.program(x), model(x), atol=1e-5)
