"""One OpDef per op (toolchain.ir.ops) that every stage reads, one kernel package per ISA (toolchain.plan.kernels),
and the import layering of the pipeline side (docs/ARCHITECTURE.md, "Adding an op / an ISA"), read with `ast`."""

from __future__ import annotations

import pytest
from test_run_layers import MODULES, imports_of

from toolchain.boards import list_boards
from toolchain.exporters import tflite as exporter
from toolchain.importers import tflite as importer
from toolchain.ir import OP_ATTRS, OP_TYPES, OPS, WEIGHTED_OPS, op_def
from toolchain.ir.graph import _ATTR_CHECKS
from toolchain.ir.shapes import InputRule
from toolchain.plan import layers
from toolchain.plan.kernels import ALL_VARIANTS, FAMILIES
from toolchain.plan.registry import all_variants

IR_SIDE = ("toolchain.ir",)
ABOVE_IR = ("toolchain.plan", "toolchain.importers", "toolchain.exporters", "toolchain.codegen",
            "toolchain.compress", "toolchain.quantize")
PIPELINE = ("toolchain.ir", "toolchain.plan", "toolchain.importers", "toolchain.exporters")


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_registry_is_the_one_list_of_ops():
    assert OP_TYPES == tuple(OPS) and set(OP_ATTRS) == set(OPS)
    assert WEIGHTED_OPS == ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    assert [op_def(name).name for name in OPS] == list(OPS)


@pytest.mark.parametrize("name", OP_TYPES)
def test_every_op_is_complete(name):
    definition = op_def(name)
    assert callable(definition.output_shape) and callable(definition.reference)
    assert all(isinstance(rule, InputRule) for rule in definition.inputs)
    assert 1 <= definition.data_inputs <= definition.min_inputs <= len(definition.inputs)
    assert set(definition.attrs) <= set(_ATTR_CHECKS), "an attribute without a check in ir/graph.py"
    assert definition.weighted == (len(definition.inputs) > 1 and definition.inputs[1].role == "weight")
    assert not definition.in_place or definition.data_inputs == 2


def test_every_stage_has_each_op_and_no_other():
    """The per-stage entries that remain are keyed by the registry's names: none missing, none extra."""
    assert set(importer._TFLITE_OPS) == set(OPS)
    assert set(exporter._OPS) == set(OPS)
    assert set(layers.OP_PLANNING) == set(OPS)
    generic = {v.op_type for v in ALL_VARIANTS if not v.features}
    assert generic == set(OPS), "every op needs a portable kernel"
    assert {v.op_type for v in ALL_VARIANTS} <= set(OPS)


def test_unknown_op_type_is_one_clear_error():
    with pytest.raises(Exception, match=r"unknown op type 'GELU'; munify supports CONV_2D, "):
        op_def("GELU")


def test_each_variant_lives_in_one_family_with_its_features():
    assert all_variants() == ALL_VARIANTS
    assert sum(len(f.variants) for f in FAMILIES) == len(ALL_VARIANTS)
    names = [(v.name, v.op_type, v.optimize) for v in ALL_VARIANTS]
    assert len(names) == len(set(names))
    for family in FAMILIES:
        for variant in family.variants:
            assert variant.template.startswith(f"kernels/{family.name}/"), (family.name, variant.name)
            assert family.name == "generic" and not variant.features or family.name in variant.features


def test_each_family_records_the_cpu_its_costs_were_fitted_on():
    cpus = {board.cpu for board in list_boards()}
    for family in FAMILIES:
        assert family.costs_fitted_on in cpus, family
        assert family.costs_source


def test_the_ir_imports_nothing_above_it():
    ir_modules = [m for m in MODULES if _in(m, IR_SIDE)]
    assert "toolchain.ir.ops" in ir_modules
    upward = [(m, target, line) for m in ir_modules for target, line, _ in imports_of(m) if _in(target, ABOVE_IR)]
    assert not upward


def test_kernel_packages_do_not_import_the_registry_or_the_planner():
    kernels = [m for m in MODULES if _in(m, ("toolchain.plan.kernels",))]
    assert len(kernels) >= 8
    upward = [(m, target) for m in kernels for target, _, _ in imports_of(m)
              if _in(target, ("toolchain.plan.registry", "toolchain.plan.planner", "toolchain.plan.layers"))]
    assert not upward


def test_no_function_local_imports_on_the_pipeline_side():
    hidden = [(m, target, line) for m in MODULES if _in(m, PIPELINE)
              for target, line, in_function in imports_of(m) if in_function]
    assert not hidden
