"""The SkyPilot launch backend: a task file that syncs the working directory to every node and starts one
accelerate launcher per node there, from SkyPilot's own variables: SKYPILOT_NODE_RANK (the machine rank),
SKYPILOT_NODE_IPS (one per line, the head first) and SKYPILOT_NUM_NODES."""

from __future__ import annotations

import shlex

from ftspec.core.templating import render
from ftspec.launch import local
from ftspec.launch.layout import Layout

NAME = "skypilot"
FILENAME = "sky.yaml"
# SkyPilot's accelerator names for the catalogue's (``sky show-gpus``). The PCIe H100 has no name
# of its own there; "H100" may give either form factor.
SKYPILOT_NAMES = {
    "h100": "H100", "h100-pcie": "H100", "h200": "H200", "a100-80gb": "A100-80GB", "a100-40gb": "A100",
    "l4": "L4", "a10": "A10", "a10g": "A10G", "rtx4090": "RTX4090", "a6000": "RTXA6000",
    # SkyPilot's catalogue calls the 16 GB V100 plain "V100". Cards no public cloud catalogue lists (h20, h800,
    # a800-*, l20, rtx4090d) keep their upper-cased name: on Kubernetes that is the node label to match.
    "v100-16gb": "V100", "v100-32gb": "V100-32GB", "l40s": "L40S",
}


def render_task(layout: Layout, *, run_dir: str, job_name: str, workdir: str = ".") -> str:
    """``run_dir`` as the nodes see it: SkyPilot syncs ``workdir`` to each node, so it is relative to that."""
    return render("launch/skypilot.yaml.j2", layout=layout, job_name=job_name, run_dir=run_dir, workdir=workdir,
                  multi_node=layout.nodes > 1, q=shlex.quote, env=local.env(layout),
                  launch_line=local.launch_line(local.launch_argv(layout, run_dir)),
                  sky_accelerator=None if layout.on_cpu else SKYPILOT_NAMES.get(layout.accelerator,
                                                                                 layout.accelerator.upper()),
                  node_command=local.per_node_line(run_dir, "SKYPILOT_NODE_RANK", "HEAD_IP"))
