"""`munify demo`: the whole promise on one board, from a fresh machine.

Train the built-in MNIST CNN (cached), compress it with the example ADMM recipe (1x8 blocks), quantize to int8,
generate, build and run the dense and the compressed model under QEMU bit-exact against the reference, and
print one table. Everything it measures lands in `munify-out/demo/` (IR files, C, ELFs, JSON reports,
summary.json, plots).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import datasets
from .boards import Board
from .build import build_model
from .errors import MunifyError
from .fsutil import atomic_write_text
from .harness.session import Case
from .ir import Graph, reference, save
from .report import RunReport
from .resources import resource_dir
from .run import run_cases
from .summary import summarize

DEFAULT_OUT = Path("munify-out/demo")
DEFAULT_CACHE = Path("munify-out/cache")
RECIPE_NAME = "mnist_cnn_1x8.toml"
VARIANTS = ("dense", "compressed")


@dataclass(frozen=True)
class VariantResult:
    name: str
    graph: Graph
    host_accuracy: float
    device_accuracy: float
    device_samples: int
    run: RunReport

    @property
    def ram_bytes(self) -> int:
        return self.run.memory.arena_bytes + self.run.memory.stack_bytes


def demo_recipe_path() -> Path:
    return resource_dir("examples") / RECIPE_NAME


def quantize_images(graph: Graph, images: np.ndarray) -> np.ndarray:
    """float NCHW images -> int8 NHWC codes with the IR input's quantization (round half away from zero)."""
    quant = graph.tensor(graph.inputs[0]).quant
    scaled = images.transpose(0, 2, 3, 1) / float(quant.scale[0])
    codes = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + int(quant.zero_point[0])
    return np.clip(codes, -128, 127).astype(np.int8)


def device_cases(graph: Graph, images: np.ndarray) -> list[Case]:
    """One case per test image: its int8 input and the reference's int8 output."""
    cases = []
    for x in quantize_images(graph, images):
        (expected,) = reference.run(graph, [x[None]])
        cases.append(Case(x.tobytes(), expected.astype(np.int8).tobytes(), {}))
    return cases


def run_on_device(graph: Graph, model_path: Path, board: Board, build_dir: Path, images: np.ndarray,
                  labels: np.ndarray) -> tuple[RunReport, float]:
    """Build and run on the board; the accuracy of the device's outputs on `images` (bit-exact checked)."""
    build = build_model(model_path, board, build_dir)
    cases = device_cases(graph, images)
    report = run_cases(build, lambda info: cases, {op.name: op.type for op in graph.ops})
    if not report.bit_exact:
        first = report.mismatches[0]
        raise MunifyError(f"{graph.name} on {board.name}: device output differs from the reference (input "
                          f"{first.input}, {first.tensor}[{first.index}]: expected {first.expected}, got {first.got})")
    # bit-exact: the device produced exactly these bytes
    outputs = np.stack([np.frombuffer(c.output, np.int8) for c in cases])
    return report, float(np.mean(outputs.argmax(axis=1) == labels))


def run_demo(board: Board, out_dir: Path = DEFAULT_OUT, device_samples: int = 100, progress: bool = True,
             cache_dir: Path = DEFAULT_CACHE) -> dict:
    from .compress.pipeline import run_recipe
    from .compress.recipe import load_recipe

    start = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe(demo_recipe_path())
    _step(1, f"train (cached) and compress the MNIST CNN with {RECIPE_NAME}")
    compressed_path = out_dir / "mnist_cnn_compressed.mun"
    report = run_recipe(recipe, compressed_path, cache_dir=cache_dir, progress=progress)
    compressed_graph = report.graph.replace(name="mnist_cnn_1x8")
    dense_graph = report.dense_graph.replace(name="mnist_cnn_dense")
    dense_path = out_dir / "mnist_cnn_dense.mun"
    save(compressed_graph, compressed_path)
    save(dense_graph, dense_path)
    atomic_write_text(out_dir / "compress.json", json.dumps(report.to_json(), indent=1, sort_keys=True))

    split = datasets.mnist()
    images = split.x_test[:device_samples].numpy()
    labels = split.y_test[:device_samples].numpy()
    graphs = {"dense": (dense_graph, dense_path, report.accuracy["dense_int8"]),
              "compressed": (compressed_graph, compressed_path, report.accuracy["compressed_int8"])}
    results = {}
    for index, (name, (graph, path, host_acc)) in enumerate(graphs.items(), start=2):
        _step(index, f"generate, build and run the {name} int8 model on {board.name} ({device_samples} test images)")
        run, device_acc = run_on_device(graph, path, board, out_dir / f"build-{name}", images, labels)
        run.write_json(out_dir / f"run-{name}.json")
        results[name] = VariantResult(name, graph, host_acc, device_acc, device_samples, run)

    summary = make_summary(board, results, report, time.monotonic() - start)
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=1, sort_keys=True))
    write_plots(results, report.accuracy, out_dir)
    return summary


