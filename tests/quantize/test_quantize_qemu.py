"""torch -> quantize -> IR -> generated C on a Cortex-M under QEMU: bit-exact with the reference for every op
the exporter emits (PAD, depthwise with a multiplier, padded pools, ADD, SOFTMAX, structured weights)."""

from __future__ import annotations

import json

import pytest
from torch import nn

from toolchain.cli import main
from toolchain.models import init_weights_
from toolchain.quantize import quantize_model

from quant_helpers import random_structures
from test_quantize_export import _exotic, _loader, _Pools

pytestmark = pytest.mark.qemu


def _softmax_model() -> nn.Module:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 5), nn.Softmax(dim=1))
    init_weights_(model, 11)
    return model.eval()


@pytest.mark.parametrize("make, shape", [(_exotic, (3, 8, 8)), (lambda: _Pools().eval(), (3, 9, 9)),
                                         (_softmax_model, (3, 8, 8))])
def test_exported_model_runs_bit_exact_on_qemu(make, shape, tmp_path, capsys):
    model = make()
    structures = random_structures(model, bo=1, bi=4, prune=0.3, unify=0.4)
    if isinstance(model, _Pools):
        del structures["fc"]  # it reads an NCHW flatten: its columns get reordered, so it must stay dense
    path = tmp_path / "model.mun"
    quantize_model(model, structures, _loader(shape=shape)).export(path)
    report = tmp_path / "run.json"
    code = main(["run", str(path), "--inputs", "2", "--build-dir", str(tmp_path / "build"), "--json", str(report)])
    capsys.readouterr()
    assert code == 0
    result = json.loads(report.read_text())
    assert result["bit_exact"] is True and result["inputs"] == 2
