import os
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")


def test_admm_under_torchrun_keeps_ranks_identical(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[2]))
    proc = subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(WORKER), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert not torch.equal(ranks[0]["labels"], ranks[1]["labels"])  # each rank trains on its own shard
    for key in ("targets", "duals", "kinds", "state"):
        for name, value in ranks[0][key].items():
            assert torch.equal(value, ranks[1][key][name]), (key, name)  # yet Z, U and W agree exactly
    residuals = ranks[0]["residuals"]
    assert residuals == ranks[1]["residuals"]
    for name in residuals[0]:
        assert residuals[-1][name] < residuals[0][name]