def _step(index: int, text: str) -> None:
    print(f"[{index}/{len(VARIANTS) + 1}] {text}", flush=True)


def _figures(v: VariantResult) -> dict:
    mem = v.run.memory
    return {
        "accuracy_host": round(v.host_accuracy, 4),
        "accuracy_device": round(v.device_accuracy, 4),
        "device_samples": v.device_samples,
        "weights_bytes": summarize(v.graph).weight_bytes,
        "flash_bytes": mem.flash_bytes,
        "ram_bytes": v.ram_bytes,
        "arena_bytes": mem.arena_bytes,
        "stack_bytes": mem.stack_bytes,
        "instructions": v.run.latency.per_inference,
        "bit_exact": v.run.bit_exact,
        "layers": [{"name": layer.name, "op": layer.op, "kernel": layer.kernel, "instructions": layer.count}
                   for layer in v.run.layers],
    }


RATIO_KEYS = ("weights_bytes", "flash_bytes", "ram_bytes", "instructions")


def make_summary(board: Board, results: dict[str, VariantResult], report, seconds: float) -> dict:
    figures = {name: _figures(v) for name, v in results.items()}
    ratios = {key: round(figures["compressed"][key] / figures["dense"][key], 4) for key in RATIO_KEYS}
    return {
        "board": board.name,
        "recipe": RECIPE_NAME,
        "seed": report.recipe.seed,
        "test_images": 1000,
        "accuracy_float": {"dense": round(report.accuracy["dense_float"], 4),
                           "compressed": round(report.accuracy.get("compressed_float", float("nan")), 4)},
        "blocks": report.to_json()["blocks"],
        "variants": figures,
        "ratios": ratios,
        "latency_unit": "instructions (QEMU -icount shift=0)",
        "seconds": round(seconds, 1),
    }


def render_table(summary: dict) -> str:
    dense, comp, ratios = summary["variants"]["dense"], summary["variants"]["compressed"], summary["ratios"]
    n = dense["device_samples"]
    rows = [
        ("accuracy, host reference (1,000 test images)", _pct(dense["accuracy_host"]), _pct(comp["accuracy_host"]),
         f"{100 * (comp['accuracy_host'] - dense['accuracy_host']):+.1f} pt"),
        (f"accuracy, on device ({n} test images)", _pct(dense["accuracy_device"]), _pct(comp["accuracy_device"]),
         f"{100 * (comp['accuracy_device'] - dense['accuracy_device']):+.1f} pt"),
        ("bit-exact vs reference", str(dense["bit_exact"]).lower(), str(comp["bit_exact"]).lower(), ""),
        ("weights bytes", f"{dense['weights_bytes']:,}", f"{comp['weights_bytes']:,}", f"{ratios['weights_bytes']:.2f}x"),
        ("flash bytes", f"{dense['flash_bytes']:,}", f"{comp['flash_bytes']:,}", f"{ratios['flash_bytes']:.2f}x"),
        ("RAM bytes (arena + stack)", f"{dense['ram_bytes']:,}", f"{comp['ram_bytes']:,}", f"{ratios['ram_bytes']:.2f}x"),
        ("instructions per inference", f"{dense['instructions']:,}", f"{comp['instructions']:,}",
         f"{ratios['instructions']:.2f}x"),
    ]
    header = ("", "dense int8", "compressed int8", "compressed/dense")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    title = (f"munify demo: MNIST CNN on {summary['board']} ({summary['recipe']}; blocks "
             f"{summary['blocks']['dense']} dense / {summary['blocks']['unified']} unified / "
             f"{summary['blocks']['pruned']} pruned)")
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths), *map(line, rows),
                      "instructions: retired instructions under QEMU -icount shift=0 (not cycles)"])


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def write_plots(results: dict[str, VariantResult], accuracy: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dense, comp = results["dense"].run.layers, results["compressed"].run.layers
    names = [layer.name for layer in dense]
    comp_counts = {layer.name: layer.count for layer in comp}
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names)), 4))
    ax.bar(x - 0.2, [layer.count for layer in dense], 0.4, label="dense int8")
    ax.bar(x + 0.2, [comp_counts.get(n, 0) for n in names], 0.4, label="compressed int8")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("instructions (QEMU -icount)")
    ax.set_title("per-layer instructions per inference")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "layers_instructions.png", dpi=120, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    for v in results.values():
        stored = _figures(v)["weights_bytes"]
        ax.scatter(stored, 100 * v.host_accuracy, s=60)
        ax.annotate(f"{v.name} int8", (stored, 100 * v.host_accuracy), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("stored weight bytes")
    ax.set_ylabel("test accuracy (%), host reference")
    ax.set_title("accuracy against stored bytes")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "accuracy_vs_bytes.png", dpi=120, metadata={"Software": None})
    plt.close(fig)
