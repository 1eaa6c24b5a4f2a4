import json
import textwrap

import numpy as np

from toolchain.cli import main
from toolchain.ir import BlockKind, load, reference

TINY = """
seed = 1
model = "mnist_cnn"
data = "digits"
batch_size = 64
max_batches = 6
[train]
epochs = 2
[blocks]
shape = [1, 4]
[ratios]
prune = 0.5
unify = 0.25
[admm]
iterations = 1
[retrain]
epochs = 1
[quantize]
mode = "ptq"
calib_batches = 2
"""


def test_compress_cli_end_to_end(tmp_path, capsys):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(textwrap.dedent(TINY))
    out, report = tmp_path / "tiny.mun", tmp_path / "tiny.json"
    args = ["compress", "--recipe", str(recipe), "-o", str(out), "--json", str(report),
            "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "compressed int8" in table and "FULLY_CONNECTED" in table
    graph = load(out)  # validates every block structure against its int8 weights
    structured = [graph.weight_of(op) for op in graph.ops if op.type in ("CONV_2D", "FULLY_CONNECTED")]
    assert structured[0].blocks is None and all(w.blocks is not None for w in structured[1:])
    for w in structured[1:]:
        assert (w.blocks.bo, w.blocks.bi) == (1, 4)
        assert np.any(w.blocks.kinds == BlockKind.UNIFIED) and np.any(w.blocks.kinds == BlockKind.PRUNED)
    doc = json.loads(report.read_text())
    assert set(doc) >= {"recipe", "seed", "accuracy", "weights_bytes", "blocks", "layers", "seconds"}
    assert set(doc["accuracy"]) >= {"dense_float", "dense_int8", "compressed_int8"}
    assert doc["weights_bytes"]["compressed"] == sum(l["stored_bytes"] for l in doc["layers"])
    assert doc["weights_bytes"]["compressed"] < 0.6 * doc["weights_bytes"]["dense_int8"]
    assert doc["blocks"]["pruned"] == sum(int(np.sum(w.blocks.kinds == BlockKind.PRUNED)) for w in structured[1:])
    x = np.zeros((1, 8, 8, 1), np.int8)
    assert reference.run(graph, [x])[0].shape[-1] == 10

    cached = list((tmp_path / "cache").glob("dense-mnist_cnn-digits-s1-e2-*.pt"))
    assert len(cached) == 1
    first = out.read_bytes()
    assert main(args) == 0  # second run reuses the cached dense model and gives the same bytes
    assert out.read_bytes() == first
