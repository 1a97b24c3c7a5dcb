rule gradient_check:
    output:
        **table_outputs("gradient_check"),
    log:
        "logs/gradient_check/gradient_check.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        seed=config["seed"],
    script:
        "../../scripts/gradient_check.py"


rule speed_cpu:
    input:
        benchmark=f"{REPOSITORY}/benchmarks/loss_speed.py",
    output:
        f"{RESULTS}/speed/cpu.csv",
    log:
        "logs/speed_cpu/cpu.log",
    conda:
        CONDA_ENV
    threads: config["max_threads"]
    resources:
        mem_mb=4000,
    params:
        sizes=config["speed"]["sizes"],
        repeats=config["speed"]["repeats"],
    script:
        "../../scripts/speed_cpu.py"


# Provenance depends on every collated table, so it is rewritten whenever a result
# changes and records the code and packages of the latest run.
rule provenance:
    input:
        data=DATA_DIR,
        tables=expand(f"{RESULTS}/tables/{{name}}.csv", name=TABLES),
    output:
        report(
            f"{RESULTS}/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance/provenance.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/provenance.py"
