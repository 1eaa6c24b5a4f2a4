"""Kernel costs looked up by (family, CPU, build): the board CPU's table where the family has one, else the table
of the CPU the family was fitted on, and for speed plans a family's speed table first; the plan says which CPU's
costs ranked each family."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest

from toolchain.boards import list_boards, load_board
from toolchain.cli import main
from toolchain.ir import BlockKind, save
from toolchain.plan import make_plan, planner
from toolchain.plan.kernels import FAMILIES, CostTable, costs_for, family_of
from toolchain.plan.variant import LayerFacts

FITTED = {family.name: family.costs_fitted_on for family in FAMILIES}


def _generic_with_table_for(cpu: str, scale: dict[str, float]) -> tuple:
    """FAMILIES with a second generic table for `cpu`: the fitted costs times `scale[name]` (default 1)."""
    generic = next(f for f in FAMILIES if f.name == "generic")
    table = CostTable(cpu, "test", {v.name: (lambda f, c=v.cost, k=scale.get(v.name, 1.0): k * c(f))
                                    for v in generic.variants})
    return tuple(dataclasses.replace(f, other_cpus=(table,)) if f is generic else f for f in FAMILIES)


def test_every_table_is_for_a_board_cpu_and_names_every_variant_of_its_family():
    cpus = {board.cpu for board in list_boards()}
    for family in FAMILIES:
        assert family.costs_fitted_on in cpus and family.costs_source, family.name
        for table in family.other_cpus:
            assert table.cpu in cpus and table.source, (family.name, table.cpu)
            assert set(table.costs) == {v.name for v in family.variants}, (family.name, table.cpu)
        assert all(family_of(v) == family.name for v in family.variants)
        for table in family.speed_tables:
            assert table.cpu in cpus and table.source, (family.name, table.cpu)
            assert set(table.costs) == {v.name for v in family.variants}, (family.name, table.cpu)


def test_speed_plans_rank_with_the_speed_table_and_the_others_without_it(imported_model, monkeypatch):
    graph = imported_model("kws")
    features = frozenset({"neon", "dotprod"})
    neon = next(f for f in FAMILIES if f.name == "neon")
    dense = "conv_dense_sdot"
    table = CostTable(neon.costs_fitted_on, "test", {v.name: (lambda f, c=v.cost, k=1000.0 if v.name == dense else 1.0:
                                                               k * c(f)) for v in neon.variants})
    families = tuple(dataclasses.replace(f, speed_tables=(table,)) if f is neon else f for f in FAMILIES)
    speed, balanced = costs_for("cortex-a76", "speed", families), costs_for("cortex-a76", "balanced", families)
    assert speed.tables["neon"] is table and balanced.tables["neon"] is not table
    assert speed.tables["generic"] is balanced.tables["generic"]  # no speed table: the same
    planned = {mode: {layer.variant for layer in make_plan(graph, features, mode, cpu="cortex-a76").layers}
               for mode in ("speed", "balanced")}
    assert dense in planned["speed"] and dense in planned["balanced"]
    monkeypatch.setattr(planner, "costs_for", lambda cpu, optimize="balanced": costs_for(cpu, optimize, families))
    assert dense not in {layer.variant for layer in make_plan(graph, features, "speed", cpu="cortex-a76").layers}
    assert dense in {layer.variant for layer in make_plan(graph, features, "balanced", cpu="cortex-a76").layers}


def test_a_cpu_without_tables_takes_each_familys_fitted_table():
    costs = costs_for("cortex-m7")
    assert {name: table.cpu for name, table in costs.tables.items()} == FITTED
    assert costs_for(None).tables == costs.tables


def test_the_planner_ranks_with_the_board_cpus_table(imported_model, monkeypatch):
    graph = imported_model("kws")
    fitted = make_plan(graph, frozenset(), "speed")
    dense = "conv_dense_generic"
    assert dense in {layer.variant for layer in fitted.layers}
    families = _generic_with_table_for("cortex-m7", {dense: 1000.0})
    monkeypatch.setattr(planner, "costs_for", lambda cpu, optimize="balanced": costs_for(cpu, optimize, families))
    on_m7 = make_plan(graph, frozenset(), "speed", cpu="cortex-m7")
    on_m3 = make_plan(graph, frozenset(), "speed", cpu="cortex-m3")
    assert on_m7.cost_cpus == {"generic": "cortex-m7"}
    assert dense not in {layer.variant for layer in on_m7.layers}
    assert on_m3.cost_cpus == {"generic": "cortex-m3"}
    assert [(l.variant, l.cost) for l in on_m3.layers] == [(l.variant, l.cost) for l in fitted.layers]


def test_plan_on_a_cpu_without_tables_is_the_fitted_plan_and_says_whose_costs(tmp_path, imported_model, capsys):
    graph = imported_model("kws")
    m7 = load_board("mps2-an500")
    assert m7.cpu == "cortex-m7" and "dsp" in m7.features
    plan = make_plan(graph, m7.features, cpu=m7.cpu)
    fitted = make_plan(graph, m7.features)
    assert [(l.variant, l.cost) for l in plan.layers] == [(l.variant, l.cost) for l in fitted.layers]
    assert plan.cost_cpus == {"generic": "cortex-m3", "dsp": "cortex-m4"}
    path = tmp_path / "kws.mun"
    save(graph, path)
    assert main(["plan", str(path), "--board", "mps2-an500"]) == 0
    text = capsys.readouterr().out
    assert "costs      generic: cortex-m3 (cortex-m7 has none), dsp: cortex-m4 (cortex-m7 has none)" in text
    assert main(["plan", str(path), "--board", "mps2-an386", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["cpu"], doc["costs"]) == ("cortex-m4", {"generic": "cortex-m3", "dsp": "cortex-m4"})


def test_plan_accepts_every_feature_a_board_names(tmp_path, imported_model, capsys):
    path = tmp_path / "kws.mun"
    save(imported_model("kws"), path)
    for features in sorted({",".join(sorted(board.features)) for board in list_boards()}):
        assert main(["plan", str(path), "--features", features, "--json"]) == 0, features
        doc = json.loads(capsys.readouterr().out)
        assert doc["cpu"] is None and set(doc["costs"]) >= {"generic"}


def _grid_facts(op_type: str):
    """Layer facts over the shapes the planner meets: one pixel to 196, 1 to 64 rows, 16 to 4608 inputs (3x3
    kernel rows for CONV_2D), 1 x 4 / 8 / 16 blocks all pruned to all kept, none or half of them unified."""
    conv = op_type == "CONV_2D"
    for positions, rows, cols, bi, kept, unified in itertools.product((1, 16, 196), (1, 8, 64), (16, 1152, 4608),
                                                                      (4, 8, 16), (0.0, 0.05, 1.0), (0.0, 0.5)):
        full = rows * (cols // bi)
        listed = round(full * kept)
        uni = round(listed * unified)
        yield LayerFacts(op_type, positions, rows, cols, dense_weights=(listed - uni) * bi, unified_weights=uni * bi,
                         unified_rows=uni, listed_blocks=listed, full_blocks=full, unified_cols=min(uni, cols // bi),
                         bi=bi, kinds=frozenset(BlockKind), patch_copies=3.0 if conv else 0.0,
                         inside_rows=2.0 if conv else 0.0, patch_row=cols // 3 if conv else 0)


# The DSP conv pixel quads' fits have negative per-input terms (QUAD_BLOCK_COSTS sign bits, QUAD_TABLE_COSTS):
# a wide, heavily pruned conv predicts fewer than zero instructions (8 x 1152 on 6 x 6, 90% pruned, table
# records: -5,018 predicted, 102,160 measured). Strict: the mark goes once their refit keeps every term >= 0.
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_no_cost_model_predicts_zero_or_fewer_instructions(family):
    """The registry ranks by these predictions: one at or below zero wins whatever the kernel does."""
    tables = [*family.cost_tables.values(), *family.speed_tables]
    low = [(table.cpu, v.name, f) for table in tables for v in family.variants for f in _grid_facts(v.op_type)
           if table.cost(v, f) <= 0]
    assert not low, (len(low), low[:3])
