"""The package codecs' weights in Transformers' modules: state-dict key maps for DAC, EnCodec and NeuCodec.

The ``transformers`` adapter runs DAC, EnCodec and NeuCodec through Transformers' own classes; the
package adapters (:mod:`nacbench.codecs.dac`, :mod:`nacbench.codecs.encodec`,
:mod:`nacbench.codecs.neucodec`) run them through ``descript-audio-codec``, ``encodec`` and
``neucodec``. The two implementations name their modules differently; these maps carry a package
model's state dict over to the Transformers model, so that both backends can be run on the *same*
weights (tests/test_codec_backends.py measures what then agrees), and so that a package checkpoint can
be loaded into the Transformers backend.

Each map renames keys (written out below, per family, from the two module trees of descript-audio-codec
1.0.0 / encodec 0.1.1 / neucodec 0.0.6 and Transformers 5.24) and then reconciles weight norm:

- the packages keep weight-normed convolutions as ``<module>.weight_g`` and ``<module>.weight_v``
  (``torch.nn.utils.weight_norm``);
- Transformers' EnCodec keeps them as a parametrization, ``<module>.parametrizations.weight.original0``
  (g) and ``original1`` (v): the pair is renamed, exactly;
- Transformers' DAC and NeuCodec have plain convolutions (their conversion scripts fold the norm): the
  pair is folded to ``weight = torch._weight_norm(v, g, 0)``, the very function the packages' forward
  hook computes, so the folded weight is bit for bit the one the package convolves with.

Keys the Transformers model does not hold are dropped only where the difference is known (listed per
family: the packages' anti-aliasing filters and ISTFT window, which Transformers computes as
non-persistent buffers from the same formulas; NeuCodec's training-only heads; semantic-model layers
past the one NeuCodec reads). Every other key must land on a key of the target with the same shape,
and every target key must be filled (:func:`check_complete`), so a map that falls out of date with
either package fails loudly instead of leaving random weights in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import torch

__all__ = [
    "check_complete",
    "dac_to_transformers",
    "encodec_to_transformers",
    "neucodec_to_transformers",
]

StateDict = Mapping[str, torch.Tensor]

_NORM_SUFFIXES = {
    "weight_g": "g",
    "weight_v": "v",
    "parametrizations.weight.original0": "g",
    "parametrizations.weight.original1": "v",
}


def _split_norm(key: str) -> tuple[str, str] | None:
    """(module, "g" or "v") for a weight-norm key, else None."""
    for suffix, role in _NORM_SUFFIXES.items():
        if key.endswith("." + suffix):
            return key[: -len(suffix) - 1], role
    return None


def _reconcile_weight_norm(state: dict[str, torch.Tensor], target: StateDict) -> dict[str, torch.Tensor]:
    """Weight-norm pairs renamed to the target's parametrization, or folded to a plain weight (module doc)."""
    out: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        split = _split_norm(key)
        if split is None:
            out[key] = value
        else:
            pairs.setdefault(split[0], {})[split[1]] = value
    for module, pair in pairs.items():
        if set(pair) != {"g", "v"}:
            raise KeyError(f"{module}: a weight-norm parameter without its partner ({sorted(pair)})")
        if f"{module}.parametrizations.weight.original0" in target:
            out[f"{module}.parametrizations.weight.original0"] = pair["g"]
            out[f"{module}.parametrizations.weight.original1"] = pair["v"]
        else:
            # the package's forward pre-hook (torch.nn.utils.weight_norm) computes exactly this
            out[f"{module}.weight"] = torch._weight_norm(pair["v"], pair["g"], 0)
    return out


def check_complete(mapped: StateDict, target: StateDict, what: str) -> None:
    """Raise KeyError unless ``mapped`` fills every key of ``target`` with a tensor of its shape, and
    holds no other key."""
    missing = sorted(set(target) - set(mapped))
    extra = sorted(set(mapped) - set(target))
    shapes = [k for k in set(mapped) & set(target) if tuple(mapped[k].shape) != tuple(target[k].shape)]
    if missing or extra or shapes:
        raise KeyError(
            f"{what}: the mapped state dict does not fit the Transformers model: {len(missing)} missing "
            f"(e.g. {missing[:4]}), {len(extra)} unexpected (e.g. {extra[:4]}), {len(shapes)} of another "
            f"shape (e.g. {sorted(shapes)[:4]})"
        )


def _apply(
    state: StateDict,
    rename: Callable[[str], str | None],
    target: StateDict,
    what: str,
) -> dict[str, torch.Tensor]:
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = rename(key)
        if new is not None:
            renamed[new] = value.detach().clone()
    mapped = _reconcile_weight_norm(renamed, target)
    check_complete(mapped, target, what)
    return mapped


# --- DAC ------------------------------------------------------------------------------------------------

#: inside a residual unit: the package's Sequential(Snake, conv k7, Snake, conv k1)
_RES_UNIT = {"0": "snake1", "1": "conv1", "2": "snake2", "3": "conv2"}


