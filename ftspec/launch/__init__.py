"""Launching a plan: its layout (processes, nodes, precision; ``layout``), the accelerator catalogue
(``accelerators``) and one module per launch backend: ``local`` (accelerate on this machine), ``slurm`` (an sbatch
script) and ``skypilot`` (a task file). ``files`` composes what they render into the plan's launch section."""
