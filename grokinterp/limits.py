"""Upper bounds that keep any config's memory, disk and set-up time sane, their one-line errors, and the
parsing of a `--set key=value` override.

A step count of 1e30 once built a schedule of every step and grew to 8 GB in 20 s; the bounds below stop such
a config before anything is allocated. The module imports nothing heavy (no torch): the command line checks
`--set` values against it before it loads the rest of the package, so a bad value is one line in well under a
second, and `RunConfig.validate()` applies the same checks to every config, however it was made.
"""

from __future__ import annotations

import json
import math
from typing import Any

from grokinterp.errors import ConfigError

MAX_STEPS = 10**9
MAX_CHECKPOINTS = 100_000
MAX_LOG_POINTS = 1_000
MAX_BATCH = 2**24
MAX_EXAMPLES = 2**26  # 67M pairs (p = 8192): the token tensor alone is 1.6 GB; training needs several times that
MAX_TASK_SIZE = MAX_EXAMPLES  # any integer of a task spec (but its seed): examples, vocabulary, width, length

# the integer config keys with an upper bound of their own
BOUNDED_KEYS = {"train.steps": MAX_STEPS, "train.ckpt_log_points": MAX_LOG_POINTS, "train.batch_size": MAX_BATCH}


def check_at_most(key: str, value: int, bound: int) -> None:
    """`ConfigError` "KEY must be at most BOUND, got VALUE" when `value > bound`."""
    if value > bound:
        raise ConfigError(f"{key} must be at most {bound:,}, got {value:,}")


def split_override(text: str) -> tuple[str, Any]:
    """`"section.key=value"` as (key, value): the value parsed as JSON, else kept as a bare string."""
    if "=" not in text:
        raise ConfigError(f"bad override {text!r}: expected key=value, e.g. train.weight_decay=0.3")
    key, raw = text.split("=", 1)
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare string such as `fused`
    if raw == "None":  # Python spelling of JSON null; a bare `none` stays a string (model.biases=none)
        value = None
    return key.strip(), value


def check_bounded_overrides(overrides: list[str]) -> None:
    """Check the `key=value` overrides of `BOUNDED_KEYS` against their bounds, with nothing but the standard
    library. A value that is not a finite whole number is left to `RunConfig.validate()`, which names the
    type error; this check only sees sizes, so that they fail before torch is even imported."""
    for text in overrides:
        if "=" not in text:
            continue  # named by the full parse
        key, value = split_override(text)
        if key not in BOUNDED_KEYS:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            continue
        check_at_most(key, int(value), BOUNDED_KEYS[key])
