"""Named run configurations. `get_preset(name)` returns a fresh `RunConfig`; `PRESETS` lists the names.

`mod113` is the model and optimiser of Nanda et al. 2023 ("Progress measures for grokking via mechanistic
interpretability"), from their `transformers.py` Config and the saved runs' configs:
- task: (a + b) mod 113 on `[a, b, =]`, all 113^2 pairs, 30% train (3830 pairs); the paper splits with
  Python `random.shuffle(seed=0)`, we with a seeded torch permutation (same sizes, different pairs);
- model: 1 layer, d_model 128, 4 heads of d_head 32, d_mlp 512, ReLU, no LayerNorm, output over all 114
  tokens; init randn/sqrt(d_model), W_U randn/sqrt(d_vocab); only the MLP biases exist (attention biases
  of the TL-native model are frozen at 0);
- optimiser: AdamW lr 1e-3, weight decay 1.0, betas (0.9, 0.98), 10-step linear warm-up, full batch;
- checkpoints every 100 steps (the paper's `save_every`), plus 20 log-spaced ones in the first 100.
The paper trains 40k epochs and marks memorisation / circuit formation / cleanup at 1.4k / 9.4k / 14k;
our budget of 25k steps passes cleanup with margin on CPU.
`mod113-demo` is `mod113` stopped at 11,000 steps, past the end of cleanup (9,000 in that run, 9,300 in a
12,000-step one; test accuracy 99% at 7,160): what `make demo` trains, in ~8 minutes on 2 idle AMD EPYC cores.
`mod113-small` is a CPU-friendly variant (p = 53, d_model 64): 99% test accuracy at step ~5.8k (6.5k on
another CPU), within its 8k-step budget (about a minute on one core).

`s5` is Power et al.'s S5 composition x*y on the same model as Chughtai et al.'s S5 transformer (1 layer,
d_model 128, 4 heads, d_mlp 512, no LayerNorm; full batch, AdamW wd 1, betas (0.9, 0.98)) with 60% of the
14,400 pairs in train, their fraction, and lr 3e-3 instead of their 1e-3: at 1e-3 test accuracy was
still 1.6% after 2,300 steps, at 3e-3 it reached 99% at step ~2,800 (about 11 minutes on one CPU core).
The 8,000-step budget leaves room for the cleanup phase.

`add5`, `add5-infinite`, `repeat-subseq`, `repeat-subseq-infinite` are Nanda 2022's phase-change tasks with
the configs of his saved runs: 5-digit addition on a 1-layer transformer (d_model 128, 4 heads, d_mlp 512),
finite on 700 sums (the count his post gives, unverified; weight decay 1) or on a fresh batch of 128 every
step (weight decay 0.1: at 1, seed 0 left digit c4 at chance for all 8,000 steps and c2, c3, c5 near 0.3;
at 0.1 every digit ends below 0.06 on four seeds); and a
2-layer attention-only model (d_model 48, 4 heads of 12, no LayerNorm) predicting a 16-token block
repeated 3 times in 85 tokens from 128, finite or infinite, AdamW lr 1e-3, wd 1, betas (0.9, 0.999). On
infinite data wd 0.1 and lr 3e-3: wd 1 held the loss at ~2.0 with 61% of the tokens right (too little
weight for confident logits), and lr 1e-3 left it at one-token induction within the 6,000 steps. Step
budgets fit about 30 CPU minutes each. Nanda's finite run had 512 sequences and generalised only after ~200k
steps; `repeat-subseq` has 1,024 (8 batches of 128), with which the test loss stays flat while the train
loss falls for ~1,500 steps and then follows it down within the 5,000-step budget.
"""

from __future__ import annotations

from collections.abc import Callable

from grokinterp.config import AccelConfig, ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig


