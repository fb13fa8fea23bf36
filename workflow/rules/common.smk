# Config validation, wildcard constraints and the helpers every rule file uses.
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from nacbench import artifacts, plan
from nacbench.conditions import (
    CHANNEL_WILDCARD,
    CODEC_CHAR,
    CODEC_NAME,
    DATASET_NAME,
    LABELLING_WILDCARD,
    SHARD_NAME,
    ChannelSpec,
)
from nacbench.config import external_rule_files, validate_config

validate_config(config)

R = config["results"]
PIPELINE_ENV = "../../envs/pipeline.yaml"
EXTERNAL_RULE_FILES = external_rule_files(config)
# Rules that build a codec through its Python adapter must not match codecs whose own rule file
# writes their artifacts (adapter: external); channel, score and report rules take every codec.
_external = [re.escape(n) for n, o in config["codecs"].items() if o["adapter"] == "external"]
# (the lookahead ends at the first character that cannot continue a codec name: "/" in a path)
ADAPTER_CODEC = (f"(?!(?:{'|'.join(_external)})(?!{CODEC_CHAR}))" if _external else "") + CODEC_NAME


# the name grammars of nacbench.conditions (a channel wildcard takes exactly the names ChannelSpec parses)
wildcard_constraints:
    codec=CODEC_NAME,
    dataset=DATASET_NAME,
    shard=SHARD_NAME,
    channel=CHANNEL_WILDCARD,
    labelling=LABELLING_WILDCARD,


def codec_options(wildcards):
    return config["codecs"][wildcards.codec]


def codec_env_of(codec):
    """The conda env a codec's jobs run in: its own when it pins conflicting packages (StableCodec)."""
    env = config["codecs"][codec].get("conda_env")
    return str(Path(workflow.basedir) / env) if env else PIPELINE_ENV


def codec_env(wildcards):
    return codec_env_of(wildcards.codec)


def codec_mem_mb(wildcards):
    # NeuCodec's semantic encoder alone is ~580 M parameters (~4.5 GB on CPU)
    return 12000 if config["codecs"][wildcards.codec]["adapter"] in ("neucodec", "stablecodec") else 4000


def manifest(dataset):
    return artifacts.manifest(R, dataset)


def shard_files(pattern, dataset, **wildcards):
    return expand(pattern, shard=plan.shard_names(config, dataset), dataset=dataset, **wildcards)


def channel_labelling(wildcards):
    """The labelling artifact a channel condition needs (none for natural labelling)."""
    spec = ChannelSpec.parse(wildcards.channel)
    if spec.labelling == "natural":
        return []
    return artifacts.labelling(R, wildcards.codec, spec.labelling)


def log_path(rule_name, *parts):
    return artifacts.log_file(R, rule_name, *parts)


def bench_path(rule_name, *parts):
    return artifacts.benchmark_file(R, rule_name, *parts)


def all_targets():
    targets = [artifacts.report_config(R)]
    if config["study_a"]["codecs"]:
        targets += study_a_targets()
    if config["study_labelling"]["codecs"]:
        targets += labelling_targets()
    if plan.study_b_codecs(config) or config["study_b"]["rows"]:
        targets += study_b_targets()
    return targets


# ---- inputs and targets used by several rule files (the rules are defined by the time these run)


def dataset_source(wildcards):
    """A configured local copy needs no download; otherwise the download rule's record is the input."""
    if config["data"][wildcards.dataset]["root"]:
        return []
    return artifacts.download_record(config["downloads"], wildcards.dataset)


def metric_files(wildcards):
    return [
        f
        for cond in plan.conditions_for(config, wildcards.dataset)
        for f in shard_files(
            artifacts.metrics_shard(R, "{codec}", "{dataset}", "{channel}", "{shard}"),
            cond.dataset,
            codec=cond.codec,
            channel=cond.channel,
        )
    ]


def row_inputs(kind):
    """Per Table 2 row codec (and extra codec), the shard files of one kind on the Study B dataset."""
    patterns = {
        "metrics": artifacts.metrics_shard(R, "{codec}", "{dataset}", "clean", "{shard}"),
        "asr": artifacts.asr_shard(R, "{codec}", "{dataset}", "clean", "{shard}"),
    }
    return [
        f
        for codec in plan.study_b_codecs(config)
        for f in shard_files(patterns[kind], config["study_b"]["dataset"], codec=codec)
    ]


def study_b_targets():
    targets = list(rules.table2.output)
    if config["study_b"]["reference_codec"] and config["study_b"]["distilled_codec"]:
        targets += list(rules.code_analysis.output)
    return targets


def labelling_targets():
    return rules.labelling_report.output


def study_a_targets():
    return [*rules.figure3.output, *rules.table3.output]
