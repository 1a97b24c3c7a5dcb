"""Check that Slurm ran the jobs of a Snakemake run with the resources each rule set.

Reads the run's console output and queries every submitted job with
`scontrol show job`. Exits non-zero with a list of problems when a job did not
complete, or requested other CPUs, memory or wall time than Snakemake printed for
it, or left no Slurm log, or is missing from slurmctld's log. It also fails when the
rules run through Slurm or on the local host differ from the expected ones. Run it
where the Slurm commands reach the cluster (through .ci/slurm/exec for the test
cluster).
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

RULE_HEADER = re.compile(r"^(?P<local>local)?rule (?P<rule>\w+):$")
SUBMISSION = re.compile(
    r"^Job (?P<job>\d+) has been submitted with SLURM jobid (?P<slurm>\d+) "
    r"\(log: (?P<log>.+)\)\.$"
)
SCONTROL_FIELD = re.compile(r"(\w+)=(\S*)")


def parse_run(lines):
    """Return the rule blocks by Snakemake job id, and the Slurm submissions.

    A block maps "rule", "local", "threads", "mem_mb" and "runtime" to what
    Snakemake printed for the job. A retried job keeps its last block.
    """
    blocks = {}
    submissions = []
    block = None
    for line in lines:
        header = RULE_HEADER.match(line)
        if header:
            block = {"rule": header["rule"], "local": bool(header["local"])}
            continue
        if block is not None and line.startswith("    "):
            key, _, value = line.strip().partition(": ")
            if key == "jobid":
                blocks[int(value)] = block
            elif key == "threads":
                block["threads"] = int(value)
            elif key == "resources":
                resources = dict(
                    item.split("=", 1) for item in value.split(", ") if "=" in item
                )
                block["mem_mb"] = int(resources["mem_mb"])
                block["runtime"] = int(resources["runtime"])
            continue
        block = None
        submission = SUBMISSION.match(line)
        if submission:
            submissions.append(
                (
                    int(submission["job"]),
                    submission["slurm"],
                    Path(submission["log"]),
                )
            )
    return blocks, submissions


def time_limit_minutes(text):
    """Convert Slurm's [days-]hours:minutes:00 to minutes."""
    days, _, clock = text.rpartition("-")
    hours, minutes, _ = (int(part) for part in clock.split(":"))
    return (int(days or 0) * 24 + hours) * 60 + minutes


def show_job(slurm_id):
    """Return the fields of `scontrol show job --oneliner` for one job."""
    result = subprocess.run(
        ["scontrol", "--oneliner", "show", "job", slurm_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    return dict(SCONTROL_FIELD.findall(result.stdout))


# slurmctld starts a job from its main scheduler ("sched: Allocate JobId=15 ...") or
# from the backfill scheduler ("sched/backfill: _start_job: Started JobId=15 ...").
_START_RE = re.compile(r"(?:Allocate|_start_job: Started) JobId=(\d+)\b")


def allocated_jobs(slurmctld_log):
    """Return the Slurm job ids that slurmctld's log shows being started on a node."""
    return set(_START_RE.findall(slurmctld_log))


def check_job(block, slurm_id, log, fields, allocated):
    """Return the problems of one Slurm job, compared with its rule block."""
    name = f"Slurm job {slurm_id} (rule {block['rule']})"
    if fields is None:
        return [f"{name}: scontrol has no record of it"]
    expected = {
        "JobState": "COMPLETED",
        "ExitCode": "0:0",
        "NumCPUs": str(block.get("threads", 1)),
        "MinMemoryNode": f"{block['mem_mb']}M",
    }
    problems = [
        f"{name}: {key} is {fields.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if fields.get(key) != value
    ]
    limit = fields.get("TimeLimit", "")
    if not re.fullmatch(r"(\d+-)?\d+:\d\d:00", limit):
        problems.append(f"{name}: TimeLimit is {limit!r}, expected whole minutes")
    elif time_limit_minutes(limit) != block["runtime"]:
        problems.append(
            f"{name}: TimeLimit is {limit}, expected {block['runtime']} minutes"
        )
    if not fields.get("Comment", "").startswith(f"rule_{block['rule']}"):
        problems.append(f"{name}: Comment is {fields.get('Comment')!r}")
    if not log.is_file() or log.stat().st_size == 0:
        problems.append(f"{name}: Slurm log {log} is missing or empty")
    if slurm_id not in allocated:
        problems.append(f"{name}: slurmctld's log has no allocation for it")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="Snakemake's console output")
    parser.add_argument("slurmctld_log", type=Path, help="slurmctld's log file")
    parser.add_argument(
        "--slurm-rules", required=True, help="comma-separated rules expected in Slurm"
    )
    parser.add_argument(
        "--local-rules", required=True, help="comma-separated rules expected locally"
    )
    args = parser.parse_args()

    blocks, submissions = parse_run(args.output.read_text().splitlines())
    allocated = allocated_jobs(args.slurmctld_log.read_text())
    problems = []
    print(f"{'Slurm job':>9}  {'rule':<16} {'state':<10} cpus  memory  time limit")
    for job, slurm_id, log in submissions:
        block = blocks.get(job)
        if block is None:
            problems.append(f"Slurm job {slurm_id}: no rule block for job {job}")
            continue
        fields = show_job(slurm_id)
        if fields is not None:
            state, cpus, memory, limit = (
                fields.get(key, "?")
                for key in ("JobState", "NumCPUs", "MinMemoryNode", "TimeLimit")
            )
            print(
                f"{slurm_id:>9}  {block['rule']:<16} {state:<10} {cpus:>4}  "
                f"{memory:>6}  {limit}"
            )
        problems += check_job(block, slurm_id, log, fields, allocated)

    submitted_jobs = {job for job, _, _ in submissions}
    slurm_rules = {blocks[job]["rule"] for job in submitted_jobs if job in blocks}
    local_rules = {
        block["rule"]
        for job, block in blocks.items()
        if block["local"] and job not in submitted_jobs
    }
    for label, found, expected in [
        ("through Slurm", slurm_rules, set(args.slurm_rules.split(","))),
        ("on the local host", local_rules, set(args.local_rules.split(","))),
    ]:
        if found != expected:
            problems.append(
                f"rules run {label}: {sorted(found)}, expected {sorted(expected)}"
            )

    if problems:
        print("\n".join(["Slurm job check failed:", *problems]), file=sys.stderr)
        return 1
    print(
        f"{len(submissions)} Slurm jobs completed with the rules' resources; "
        f"local rules: {', '.join(sorted(local_rules))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