def _mod113() -> RunConfig:
    return RunConfig(
        task=TaskConfig(family="modular", op="add", p=113, frac_train=0.3, seed=0),
        model=ModelConfig(n_layers=1, d_model=128, n_heads=4, d_head=32, d_mlp=512, act_fn="relu",
                          normalization_type=None, init="paper", biases="mlp", seed=0),
        train=TrainConfig(steps=25_000, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), warmup_steps=10,
                          batch_size=0, log_every=10, ckpt_every=100, ckpt_log_points=20),
        preset="mod113",
    )


def _mod113_demo() -> RunConfig:
    cfg = _mod113()
    cfg.train.steps = 11_000
    cfg.preset = "mod113-demo"
    return cfg


def _mod_small() -> RunConfig:
    cfg = _mod113()
    cfg.task.p = 53
    cfg.task.frac_train = 0.4
    cfg.model.d_model, cfg.model.n_heads, cfg.model.d_head, cfg.model.d_mlp = 64, 4, 16, 256
    cfg.train.steps = 8000  # 99% test accuracy at step ~5.8k-6.5k (float rounding moves it across CPUs)
    cfg.train.ckpt_every = 50
    cfg.preset = "mod113-small"
    return cfg


def _s5() -> RunConfig:
    cfg = _mod113()
    cfg.task = TaskConfig(family="permutation", op="compose", n=5, frac_train=0.6, seed=0)
    cfg.train.lr = 3e-3
    cfg.train.steps = 8000
    cfg.preset = "s5"
    return cfg


def _add5() -> RunConfig:
    return RunConfig(
        task=TaskConfig(family="digits", op="add", n_digits=5, mode="finite", n_train=700, n_test=1000, seed=0),
        model=ModelConfig(n_layers=1, d_model=128, n_heads=4, d_head=32, d_mlp=512, act_fn="relu",
                          normalization_type=None, init="paper", biases="mlp", seed=0),
        train=TrainConfig(steps=12_000, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), warmup_steps=10,
                          batch_size=0, log_every=10, ckpt_every=200, ckpt_log_points=20),
        preset="add5",
    )


def _add5_infinite() -> RunConfig:
    cfg = _add5()
    cfg.task.mode = "infinite"
    cfg.train.batch_size = 128
    cfg.train.steps = 8000
    cfg.train.weight_decay = 0.1  # at 1.0 one digit can stay at chance for the whole budget (docs/results.md)
    cfg.train.ckpt_every = 100
    cfg.preset = "add5-infinite"
    return cfg


def _repeat_subseq() -> RunConfig:
    return RunConfig(
        task=TaskConfig(family="sequences", op="repeat", seq_len=85, subseq_len=16, n_repeats=3, vocab=128,
                        mode="finite", n_train=1024, n_test=512, seed=0),
        model=ModelConfig(n_layers=2, d_model=48, n_heads=4, d_head=12, d_mlp=1, attn_only=True,
                          normalization_type=None, init="paper", biases="none", seed=0),
        train=TrainConfig(steps=5_000, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.999), warmup_steps=10,
                          batch_size=128, log_every=10, ckpt_every=100, ckpt_log_points=20),
        preset="repeat-subseq",
    )


def _repeat_subseq_infinite() -> RunConfig:
    cfg = _repeat_subseq()
    cfg.task.mode = "infinite"
    cfg.train.steps = 6000
    cfg.train.weight_decay = 0.1  # at 1.0 the loss stalled at ~2.0: the decay capped the logits' scale
    cfg.train.lr = 3e-3  # at 1e-3 it ended at 0.589 under Nanda's convention, at 3e-3 0.424 (his 0.30)
    cfg.train.ckpt_every = 100
    cfg.preset = "repeat-subseq-infinite"
    return cfg


