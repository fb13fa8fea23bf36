# Score stage: STOI / PESQ / SI-SDR / mel-MSE at 16 kHz against the original input; one tidy table per dataset.


rule score:
    input:
        audio=artifacts.decoded_audio(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
        codes=artifacts.channel_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
        info=artifacts.codec_info(R, "{codec}"),
        manifest=lambda w: manifest(w.dataset),
    output:
        artifacts.metrics_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
    log:
        **job_logs("score", "{codec}", "{dataset}", "{channel}", "{shard}"),
    conda:
        PIPELINE_ENV
    # one core per job: there are always many score jobs to fill the cores; a profile may give more
    # (set-threads), and the scorer then spreads a large shard's utterances over worker processes
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        # config's metrics, plus a study's own where it asks (packet loss: PLCMOS, DNSMOS; WER)
        metrics=score_metrics,
        n_shards=lambda w: config["data"][w.dataset]["shards"],
        random_weights=asks_random,
    script:
        "../scripts/score.py"


rule tidy_scores:
    input:
        metric_files,
    output:
        parquet=artifacts.tidy_scores(R, "{dataset}"),
        csv=artifacts.tidy_scores_csv(R, "{dataset}"),
    log:
        log_path("tidy_scores", "{dataset}"),
    conda:
        PIPELINE_ENV
    script:
        "../scripts/tidy_scores.py"
