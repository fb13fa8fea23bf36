# Config validation, wildcard constraints and the helpers every rule file uses.
import copy
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from nacbench import artifacts, packet_loss, plan, swap
from nacbench.conditions import (
    CHANNEL_WILDCARD,
    CODEC_CHAR,
    CODEC_NAME,
    DATASET_NAME,
    LABELLING_WILDCARD,
    SHARD_NAME,
    ChannelSpec,
    ErasureSpec,
    is_erasure,
)
from nacbench.codecs import codec_gpu_mem_mb, job_mem_mb
from nacbench.config import external_codecs, external_rule_files, validate_config
from nacbench.erasure import LATENT_CONCEALMENT
from nacbench.resources import asr_gpu_mem_mb, job_gpu_mem_mb, register_gpu_memory
from nacbench.stages import check_results_folder

# hub commits recorded at first download live next to the Snakefile, wherever snakemake is run from
# (jobs inherit it; nacbench.codecs.revisions); a caller's own NACBENCH_HUB_LOCK wins
os.environ.setdefault("NACBENCH_HUB_LOCK", str(Path(workflow.basedir) / "hub-revisions.lock.yaml"))
validate_config(config)
# the config as given (saved with the results); the rules see the quantizer swap's derived codecs too
CONFIGURED = copy.deepcopy(config)
config["codecs"] = swap.with_derived_codecs(config)["codecs"]

R = config["results"]
# artifacts of another configuration (random vs real weights) in this results folder stop the run here
check_results_folder(R, config["codecs"])
PIPELINE_ENV = "../../envs/pipeline.yaml"
EXTERNAL_RULE_FILES = external_rule_files(config)
# Rules that build a codec through its Python adapter must not match codecs whose own rule file
# writes their artifacts (adapter: external); channel, score and report rules take every codec.
_external = [re.escape(n) for n in external_codecs(config)]
# (the lookahead ends at the first character that cannot continue a codec name: "/" in a path)
ADAPTER_CODEC = (f"(?!(?:{'|'.join(_external)})(?!{CODEC_CHAR}))" if _external else "") + CODEC_NAME
# ...and the channel stage runs as its own job for those alone (an adapter codec transmits in its decode job)
EXTERNAL_CODEC = f"(?:{'|'.join(_external)})(?!{CODEC_CHAR})" if _external else "(?!)"
# GPU jobs share the GPU by memory: the capacity is the device's (or --resources gpu_mem_mb=N); None
# when jobs run on the CPU
GPU_MEM_MB = register_gpu_memory(workflow, config["device"])
# Priority of the jobs whose small outputs each unlock many others (a manifest, a codec's codes, its
# codeword table or fitted quantizer): they run as soon as a core is free. Without it Snakemake's
# scheduler favours jobs with large inputs (score jobs), and the encode jobs that the rest of a codec's
# work waits for started minutes into the offline run (benchmarks/bench_offline_run.py).
UNLOCKS_WORK = 10
# Threads of the encode and ASR jobs. A 2-thread job starts only when two cores are free at once, which a
# stream of 1-thread jobs (decode, score) never leaves on a small machine: those jobs waited for the end
# of the offline run and ran there one at a time. There are always many such jobs, so one thread each
# keeps every core busy (and on a GPU the threads hardly matter). enc_rtf keeps 2: it is a timing.
ONE_CORE = 1


# the name grammars of nacbench.conditions (a channel wildcard takes exactly the names ChannelSpec parses)
wildcard_constraints:
    codec=CODEC_NAME,
    dataset=DATASET_NAME,
    shard=SHARD_NAME,
    channel=CHANNEL_WILDCARD,
    labelling=LABELLING_WILDCARD,


def codec_options(wildcards):
    return config["codecs"][wildcards.codec]


def codec_quantizer(wildcards):
    """A swapped codec's fitted quantizer (its code layout); nothing for any other codec."""
    if config["codecs"][wildcards.codec]["adapter"] == swap.POSTHOC_ADAPTER:
        return artifacts.quantizer(R, wildcards.codec)
    return []


def score_metrics(wildcards):
    return plan.score_metrics(config, wildcards.codec, wildcards.dataset, wildcards.channel)