def _repeat_subseq_512() -> RunConfig:
    """Nanda's finite run as far as we can tell how he ran it: 512 training sequences (4 batches of 128), weight
    decay 1 on every tensor but the two embeddings, his loss (every token of the later copies), and a budget past
    his generalisation at step ~198k (300k steps; hours on CPU: configs/sweeps/repeat-subseq-512.toml). With
    the embeddings decayed too, the model stalls at train loss ~1.95 (his: ~0.45 by step 20k); without, its
    memorisation follows his curve (docs/results.md, "The embeddings out of weight decay")."""
    cfg = _repeat_subseq()
    cfg.task.n_train = 512
    cfg.task.score_first_tokens = True
    cfg.train.no_decay = ("embed.weight", "pos_embed.weight")
    cfg.train.steps = 300_000
    cfg.train.log_every = 50
    cfg.train.ckpt_every = 1000
    cfg.preset = "repeat-subseq-512"
    return cfg


MAX_LEN, MAX_VOCAB, MAX_TRAIN, MAX_STEPS = 10, 32, 1000, 3000


def _max() -> RunConfig:
    """The seeds' max-element task (`START 0 4 7 2 4 14 9 7 2 5 3 END`): MAX_LEN tokens from MAX_VOCAB and
    '=' (our END), the answer read at '='; on the 1-layer mod113 model, 1,000 training sequences, full
    batch, weight decay 1. It does not grok: one attention head that attends to the largest token solves it,
    and train and test accuracy rise together (99% test by step ~350; with 100 sequences test accuracy
    climbs slowly to 95%). docs/results.md has the curves."""
    return RunConfig(
        task=TaskConfig(family="sequences", op="max", seq_len=MAX_LEN, vocab=MAX_VOCAB, mode="finite",
                        n_train=MAX_TRAIN, n_test=1000, seed=0),
        model=ModelConfig(n_layers=1, d_model=128, n_heads=4, d_head=32, d_mlp=512, act_fn="relu",
                          normalization_type=None, init="paper", biases="mlp", seed=0),
        train=TrainConfig(steps=MAX_STEPS, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), warmup_steps=10,
                          batch_size=0, log_every=10, ckpt_every=100, ckpt_log_points=20),
        preset="max",
    )


def _toy_add() -> RunConfig:
    return RunConfig(
        task=TaskConfig(family="addition", op="add", p=10, frac_train=0.82, seed=0),  # 45 of 55 pairs, as Liu et al.
        model=ModelConfig(arch="toy", n_layers=2, d_model=1, d_mlp=200, act_fn="tanh", init="paper", biases="all",
                          seed=0),
        train=TrainConfig(steps=10_000, lr=1e-4, embed_lr=1e-3, weight_decay=0.0, embed_weight_decay=0.0,
                          betas=(0.9, 0.999), warmup_steps=0, batch_size=0, log_every=10, ckpt_every=250,
                          ckpt_log_points=10, grok_threshold=0.9),
        preset="toy-add",
    )


def _prieto_mlp() -> RunConfig:
    """Prieto et al. 2025's modular-addition MLP with their ⊥AdamW (Fig. 1): one-hot operands -> 2 x 200 ReLU,
    no biases, PyTorch init; full batch, lr 1e-2, betas (0.9, 0.99), eps 1e-25, no weight decay, 40% train."""
    return RunConfig(
        task=TaskConfig(family="modular", op="add", p=113, frac_train=0.4, seed=0),
        model=ModelConfig(arch="onehot-mlp", n_layers=2, d_model=1, d_mlp=200, act_fn="relu", init="tl",
                          biases="none", seed=0),
        train=TrainConfig(steps=1000, lr=1e-2, weight_decay=0.0, betas=(0.9, 0.99), eps=1e-25, warmup_steps=0,
                          batch_size=0, log_every=5, ckpt_every=50, ckpt_log_points=10, grok_threshold=0.99),
        accel=AccelConfig(orthogonal_grad=True),
        preset="prieto-mlp",
    )


