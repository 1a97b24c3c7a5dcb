rule prepare_data:
    output:
        directory(f"{RESULTS}/data/{{dataset}}"),
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        CONDA_ENV
    threads: PREPARE_THREADS  # image decoding processes (folder datasets)
    resources:
        mem_mb=4000,
    params:
        kind=config["dataset"]["kind"],
        source=config["dataset"]["source"],
        url=config["dataset"]["url"],
        options=READER_OPTIONS,
    script:
        "../../scripts/prepare_data.py"
