"""Model architectures: one module per `model.arch`, each registering an `Architecture`
(`grokinterp.models.registry`) that holds everything about it.

- `transformer`: the TransformerLens-native transformer (Nanda et al.'s model), and its fused forward.
- `power`: Power et al. 2022's post-LayerNorm transformer.
- `pair_mlp` (`mlp`): GrokTransfer's weak model, the two operand embeddings concatenated.
- `toy`: Liu et al. 2022's toy adder. `image_mlp` (`image-mlp`): an MLP on float vectors (Omnigrok's MNIST
  MLP). `onehot_mlp` (`onehot-mlp`): Prieto et al. 2025's MLP on one-hot operand codes. `mlp_stack` is their
  shared kit. `nnconv`: Omnigrok's QM9 graph network (two NNConv layers) on molecular graphs.
- `config`: the `model` section of a run config; `params`: checkpoint tensors of any architecture;
  `forward`: `build_model`, `build_tensors`, `fused_logits`, `fused_scored`, `hooked_logits` through the registry.

To add an architecture: write its module (a builder, a fused forward, descriptions, checks, and a
`register(Architecture(...))` call) and import it below.
"""

from grokinterp.models import image_mlp, nnconv, onehot_mlp, pair_mlp, power, toy, transformer  # noqa: F401  (register)
from grokinterp.models.config import ModelConfig
from grokinterp.models.forward import build_model, build_tensors, fused_logits, fused_scored, hooked_logits
from grokinterp.models.params import (
                                      BUFFERS,
                                      EMBEDDING_PARAMS,
                                      is_bias,
                                      is_trainable,
                                      load_tensors_,
                                      named_tensors,
                                      trainable_parameters,
                                      weight_sq,
)
from grokinterp.models.registry import Architecture, architecture_of, architectures, get_architecture

__all__ = [
    "Architecture", "BUFFERS", "EMBEDDING_PARAMS", "ModelConfig", "architecture_of", "architectures", "build_model",
    "build_tensors",
    "fused_logits", "fused_scored", "get_architecture", "hooked_logits", "is_bias", "is_trainable", "load_tensors_",
    "named_tensors", "trainable_parameters", "weight_sq",
]
