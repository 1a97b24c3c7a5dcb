"""Time loss+gradient on this machine's CPU with the core's benchmark script."""

import os
import subprocess
import sys

from _common import atomic_path, start

logger = start(snakemake)  # noqa: F821 (defined by Snakemake)

smk = snakemake  # noqa: F821
with atomic_path(smk.output[0]) as temporary:
    command = [
        sys.executable,
        smk.input.benchmark,
        "--sizes",
        *[str(n) for n in smk.params.sizes],
        "--repeats",
        str(smk.params.repeats),
        "--out",
        temporary,
    ]
    logger.info("Running %s", " ".join(command))
    # The benchmark inherits the thread variables that start() set from the rule.
    subprocess.run(
        command, check=True, stdout=sys.stderr, stderr=sys.stderr, env=os.environ.copy()
    )