def loss_pattern(wildcards):
    """The loss pattern file a packet-loss condition replays; nothing for any other channel."""
    if not is_erasure(wildcards.channel):
        return []
    spec = ErasureSpec.parse(wildcards.channel)
    return packet_loss.pattern_path(config, spec.pattern) if spec.model == "pattern" else []


def concealment_latents(wildcards):
    """The fit-set latents whose mean a mean-latent condition decodes (its base codec's, for a swapped
    codec: the same encoder); nothing for any other channel."""
    if not is_erasure(wildcards.channel):
        return []
    if ErasureSpec.parse(wildcards.channel).concealment != LATENT_CONCEALMENT:
        return []
    return artifacts.fit_latents(R, config["codecs"][wildcards.codec].get("base", wildcards.codec))


def asks_random(wildcards):
    return plan.asks_random_weights(config["codecs"][wildcards.codec])


def codec_env_of(codec):
    """The conda env a codec's jobs run in: its own when it pins conflicting packages (StableCodec)."""
    env = config["codecs"][codec].get("conda_env")
    return str(Path(workflow.basedir) / env) if env else PIPELINE_ENV


def codec_env(wildcards):
    return codec_env_of(wildcards.codec)


def codec_mem_mb(wildcards):
    return job_mem_mb(config["codecs"][wildcards.codec])


def gpu_mem_of(codec):
    """The codec's peak GPU memory on a GPU (0 on the CPU): GPU jobs run side by side as they fit."""
    return job_gpu_mem_mb(codec_gpu_mem_mb(config["codecs"][codec]), GPU_MEM_MB, f"codecs.{codec}")


def codec_gpu_mem(wildcards):
    return gpu_mem_of(wildcards.codec)


def asr_gpu_mem(wildcards):
    return job_gpu_mem_mb(asr_gpu_mem_mb(config["study_b"]["asr"]), GPU_MEM_MB, "study_b.asr")


def manifest(dataset):
    return artifacts.manifest(R, dataset)


def shard_files(pattern, dataset, **wildcards):
    return expand(pattern, shard=plan.shard_names(config, dataset), dataset=dataset, **wildcards)


def channel_labelling(wildcards):
    """The labelling artifact a channel condition needs (none for natural labelling)."""
    if is_erasure(wildcards.channel):
        return []
    spec = ChannelSpec.parse(wildcards.channel)
    if spec.labelling == "natural":
        return []
    return artifacts.labelling(R, wildcards.codec, spec.labelling)


def log_path(rule_name, *parts):
    return artifacts.log_file(R, rule_name, *parts)


def job_logs(rule_name, *parts):
    """A job's log and its startup record (seconds by phase, nacbench.startup): ``log: **job_logs(...)``."""
    return {"job": log_path(rule_name, *parts), "startup": artifacts.startup_file(R, rule_name, *parts)}


def bench_path(rule_name, *parts):
    """A Snakemake benchmark file, for external codecs (workflow/rules/examples/g711.smk), whose jobs
    write no startup record (nacbench.startup). The pipeline's own jobs write records instead: reading
    each job's memory map twice a second was half of what a profiler saw of Snakemake's own process."""
    return artifacts.benchmark_file(R, rule_name, *parts)


def all_targets():
    targets = [artifacts.report_config(R), artifacts.report_page(R)]
    targets += [f for name in config["data"] for f in dataset_targets(name)]
    if config["study_a"]["codecs"]:
        targets += study_a_targets()
    if config["study_labelling"]["codecs"]:
        targets += labelling_targets()
    if plan.study_b_codecs(config) or config["study_b"]["rows"]:
        targets += study_b_targets()
    if config["study_swap"]["codecs"]:
        targets += swap_targets()
    if packet_loss.codecs(config):
        targets += packet_loss_targets()
    return list(dict.fromkeys(targets))


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


# Every documented output (README "What it computes" and "results/ layout") is a target of `all` and of
# its study's target, intermediates included: Snakemake rebuilds a missing file only when something
# asks for it, so a deleted tidy table or shard would otherwise stay missing behind up-to-date figures.