def _digits_omnigrok() -> RunConfig:
    return RunConfig(
        task=TaskConfig(family="images", dataset="digits", n_train=200, n_test=0, seed=0),
        model=ModelConfig(arch="image-mlp", n_layers=2, d_model=1, d_mlp=200, act_fn="relu", init="tl",
                          biases="all", seed=0),
        train=TrainConfig(steps=20_000, lr=1e-3, weight_decay=0.1, loss="mse", betas=(0.9, 0.999), warmup_steps=0,
                          batch_size=0, log_every=10, ckpt_every=500, ckpt_log_points=10, grok_threshold=0.9),
        accel=AccelConfig(init_scale=8.0),
        preset="digits-omnigrok",
    )


def _teacher_student() -> RunConfig:
    """Omnigrok's teacher-student regression (Liu et al. 2023, Sec. 3.1, their regression_grokking notebook):
    5-100-100-5 tanh MLPs, 100 train / 100 test Gaussian inputs, the student at init x2, AdamW lr 3e-4 with
    weight decay 0.05 (the notebook's), full batch, 10^5 steps, squared error; a sample is right when its mean
    squared error is below 0.001."""
    return RunConfig(
        task=TaskConfig(family="teacher-student", seed=0),
        model=ModelConfig(arch="image-mlp", n_layers=2, d_model=1, d_mlp=100, act_fn="tanh", init="tl",
                          biases="all", seed=0),
        train=TrainConfig(steps=100_000, lr=3e-4, weight_decay=0.05, loss="mse", betas=(0.9, 0.999),
                          warmup_steps=0, batch_size=0, log_every=100, ckpt_every=2000, ckpt_log_points=10,
                          grok_threshold=0.9),
        accel=AccelConfig(init_scale=2.0),
        preset="teacher-student",
    )


def _mnist_omnigrok() -> RunConfig:
    cfg = _digits_omnigrok()
    cfg.task.dataset, cfg.task.n_train, cfg.task.data_path = "mnist", 1000, "data/mnist"
    cfg.train.batch_size = 200
    cfg.train.weight_decay = 0.01  # Omnigrok's notebook
    cfg.train.steps = 100_000
    cfg.train.ckpt_every = 1000
    cfg.preset = "mnist-omnigrok"
    return cfg


def _fashion_omnigrok() -> RunConfig:
    """Omnigrok's MNIST set-up (1,000 training images, MLP 784-200-200-10 at init x8, squared error, AdamW, batches
    of 200) on Fashion-MNIST, read from Debian's dataset-fashion-mnist package (`task.data_path` overrides)."""
    cfg = _mnist_omnigrok()
    cfg.task.dataset, cfg.task.data_path = "fashion-mnist", ""
    cfg.preset = "fashion-omnigrok"
    return cfg


def _mnist1d_omnigrok() -> RunConfig:
    """Omnigrok's MNIST set-up on MNIST-1D (40-point signals, generated offline by the `mnist1d` package):
    1,000 of its 4,000 training examples, MLP 40-200-200-10 at init x8, squared error, AdamW, batches of 200."""
    cfg = _mnist_omnigrok()
    cfg.task.dataset, cfg.task.data_path = "mnist1d", ""
    cfg.preset = "mnist1d-omnigrok"
    return cfg


def _parity() -> RunConfig:
    """GrokTransfer's (40, 3) sparse parity (1,000 samples) on their homogeneous three-layer FNN (no biases),
    trained from scratch. Their scratch run used lr 1e-2 and wd 1 (batch size not stated); with full batch
    it memorised and never generalised here, with batches of 32 at lr 1e-3, wd 0.1 it groks: train accuracy
    99% at step ~250, test accuracy 99% at step ~8,100."""
    return RunConfig(
        task=TaskConfig(family="parity", n_bits=40, k=3, n_train=1000, n_test=1000, seed=0),
        model=ModelConfig(arch="image-mlp", n_layers=2, d_model=1, d_mlp=512, act_fn="relu", init="tl",
                          biases="none", seed=0),
        train=TrainConfig(steps=20_000, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.999), warmup_steps=0,
                          batch_size=32, log_every=50, ckpt_every=250, ckpt_log_points=10, grok_threshold=0.99),
        preset="parity",
    )


