rule train_model:
    input:
        data=DATA_DIR,
    output:
        directory(f"{RESULTS}/models/{{model}}"),
    log:
        "logs/train_model/{model}.log",
    conda:
        CONDA_ENV
    threads: config["max_threads"]
    resources:
        mem_mb=4000,
    params:
        model=model_params,
        patch_split=config["dataset"]["patch_split"],
        patch_size=config["patch_size"],
        training=MODEL_TRAINING,
    script:
        "../../scripts/train_model.py"


rule draw_filters:
    input:
        f"{RESULTS}/models/{{model}}",
    output:
        f"{RESULTS}/filters/{{model}}.png",
    log:
        "logs/draw_filters/{model}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/draw_filters.py"