def dataset_targets(dataset):
    return [manifest(dataset), artifacts.skipped(R, dataset)]


def condition_targets(codecs, dataset, channels):
    """codec.json, codes, received codes, kept listening audio and scores of codecs x channels."""
    out = []
    for codec in codecs:
        out.append(artifacts.codec_info(R, codec))
        out += shard_files(artifacts.codes_shard(R, "{codec}", "{dataset}", "{shard}"), dataset, codec=codec)
        for channel in channels:
            for kind in (artifacts.channel_shard, artifacts.listen_dir, artifacts.metrics_shard):
                pattern = kind(R, "{codec}", "{dataset}", "{channel}", "{shard}")
                out += shard_files(pattern, dataset, codec=codec, channel=channel)
    return out


def tidy_targets(dataset):
    return [artifacts.tidy_scores(R, dataset), artifacts.tidy_scores_csv(R, dataset)]


def study_b_targets():
    sb, dataset = config["study_b"], config["study_b"]["dataset"]
    codecs = plan.study_b_codecs(config)
    targets = [*rules.table2.output, *dataset_targets(dataset)]
    targets += condition_targets(codecs, dataset, ["clean"])
    targets += shard_files(artifacts.asr_reference(R, "{dataset}", "{shard}"), dataset)
    targets += row_inputs("asr")
    targets += [artifacts.enc_rtf(R, codec) for codec in codecs]
    if sb["reference_codec"] and sb["distilled_codec"]:
        targets += list(rules.code_analysis.output)
    return targets


def report_page_inputs(wildcards):
    """What the opening page summarises: every studied codec's codec.json and the studies' tables."""
    studied = [
        *config["study_a"]["codecs"],
        *config["study_labelling"]["codecs"],
        *plan.study_b_codecs(config),
        *packet_loss.codecs(config),
    ]
    inputs = {"info": [artifacts.codec_info(R, codec) for codec in dict.fromkeys(studied)]}
    if config["study_a"]["codecs"]:
        inputs |= {"summary": rules.table3.output.summary[0], "breakdown": rules.table3.output.breakdown[0]}
    if config["study_b"]["rows"]:
        inputs["table2"] = rules.table2.output.table[0]
    return inputs


def labelling_targets():
    dataset, study = config["study_a"]["dataset"], config["study_labelling"]
    channels = [spec.name for spec in plan.labelling_channels(config)]
    targets = [*rules.labelling_report.output, *dataset_targets(dataset), *tidy_targets(dataset)]
    targets += condition_targets(study["codecs"], dataset, channels)
    for codec in study["codecs"]:
        targets += [artifacts.codewords(R, codec), artifacts.expected_distortion(R, codec)]
        targets += [artifacts.labelling(R, codec, name) for name in study["labellings"] if name != "natural"]
    return targets


def swap_targets():
    """The quantizer swap's report, its fitted quantizers and every condition of its codecs."""
    dataset = config["study_a"]["dataset"]
    targets = [*rules.quantizer_swap.output, *dataset_targets(dataset), *tidy_targets(dataset)]
    for codec, specs in plan.swap_conditions(config).items():
        targets += condition_targets([codec], dataset, [spec.name for spec in specs])
    posthoc = [s for s in swap.swap_codecs(config) if s.posthoc]
    targets += [artifacts.quantizer(R, s.name) for s in posthoc]
    targets += [artifacts.fit_latents(R, base) for base in dict.fromkeys(s.base for s in posthoc)]
    return targets


def study_a_targets():
    dataset = config["study_a"]["dataset"]
    targets = [*rules.figure3.output, *rules.table3.output, *dataset_targets(dataset), *tidy_targets(dataset)]
    for codec, channels in plan.study_a_conditions(config).items():
        targets += condition_targets([codec], dataset, channels)
    return targets


def packet_loss_targets():
    """The packet-loss study's figure and table and every condition of its codecs."""
    dataset = config["study_a"]["dataset"]
    targets = [*rules.packet_loss.output, *dataset_targets(dataset), *tidy_targets(dataset)]
    for codec, channels in plan.packet_loss_conditions(config).items():
        targets += condition_targets([codec], dataset, channels)
    return targets
