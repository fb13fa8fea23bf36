# Example of a codec that lives OUTSIDE the Python environment: ITU-T G.711 mu-law at 8 kHz.
#
# Enable it with one config entry (the key must be "g711", the name these rules write under):
#   codecs:
#     g711: {adapter: external, rules: workflow/rules/examples/g711.smk}
#   study_a:
#     codecs: [..., g711]
# Optional: `python: /path/to/env/bin/python` in that entry names the interpreter of the codec's own
# environment; the default is the `python` on PATH (the activated venv, or this file's conda env under
# --use-conda).
#
# The generic codec_info/encode/decode rules never match an external codec (ADAPTER_CODEC in
# common.smk), so these rules alone write its code and audio artifacts; the generic channel, score, tidy
# and report rules then take them up by path. The script is standalone (numpy/scipy/soundfile only).
# Sharding is the pipeline's: utterance i of the manifest goes to shard i mod data.<dataset>.shards.

from pathlib import Path

G711 = "g711"
# the script sits beside the workflow, found relative to this rule file (an absolute path in the logs)
G711_SCRIPT = str((Path(str(workflow.current_basedir)) / "../../scripts/examples/g711_codec.py").resolve())
G711_PYTHON = config["codecs"][G711].get("python", "python")
G711_ENV = "g711.env.yaml"


rule g711_codec_info:
    output:
        artifacts.codec_info(R, G711),
    log:
        log_path("g711_codec_info", G711),
    conda:
        G711_ENV
    params:
        python=G711_PYTHON,
        script=G711_SCRIPT,
        name=G711,
    shell:
        "{params.python:q} {params.script:q} info --name {params.name:q} --out {output:q} > {log:q} 2>&1"


rule g711_encode:
    input:
        manifest=lambda w: manifest(w.dataset),
        info=artifacts.codec_info(R, G711),
    output:
        artifacts.codes_shard(R, G711, "{dataset}", "{shard}"),
    log:
        log_path("g711_encode", G711, "{dataset}", "{shard}"),
    benchmark:
        bench_path("g711_encode", G711, "{dataset}", "{shard}")
    conda:
        G711_ENV
    resources:
        runtime=30,
    params:
        python=G711_PYTHON,
        script=G711_SCRIPT,
        n_shards=lambda w: config["data"][w.dataset]["shards"],
    shell:
        "{params.python:q} {params.script:q} encode --manifest {input.manifest:q} --shard {wildcards.shard}"
        " --n-shards {params.n_shards} --out {output:q} > {log:q} 2>&1"


rule g711_decode:
    input:
        codes=artifacts.channel_shard(R, G711, "{dataset}", "{channel}", "{shard}"),
        info=artifacts.codec_info(R, G711),
        manifest=lambda w: manifest(w.dataset),
    output:
        audio=temp(directory(artifacts.decoded_audio(R, G711, "{dataset}", "{channel}", "{shard}"))),
        listen=directory(artifacts.listen_dir(R, G711, "{dataset}", "{channel}", "{shard}")),
    log:
        log_path("g711_decode", G711, "{dataset}", "{channel}", "{shard}"),
    benchmark:
        bench_path("g711_decode", G711, "{dataset}", "{channel}", "{shard}")
    conda:
        G711_ENV
    resources:
        runtime=30,
    params:
        python=G711_PYTHON,
        script=G711_SCRIPT,
        listen=config["study_a"]["listen_utterances"],
    shell:
        "{params.python:q} {params.script:q} decode --codes {input.codes:q} --manifest {input.manifest:q}"
        " --audio-dir {output.audio:q} --listen-dir {output.listen:q} --listen {params.listen}"
        " > {log:q} 2>&1"
