rule table_training:
    input:
        models=model_dirs(ALL_MODELS),
    output:
        **table_outputs("training"),
    log:
        "logs/collate/table_training.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule figure_filters_default:
    input:
        model=f"{RESULTS}/models/{DEFAULT_MODEL}",
    output:
        **figure_outputs("filters_default", "Filters"),
    log:
        "logs/collate/figure_filters_default.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule figure_training_curve:
    input:
        model=f"{RESULTS}/models/{DEFAULT_MODEL}",
    output:
        **figure_outputs("training_curve", "Training"),
    log:
        "logs/collate/figure_training_curve.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule figure_ablation:
    input:
        models=lambda wildcards: model_dirs(ablation_models(wildcards.parameter)),
    output:
        png=report(
            f"{RESULTS}/figures/ablation_{{parameter}}.png",
            caption="../report/figure_ablation.rst",
            category="Filters",
            subcategory="Ablations",
        ),
        pdf=f"{RESULTS}/figures/ablation_{{parameter}}.pdf",
    log:
        "logs/collate/figure_ablation_{parameter}.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    params:
        field=lambda wildcards: ABLATION_FIELDS[wildcards.parameter],
    script:
        "../../scripts/collate.py"


rule table_classification:
    input:
        metrics=metrics_paths(CLASSIFICATION_FEATURES, CLASSIFIER_NAMES),
    output:
        **table_outputs("classification"),
        folds_csv=report(
            f"{RESULTS}/tables/folds.csv",
            caption="../report/table_folds.rst",
            category="Tables",
        ),
        folds_tex=f"{RESULTS}/tables/folds.tex",
    log:
        "logs/collate/table_classification.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule table_stride:
    input:
        metrics=metrics_paths(STRIDE_FEATURES, CLASSIFIER_NAMES),
    output:
        **table_outputs("stride"),
        **figure_outputs("stride", "Classification"),
    log:
        "logs/collate/table_stride.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule table_depth:
    input:
        metrics=metrics_paths(DEPTH_FEATURES, CLASSIFIER_NAMES),
        models=model_dirs(DEPTH_MODELS),
    output:
        **table_outputs("depth"),
        **figure_outputs("depth_filters", "Filters"),
    log:
        "logs/collate/table_depth.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule table_patch_count:
    input:
        metrics=metrics_paths(PATCH_COUNT_FEATURES, [PRIMARY_CLASSIFIER]),
        models=model_dirs(PATCH_COUNT_MODELS),
    output:
        **table_outputs("patch_count"),
        **figure_outputs("patch_count", "Classification"),
    log:
        "logs/collate/table_patch_count.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule table_activation:
    input:
        metrics=metrics_paths(ACTIVATION_FEATURES, [PRIMARY_CLASSIFIER]),
        models=model_dirs(ACTIVATION_MODELS),
    output:
        **table_outputs("activation"),
        **figure_outputs("activation_convergence", "Training"),
    log:
        "logs/collate/table_activation.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


rule table_speed:
    input:
        timings=[f"{RESULTS}/speed/cpu.csv", *config["speed"]["extra_timings"]],
    output:
        **table_outputs("speed"),
        **figure_outputs("speed", "Speed"),
    log:
        "logs/collate/table_speed.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../../scripts/collate.py"


if TUNED:

    rule table_tuned:
        input:
            metrics=metrics_paths(TUNED_FEATURES, TUNED_RUNS),
            models=model_dirs([DEFAULT_MODEL, *TUNED_MODELS]),
        output:
            **table_outputs("tuned"),
        log:
            "logs/collate/table_tuned.log",
        localrule: True
        conda:
            CONDA_ENV
        threads: 1
        resources:
            mem_mb=1000,
        params:
            default_model=DEFAULT_MODEL,
            tuned_model=TUNED_MODELS[0],
        script:
            "../../scripts/collate.py"
