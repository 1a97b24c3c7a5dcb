rule extract_features:
    input:
        data=DATA_DIR,
        model=f"{RESULTS}/models/{{model}}",
    output:
        train=temp(f"{RESULTS}/features/{{model}}/{{fset}}/train.npy"),
        test=temp(f"{RESULTS}/features/{{model}}/{{fset}}/test.npy"),
        labels=temp(f"{RESULTS}/features/{{model}}/{{fset}}/labels.npz"),
    log:
        "logs/extract_features/{model}/{fset}.log",
    conda:
        CONDA_ENV
    threads: config["max_threads"]
    resources:
        mem_mb=lambda wildcards: int(config["memory_budget_mb"]) + 1000,
    params:
        feature_set=feature_set_params,
        dataset=LABELLED_SUBSETS,
        seed=config["seed"],
    script:
        "../../scripts/extract_features.py"


rule extract_pixels:
    input:
        data=DATA_DIR,
    output:
        train=temp(f"{RESULTS}/features/{RAW_FEATURES}/train.npy"),
        test=temp(f"{RESULTS}/features/{RAW_FEATURES}/test.npy"),
        labels=temp(f"{RESULTS}/features/{RAW_FEATURES}/labels.npz"),
    log:
        f"logs/extract_pixels/{DATASET}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=lambda wildcards: int(config["memory_budget_mb"]) + 1000,
    params:
        dataset=LABELLED_SUBSETS,
        seed=config["seed"],
    script:
        "../../scripts/extract_pixels.py"