def _res_unit(rest: str) -> str:
    """``block.<j>.<param>`` of a package residual unit as Transformers names it."""
    m = re.fullmatch(r"block\.(\d)\.(.+)", rest)
    if m is None:
        raise KeyError(f"not a residual unit key: {rest}")
    return f"{_RES_UNIT[m.group(1)]}.{m.group(2)}"


def dac_to_transformers(state: StateDict, target: StateDict) -> dict[str, torch.Tensor]:
    """A descript-audio-codec ``DAC`` state dict as Transformers' ``DacModel`` keys.

    Encoder: ``encoder.block`` is Sequential(conv, EncoderBlock x n, Snake, conv); an EncoderBlock is
    Sequential(ResidualUnit x 3, Snake, strided conv). Decoder: ``decoder.model`` is Sequential(conv,
    DecoderBlock x n, Snake, conv); a DecoderBlock is Sequential(Snake, transposed conv, ResidualUnit
    x 3). The quantizer's keys are the same in both; every conv is weight-normed in the package and
    folded here (module doc)."""
    blocks = {
        side: max(int(m.group(1)) for k in state if (m := re.match(rf"{side}\.(\d+)\.", k))) - 2
        for side in ("encoder.block", "decoder.model")
    }

    def rename(key: str) -> str | None:
        if key.startswith("quantizer."):
            return key
        m = re.fullmatch(r"(encoder)\.block\.(\d+)\.(.+)|(decoder)\.model\.(\d+)\.(.+)", key)
        if m is None:
            raise KeyError(f"DAC: unexpected key {key}")
        side = m.group(1) or m.group(4)
        index, rest = int(m.group(2) or m.group(5)), m.group(3) or m.group(6)
        n = blocks["encoder.block" if side == "encoder" else "decoder.model"]
        if index == 0:
            return f"{side}.conv1.{rest}"
        if index == n + 1:
            return f"{side}.snake1.{rest}"
        if index == n + 2:
            return f"{side}.conv2.{rest}"
        inner = re.fullmatch(r"block\.(\d)\.(.+)", rest)
        if inner is None:
            raise KeyError(f"DAC: unexpected key {key}")
        j, tail = int(inner.group(1)), inner.group(2)
        block = f"{side}.block.{index - 1}"
        if side == "encoder":
            if j < 3:
                return f"{block}.res_unit{j + 1}.{_res_unit(tail)}"
            return f"{block}.{'snake1' if j == 3 else 'conv1'}.{tail}"
        if j >= 2:
            return f"{block}.res_unit{j - 1}.{_res_unit(tail)}"
        return f"{block}.{'snake1' if j == 0 else 'conv_t1'}.{tail}"

    return _apply(state, rename, target, "DAC")


# --- EnCodec --------------------------------------------------------------------------------------------


