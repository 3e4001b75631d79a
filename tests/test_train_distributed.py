"""Two CPU processes (gloo) under torchrun: DDP keeps the ranks in sync, rank 0 alone writes, ranks read different
pages."""

import json
import os
import socket
import subprocess
import sys

import torch

from textspotter.data.toy import write_toy_dataset
from textspotter.train.checkpoint import load_checkpoint
from textspotter.train.config import resolve_config, save_config


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tiny_config(tmp_path, data, out, *extra):
    """Write a tiny-test config training on the toy manifest ``data`` (and evaluating on it at the end)."""
    config = resolve_config(
        overrides=[
            "model.name=tiny-test",
            "model.infer_length=128",
            "data.source=manifest",
            f"data.manifests=[{data}]",
            "train.threads=1",
            f"train.out_dir={out}",
            "optim.warmup_steps=1",
            f"eval.manifests=[{data}]",
            "eval.every=0",
            "eval.at_end=true",
            *extra,
        ]
    )
    path = tmp_path / "config.yaml"
    save_config(config, path)
    return path


def _torchrun(*target):
    """Run ``target`` (a script and its arguments, or ``-m module ...``) as two gloo processes under torchrun."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        *target,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)


def test_torchrun_two_gloo_processes(tmp_path):
    data = write_toy_dataset(tmp_path / "toy", pages=6, seed=0, size=128)
    out = tmp_path / "run"
    config_path = _tiny_config(
        tmp_path, data, out, "data.batch_size=2", "data.workers=1", "train.steps=3", "train.log_every=1"
    )
    done = _torchrun("-m", "textspotter", "train", "--config", str(config_path), "--device", "cpu")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["kind"] == "train"]
    # One writer: each step logged once; counters summed over both ranks (2 ranks x 2 pages).
    assert [r["step"] for r in train_records] == [1, 2, 3]
    assert all(r["pages"] == 4 and r["pages_per_s"] > 0 for r in train_records)
    evaluation = [r for r in records if r["kind"] == "eval"]
    assert len(evaluation) == 1 and evaluation[0]["pages"] == 6  # pages split over the ranks, counts summed
    # Only rank 0's output lines are echoed.
    assert done.stdout.count("kind=train step=1 ") == 1

    state = load_checkpoint(out / "checkpoints" / "step-00000003")
    assert state["world_size"] == 2 and state["data_position"] == 3
    assert len(state["rng"]) == 2
    # Ranks seed their noise differently but hold identical weights after every DDP step.
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
    assert state["parameter_checksums"][0] == state["parameter_checksums"][1]


_SHUTDOWN_PROBE = """
import gc, json, sys
from torch.nn.parallel import DistributedDataParallel
import textspotter.train.loop as loop
from textspotter.train.config import resolve_config

seen = []
real_shutdown = loop.shutdown_distributed


def probe(info):
    # Count wrappers still alive at the moment the process group is destroyed: any left would keep the group alive
    # into interpreter teardown, where gloo aborts the process.
    seen.append(sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects()))
    real_shutdown(info)


loop.shutdown_distributed = probe
loop.train(resolve_config(sys.argv[1]))
print(json.dumps({"alive_at_shutdown": seen}))
"""


def test_no_ddp_wrapper_outlives_training(tmp_path):
    # Regression: a reference cycle kept rank 0's DDP wrapper (and the gloo group) alive after destroy_process_group,
    # and the process sometimes aborted on exit after a successful run.
    data = write_toy_dataset(tmp_path / "toy", pages=4, seed=1, size=128)
    config_path = _tiny_config(
        tmp_path, data, tmp_path / "run", "data.batch_size=1", "data.workers=0", "train.steps=1", "train.device=cpu"
    )
    script = tmp_path / "probe.py"
    script.write_text(_SHUTDOWN_PROBE)
    done = _torchrun(str(script), str(config_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 2  # one per rank
    assert all(r["alive_at_shutdown"] == [0] for r in reports)
