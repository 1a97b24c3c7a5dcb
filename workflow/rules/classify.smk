rule classify:
    input:
        train=f"{RESULTS}/features/{{features}}/train.npy",
        test=f"{RESULTS}/features/{{features}}/test.npy",
        labels=f"{RESULTS}/features/{{features}}/labels.npz",
    output:
        f"{RESULTS}/metrics/{{features}}/{{classifier}}.json",
    log:
        "logs/classify/{features}/{classifier}.log",
    conda:
        CONDA_ENV
    threads: classify_threads
    resources:
        mem_mb=classify_mem_mb,
    params:
        classifier=lambda wildcards: CLASSIFIER_RUNS[wildcards.classifier][0],
        options=lambda wildcards: CLASSIFIER_RUNS[wildcards.classifier][1],
        folds=config["classify"]["folds"],
        seed=config["seed"],
    script:
        "../../scripts/classify.py"