def encodec_to_transformers(state: StateDict, target: StateDict) -> dict[str, torch.Tensor]:
    """An encodec ``EncodecModel`` state dict as Transformers' ``EncodecModel`` keys: ``model`` ->
    ``layers``, the wrappers' doubled ``conv.conv`` / ``convtr.convtr`` -> ``conv``, ``quantizer.vq.layers.
    <i>._codebook`` -> ``quantizer.layers.<i>.codebook``; weight norm renamed to the parametrization."""

    def rename(key: str) -> str | None:
        key = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", key)
        key = key.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")
        return re.sub(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook.", key)

    return _apply(state, rename, target, "EnCodec")


# --- NeuCodec -------------------------------------------------------------------------------------------

#: the package's ``SemanticEncoder`` (initial conv, Sequential(ReLU, conv, ReLU, conv), final conv)
_SEMANTIC_ADAPTER = {
    "initial_conv": "conv1",
    "residual_blocks.1": "conv2",
    "residual_blocks.3": "conv3",
    "final_conv": "conv4",
}
#: the Vocos decoder's transformer block, beside the fused attention input (split in the map)
_DECODER_LAYER = {
    "att.c_proj": "self_attn.o_proj",
    "att_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
#: package keys with no Transformers counterpart: training-only heads of the published checkpoint, and
#: buffers Transformers recomputes (non-persistent) from the same formulas
NEUCODEC_DROPPED = re.compile(
    r"^(fc_post_s|SemanticDecoder)\.|\.(upsample\.filter|downsample\.lowpass\.filter)$|^generator\.head\.istft\.window$"
)


def _neucodec_encoder_key(rest: str) -> str:
    """A key under the package's ``CodecEnc`` as under Transformers' ``acoustic_encoder``: ``conv_blocks``
    is (conv, EncoderBlock x n), an EncoderBlock Sequential(ResidualUnit x 3, Activation1d, strided
    conv), ``conv_final_block`` (Activation1d, conv)."""
    m = re.fullmatch(r"conv_blocks\.(\d+)\.(.+)", rest)
    if m is not None:
        index, tail = int(m.group(1)), m.group(2)
        if index == 0:
            return f"conv1.{tail}"
        inner = re.fullmatch(r"block\.(\d)\.(.+)", tail)
        if inner is None:
            raise KeyError(f"NeuCodec: unexpected encoder key {rest}")
        j, tail = int(inner.group(1)), inner.group(2)
        block = f"block.{index - 1}"
        if j < 3:
            return f"{block}.res_unit{j + 1}.{_res_unit(tail)}"
        return f"{block}.{'snake1' if j == 3 else 'conv1'}.{tail}"
    m = re.fullmatch(r"conv_final_block\.(\d)\.(.+)", rest)
    if m is None:
        raise KeyError(f"NeuCodec: unexpected encoder key {rest}")
    return f"{'snake1' if m.group(1) == '0' else 'conv2'}.{m.group(2)}"


def neucodec_to_transformers(state: StateDict, target: StateDict) -> dict[str, torch.Tensor]:
    """A neucodec ``NeuCodec`` state dict (semantic model included) as Transformers' ``NeuCodecModel`` keys.

    - the semantic model: ``semantic_model.`` (or ``semantic_model.model.``, nacbench's shallow random
      stand-in) -> ``semantic_encoder.``; its layers past the target's count are dropped: the package
      reads ``hidden_states[16]`` of w2v-BERT 2.0's 24 layers, Transformers the last hidden state of a
      16-layer copy (``semantic_model_config.num_hidden_layers``), the same tensor;
    - ``SemanticEncoder_module`` -> ``semantic_adapter`` (:data:`_SEMANTIC_ADAPTER`), ``CodecEnc`` ->
      ``acoustic_encoder`` (weight norm folded), ``fc_prior`` -> ``fc_encoder``;
    - the FSQ: ``generator.quantizer.project_in/out`` -> ``quantizer.project_in/out`` (the one stage's
      own projections are identities with no keys);
    - the decoder: ``fc_post_a`` -> ``acoustic_decoder.fc``, ``generator.backbone.*`` ->
      ``acoustic_decoder.*`` (``transformers`` -> ``layers``, ``final_layer_norm`` -> ``norm``), each
      fused ``att.c_attn`` weight split into q, k, v (rows in that order: the package rearranges ``(r h
      d)`` with r = 3 outermost), ``generator.head.out`` -> ``acoustic_decoder.head.linear``.
    """
    layers = {
        int(m.group(1)) for k in target if (m := re.match(r"semantic_encoder\.encoder\.layers\.(\d+)\.", k))
    }
    kept_layers = max(layers) + 1 if layers else 0
    out: dict[str, torch.Tensor] = {}

    def rename(key: str) -> str | None:
        if NEUCODEC_DROPPED.search(key):
            return None
        m = re.fullmatch(r"semantic_model\.(?:model\.)?(.+)", key)
        if m is not None:
            layer = re.match(r"encoder\.layers\.(\d+)\.", m.group(1))
            if layer is not None and int(layer.group(1)) >= kept_layers:
                return None
            return f"semantic_encoder.{m.group(1)}"
        m = re.fullmatch(r"SemanticEncoder_module\.(.+)\.(weight|bias)", key)
        if m is not None:
            return f"semantic_adapter.{_SEMANTIC_ADAPTER[m.group(1)]}.{m.group(2)}"
        if key.startswith("CodecEnc."):
            return "acoustic_encoder." + _neucodec_encoder_key(key.removeprefix("CodecEnc."))
        for old, new in (
            ("fc_prior.", "fc_encoder."),
            ("generator.quantizer.", "quantizer."),
            ("fc_post_a.", "acoustic_decoder.fc."),
            ("generator.head.out.", "acoustic_decoder.head.linear."),
            ("generator.backbone.final_layer_norm.", "acoustic_decoder.norm."),
        ):
            if key.startswith(old):
                return new + key.removeprefix(old)
        m = re.fullmatch(r"generator\.backbone\.transformers\.(\d+)\.(.+)\.(weight|bias)", key)
        if m is not None:
            layer_prefix = f"acoustic_decoder.layers.{m.group(1)}"
            if m.group(2) == "att.c_attn":
                q, k, v = state[key].detach().clone().chunk(3, dim=0)
                for name, part in zip(("q_proj", "k_proj", "v_proj"), (q, k, v), strict=True):
                    out[f"{layer_prefix}.self_attn.{name}.{m.group(3)}"] = part
                return None
            return f"{layer_prefix}.{_DECODER_LAYER[m.group(2)]}.{m.group(3)}"
        m = re.fullmatch(r"generator\.backbone\.(embed|prior_net|post_net)\.(.+)", key)
        if m is not None:
            return f"acoustic_decoder.{m.group(1)}.{m.group(2)}"
        raise KeyError(f"NeuCodec: unexpected key {key}")

    renamed = {new: v.detach().clone() for k, v in state.items() if (new := rename(k)) is not None}
    mapped = _reconcile_weight_norm({**renamed, **out}, target)
    check_complete(mapped, target, "NeuCodec")
    return mapped
