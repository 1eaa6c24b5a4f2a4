"""`munify run --inputs FILE.npy|DIR [--labels]`: real input tensors (float ones quantized with the model's
input scale), bit-exact on the device, and the top-1 accuracy of the outputs the device produced."""

import json

import numpy as np
import pytest

from target_support import require_tools, tiny_fc_model
from toolchain.cli import main
from toolchain.input_files import InputFileError, load_inputs
from toolchain.ir import load, reference

pytestmark = pytest.mark.qemu


def test_real_inputs_with_labels_give_on_device_accuracy(tmp_path, capsys):
    require_tools()
    model = tiny_fc_model(tmp_path / "tiny.mun")
    graph = load(model)
    images = np.random.default_rng(3).normal(0.0, 0.4, (4, 1, 64)).astype(np.float32)  # real values
    inputs = load_inputs(graph, _save(tmp_path / "images.npy", images))
    predicted = [int(np.argmax(reference.run(graph, [x])[0])) for x in inputs]
    labels = np.array(predicted[:3] + [(predicted[3] + 1) % 10])  # 3 of 4 right
    np.save(tmp_path / "labels.npy", labels)
    report_path = tmp_path / "report.json"
    assert main(["run", str(model), "--board", "mps2-an386", "--inputs", str(tmp_path / "images.npy"),
                 "--labels", str(tmp_path / "labels.npy"), "--build-dir", str(tmp_path / "build"),
                 "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "bit-exact: yes (4/4 match the reference)" in out and "accuracy on device: 75.0% top-1 (3/4)" in out
    report = json.loads(report_path.read_text())
    assert report["accuracy"] == {"correct": 3, "total": 4, "top1": 0.75} and report["inputs"] == 4


def test_quantization_and_directories(tmp_path):
    graph = load(tiny_fc_model(tmp_path / "tiny.mun"))  # input scale 0.05, zero point 3
    folder = tmp_path / "set"
    folder.mkdir()
    _save(folder / "a.npy", np.array([[0.05 * k for k in range(64)]], np.float32))
    _save(folder / "b.npy", np.full((2, 64), -7, np.int8))  # a batch, taken as it is
    first, *rest = load_inputs(graph, folder)
    assert first.shape == (1, 64) and list(first[0, :4]) == [3, 4, 5, 6] and first[0, -1] == 66
    assert len(rest) == 2 and all((x == -7).all() for x in rest)


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 10), np.int8), r"shape \[3, 10\] is neither the model input \[1, 64\] nor a batch \[N, 1, 64\]"),
    (np.zeros((1, 64), np.int32), r"dtype int32 is neither int8 \(quantized\) nor float"),
])
def test_bad_input_files_are_clear_errors(tmp_path, array, message):
    graph = load(tiny_fc_model(tmp_path / "tiny.mun"))
    with pytest.raises(InputFileError, match=message):
        load_inputs(graph, _save(tmp_path / "x.npy", array))


def _save(path, array):
    np.save(path, array)
    return path
