"""The MLPerf Tiny profile of a build (toolchain.harness.mlperf): which model id the firmware reports, the
header the build writes, and the host's view of the firmware's input decoding and results."""

import dataclasses

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.build import fingerprint
from toolchain.cli import main
from toolchain.harness.mlperf import METADATA_KEY, ModelIdError, Profile, model_id_of, profile_of
from toolchain.ir import load, save


@pytest.mark.parametrize("name, model_id", [("kws", "kws01"), ("resnet", "ic01"), ("ad01", "ad01")])
def test_shipped_models_get_their_mlperf_id(imported_model, name, model_id):
    graph = imported_model(name)
    assert model_id_of(graph) == model_id
    renamed = dataclasses.replace(graph, name="renamed")  # still found by the hash of its source
    assert model_id_of(renamed) == model_id


def test_id_order_requested_then_metadata_then_known_then_name(imported_model):
    graph = imported_model("kws")
    stored = dataclasses.replace(graph, metadata={**graph.metadata, METADATA_KEY: "mykws"})
    assert model_id_of(stored) == "mykws"
    assert model_id_of(stored, "kws02") == "kws02"
    anonymous = dataclasses.replace(graph, name="my_net", metadata={})
    assert model_id_of(anonymous) == "my_net"
    assert model_id_of(dataclasses.replace(graph, name="kws_ref_model", metadata={})) == "kws01"


def test_the_ir_field_survives_save_and_load(imported_model, tmp_path):
    graph = imported_model("ad01")
    save(dataclasses.replace(graph, metadata={**graph.metadata, METADATA_KEY: "ad01_pt50"}), tmp_path / "m.mun")
    assert model_id_of(load(tmp_path / "m.mun")) == "ad01_pt50"


@pytest.mark.parametrize("bad", ["kws01\n", "kws 01", 'x"y', "a" * 33, "ad01*/", "n\nl"])
def test_ids_that_cannot_reach_c_safely_are_refused(imported_model, bad):
    with pytest.raises(ModelIdError, match="is not 1 to 32 letters"):
        model_id_of(imported_model("kws"), bad)


def test_reconstruction_scoring_needs_an_autoencoder(imported_model):
    with pytest.raises(ModelIdError, match="maps 490 inputs to 12 outputs"):
        profile_of(imported_model("kws"), "ad01")


def test_header_is_deterministic_and_carries_exact_scales(imported_model):
    profile = profile_of(imported_model("ad01"))
    assert (profile.model_id, profile.encoding, profile.scoring) == ("ad01", "float32", "reconstruction_error")
    header = profile.header()
    assert header == profile_of(imported_model("ad01")).header()
    assert '#define MUNIFY_MLPERF_MODEL_ID "ad01"' in header and "MUNIFY_INPUT_ENCODING 2 /* float32 */" in header
    literal = next(line for line in header.splitlines() if "MUNIFY_INPUT_SCALE" in line).split()[-1]
    assert np.float32(float.fromhex(literal.rstrip("f"))) == np.float32(profile.input_scale)


@pytest.mark.parametrize("encoding", ["int8", "uint8", "float32"])
def test_every_int8_value_survives_the_dataset_encoding(encoding):
    profile = Profile("x", encoding, input_scale=0.39101523, input_zero_point=89)
    tensor = np.arange(-128, 128, dtype=np.int8).tobytes()
    wire = profile.encode(tensor)
    assert len(wire) == 256 * (4 if encoding == "float32" else 1)
    assert profile.decode(wire).tobytes() == tensor


def test_float_features_quantize_half_away_from_zero_and_saturate():
    profile = Profile("ad01", "float32", input_scale=0.5, input_zero_point=0)
    wire = np.array([0.25, -0.25, 0.75, 1e9, -1e9, np.nan], "<f4").tobytes()
    assert profile.decode(wire).tolist() == [1, -1, 2, 127, -128, 0]


def test_results_are_dequantized_scores_or_the_reconstruction_error():
    scores = Profile("kws01", output_scale=1 / 256, output_zero_point=-128)
    assert scores.results(b"", bytes([0x80, 0x7F, 0x00])) == [0.0, 255 / 256, 0.5]
    ad = Profile("ad01", "float32", "reconstruction_error", 1.0, 0, 0.5, 0)
    features = np.array([1.0, -1.0], "<f4").tobytes()
    assert ad.results(features, np.array([2, 0], np.int8).tobytes()) == [0.5]  # ((1-1)^2 + (0+1)^2) / 2


def test_model_id_is_part_of_the_build_fingerprint():
    board = load_board("mps2-an386")
    assert fingerprint(b"m", board, "balanced") != fingerprint(b"m", board, "balanced", "kws01")


def test_build_refuses_a_bad_model_id_before_any_work(imported_model, tmp_path, capsys):
    model = tmp_path / "kws.mun"
    save(imported_model("kws"), model)
    status = main(["build", str(model), "--model-id", "no spaces", "-o", str(tmp_path / "out")])
    assert status == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model id 'no spaces'" in err[0]
