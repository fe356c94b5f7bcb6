from ftspec.core import slurm_query
from ftspec.lint.rules.base import Rule, doc


def check(ctx, rule):
    s = ctx.spec
    section = s.compute.slurm
    if section is None:
        return
    nodes = slurm_query.partition_nodes(section.partition)
    if nodes is not None and s.compute.nodes > nodes:
        yield rule.finding(ctx, f"{s.compute.nodes} nodes asked, but partition {section.partition or '(default)'} has "
                           f"{nodes} (sinfo): the job would pend forever", at=("compute", "nodes"))


RULE = Rule("FT008", "slurm-job-cannot-run", "error", "A Slurm job the cluster would refuse or kill.",
            doc("With compute.slurm set: asks sinfo (when this machine has it) how many nodes the partition has and "
                "compares compute.nodes. `ftspec plan` also refuses a compute.slurm.time under its own wall-time "
                "estimate (the upper band), with this code.",
                "A job that asks for more nodes than the partition has pends forever; one whose time limit is "
                "shorter than the run is killed at the limit, after queueing and training for nothing.",
                "compute: {nodes: 4, slurm: {partition: debug}} on a one-node partition",
                "operations (Slurm); no guide"), "slurm", check)