def _power(op: str) -> Callable[[], RunConfig]:
    """Power et al. 2022's set-up for one operation (`power-<op>`): their 2-layer post-LayerNorm transformer
    (`grokinterp.models.power`: d_model 128, 4 heads, FFN 512 without biases, sinusoidal positions, untied output)
    on their equations `<eos> a op b = c <eos>` (`task.format = "power"`, scored on c and the final <eos>);
    p = 97 or S5; 50% of the equations train (their headline x/y run); AdamW lr 1e-3, weight decay 1,
    betas (0.9, 0.98), 10 warm-up steps, minibatches of min(512, half the train set), 10^5 steps."""
    from grokinterp.tasks.modular import MODULAR_OPS

    def make() -> RunConfig:
        task = (TaskConfig(family="modular", op=op, p=97, frac_train=0.5, format="power", seed=0) if op in MODULAR_OPS
                else TaskConfig(family="permutation", op=op, n=5, frac_train=0.5, format="power", seed=0))
        return RunConfig(
            task=task,
            model=ModelConfig(arch="power", n_layers=2, d_model=128, n_heads=4, d_head=32, d_mlp=512, act_fn="relu",
                              normalization_type=None, init="paper", biases="none", seed=0),
            train=TrainConfig(steps=100_000, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), warmup_steps=10,
                              batch_size=-1, log_every=100, ckpt_every=1000, ckpt_log_points=20),
            preset=f"power-{op}",
        )

    return make


POWER_OPS = ("add", "sub", "mul", "div", "odd_div", "x2_y2", "x2_xy_y2", "x2_xy_y2_x", "x3_xy", "x3_xy2_y",
             "compose", "conj", "aba")

def _qm9_omnigrok() -> RunConfig:
    """Omnigrok's QM9 grokking (Liu et al. 2023, Sec. 3.3; their qm9-grokking notebook): the first 400 molecules of
    QM9, 200 train / 200 test, isotropic polarizability by squared error, their NNConv network (conv widths 32 and
    16, edge and head width 32) at init x3, AdamW lr 1e-3 without weight decay, batches of 32; their notebook
    trains 100 * 50000 / 400 epochs (87,500 steps)."""
    return RunConfig(
        task=TaskConfig(family="qm9", n_train=200, n_test=200, seed=0),
        model=ModelConfig(arch="nnconv", n_layers=2, d_model=32, d_mlp=32, act_fn="relu", init="tl", biases="all",
                          seed=0),
        train=TrainConfig(steps=87_500, lr=1e-3, weight_decay=0.0, loss="mse", betas=(0.9, 0.999), warmup_steps=0,
                          batch_size=32, log_every=250, ckpt_every=5000, ckpt_log_points=10, grok_threshold=0.9),
        accel=AccelConfig(init_scale=3.0),
        preset="qm9-omnigrok",
    )


PRESETS: dict[str, Callable[[], RunConfig]] = {
    "mod113": _mod113,
    "mod113-demo": _mod113_demo,
    "mod113-small": _mod_small,
    "s5": _s5,
    "add5": _add5,
    "add5-infinite": _add5_infinite,
    "repeat-subseq": _repeat_subseq,
    "repeat-subseq-infinite": _repeat_subseq_infinite,
    "repeat-subseq-512": _repeat_subseq_512,
    "max": _max,
    "toy-add": _toy_add,
    "prieto-mlp": _prieto_mlp,
    "digits-omnigrok": _digits_omnigrok,
    "teacher-student": _teacher_student,
    "mnist-omnigrok": _mnist_omnigrok,
    "fashion-omnigrok": _fashion_omnigrok,
    "mnist1d-omnigrok": _mnist1d_omnigrok,
    "parity": _parity,
    "qm9-omnigrok": _qm9_omnigrok,
    **{f"power-{op}": _power(op) for op in POWER_OPS},
}


def get_preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]().validate()
