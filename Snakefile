# nacbench: reproduce arXiv 2509.09550 (FSQ codecs on noisy channels). The logic lives in src/nacbench;
# each rule file under workflow/rules/ wires one stage's files to it.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# the HTML report (snakemake --report) opens on this page: what the run computed, with which weights,
# and its headline numbers
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/channel.smk"
include: "workflow/rules/decode.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/asr.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/labelling.smk"
include: "workflow/rules/swap.smk"
include: "workflow/rules/packet_loss.smk"
include: "workflow/rules/report.smk"


# codecs that live outside the Python environment bring their own rules (codecs.<name>.rules)
for rule_file in EXTERNAL_RULE_FILES:

    include: rule_file


rule all:
    default_target: True
    input:
        all_targets(),


rule data:
    input:
        [f for name in config["data"] for f in dataset_targets(name)],


rule study_a:
    input:
        study_a_targets(),


rule study_b:
    input:
        study_b_targets(),


rule labelling_study:
    input:
        labelling_targets(),


rule quantizer_swap_study:
    input:
        swap_targets(),


rule packet_loss_study:
    input:
        packet_loss_targets(),
