"""The docs are tested: every preset, config key, file path, link (and its anchor), command-line option and
`grokinterp.*` name that README.md and docs/ mention exists, every import line of their Python snippets
imports, and every training command runs for one step. Code blocks are read with mktestdocs; a doc that names
something the code does not have fails here."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
from mktestdocs import grab_code_blocks

from tests.helpers import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
IDS = [str(p.relative_to(REPO)) for p in DOCS]


def code_blocks(path: Path, lang: str | None) -> list[str]:
    return grab_code_blocks(path.read_text(), lang=lang)


def shell_blocks(path: Path) -> list[str]:
    """The untagged code blocks (the shell commands; tagged ones are python, toml or json)."""
    tagged = {b for lang in ("python", "toml", "json", "bash", "text") for b in code_blocks(path, lang)}
    return [b for b in code_blocks(path, None) if b not in tagged] + code_blocks(path, "bash")


INLINE = re.compile(r"`((?:python -m grokinterp[\w.]*|grokinterp) [^`]+)`")


def commands(path: Path) -> list[list[str]]:
    """The grokinterp commands of a doc, as argument lists: `python -m grokinterp.train ...` and `grokinterp
    ...` lines of its shell blocks (comments and `\\` continuations removed) and inline code spans."""
    lines = []
    for block in shell_blocks(path):
        lines += [re.split(r"\s+#", ln)[0].strip() for ln in block.replace("\\\n", " ").splitlines()]
    lines += INLINE.findall(re.sub(r"```.*?```", "", path.read_text(), flags=re.S))
    out = []
    for line in lines:
        if re.match(r"^(python -m grokinterp\b|grokinterp )", line):
            with contextlib.suppress(ValueError):
                out.append(shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " ")))
    return out


def split_command(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(name, arguments) of a command: (`train`,) for `python -m grokinterp.train` and `grokinterp train`,
    (`bench`, `grok`) for `grokinterp bench grok`, ..."""
    if argv[0] == "python":
        module, rest = argv[2].split(".")[1:], argv[3:]
    else:
        module, rest = [], argv[1:]
    if not module:
        module, rest = rest[:1], rest[1:]
    if module == ["bench"] and rest and not rest[0].startswith("-"):
        module, rest = ["bench", rest[0]], rest[1:]
    return tuple(module), rest


def command_name(argv: list[str]) -> tuple[str, ...]:
    return split_command(argv)[0]


PLACEHOLDER = re.compile(r"^([A-Z_]+|\.\.\.|section\.key|key)$")


@cache
def help_text(name: tuple[str, ...]) -> str:
    """The `--help` text of a command, from its own argparse: `grokinterp NAME...`, or for a module below a
    command (`python -m grokinterp.sweep.outcomes`) that module's `main`."""
    import importlib

    from grokinterp import cli

    main = cli.main
    if len(name) > 1 and name[0] != "bench":
        main, name = importlib.import_module("grokinterp." + ".".join(name)).main, ()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        main([*name, "--help"])
    return buf.getvalue()


def known_keys() -> set[str]:
    """Every dotted config key of every section and task family (`--set` takes these)."""
    from grokinterp.config import AccelConfig, ModelConfig, TrainConfig
    from grokinterp.tasks import families

    keys = {"task.family"}
    for section, cls in (("model", ModelConfig), ("train", TrainConfig), ("accel", AccelConfig)):
        keys |= {f"{section}.{f.name}" for f in dataclasses.fields(cls)}
    for family in families().values():
        keys |= {f"task.{f.name}" for f in dataclasses.fields(family.spec)}
    return keys


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_named_preset_and_config_key_exists(doc):
    from grokinterp.presets import PRESETS

    keys = known_keys()
    for argv in commands(doc):
        name, args = split_command(argv)
        if name == ("train",) and args and not args[0].startswith("-"):
            assert args[0] in PRESETS or PLACEHOLDER.match(args[0]), f"{doc.name}: unknown preset in {argv}"
        for flag, value in zip(argv, argv[1:]):
            if flag == "--preset":
                assert value in PRESETS or PLACEHOLDER.match(value), f"{doc.name}: unknown preset {value!r} in {argv}"
            if flag == "--set":
                key = value.split("=", 1)[0]
                assert key in keys or PLACEHOLDER.match(key), f"{doc.name}: unknown config key {key!r} in {argv}"
    for name in re.findall(r'get_preset\("([\w-]+)"\)', doc.read_text()):
        assert name in PRESETS, f"{doc.name}: unknown preset {name!r}"


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_command_option_exists(doc):
    for argv in commands(doc):
        name = command_name(argv)
        if not name or name[0] in ("presets",) or name[0].startswith("-"):
            continue
        text = help_text(name)
        assert "usage:" in text, f"{doc.name}: {' '.join(argv)}: no such command ({name})"
        for option in (a.split("=", 1)[0] for a in argv if a.startswith("--")):
            assert re.search(rf"(^|[\s\[,]){re.escape(option)}\b", text), \
                f"{doc.name}: {' '.join(name)} has no option {option}"


PATH = re.compile(r"(?<![\w/.-])((?:configs|docs|analyses|tests|grokinterp)/[\w./-]*\.(?:toml|md|py|json|csv|png))")


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_file_path_exists(doc):
    for path in PATH.findall(doc.read_text()):
        assert (REPO / path).exists() or (doc.parent / path).exists(), f"{doc.name}: no file {path}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, markup and punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    out, seen = set(), {}
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#"):
            base = slug(line.lstrip("#"))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_link_and_anchor_resolves(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc.name}: broken link {target}"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{doc.name}: no heading #{anchor} in {path.name}"


NAME = re.compile(r"(?<![\w/.])grokinterp(?:\.[A-Za-z_]\w*)+")


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_grokinterp_name_resolves(doc):
    text = doc.read_text()
    missing = sorted({n.rstrip(".") for n in NAME.findall(text) if not resolves(n.rstrip("."))})
    assert missing == [], f"{doc.name} names what the package does not have"


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_the_import_lines_of_every_python_snippet_import(doc):
    lines = [ln.strip() for b in code_blocks(doc, "python") for ln in b.splitlines()
             if re.match(r"^\s*(from grokinterp[\w.]* import |import grokinterp)", ln)]
    for line in lines:
        exec(compile(line, f"{doc.name}", "exec"), {})


def training_commands() -> list[list[str]]:
    """The distinct training commands of README.md and docs/ (`python -m grokinterp.train ...`, `grokinterp
    train ...`) without a placeholder (PRESET, DIR, N, PATH, ...), as argument lists after the command name."""
    out: list[list[str]] = []
    for doc in DOCS:
        for argv in commands(doc):
            name, args = split_command(argv)
            if name == ("train",) and args and not any(PLACEHOLDER.match(a.split("=")[-1]) for a in args) \
                    and args not in out:
                out.append(args)
    return out


def test_the_presets_command_runs():
    from grokinterp import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["presets"]) == 0
    assert "mod113" in buf.getvalue()


def test_every_training_command_is_found():
    found = training_commands()
    assert ["mod113"] in found and ["mod113-small"] in found  # the README's quick start
    assert len(found) >= 15


@pytest.mark.parametrize("args", training_commands(), ids=" ".join)
def test_every_training_command_runs(args, tmp_path):
    """Every training command the docs give, for one step into a temporary directory (`--set train.steps=1`
    after the doc's own settings): its preset builds, its keys apply, it trains and writes a run."""
    from grokinterp.tasks.images import FASHION_MNIST_DIR
    from grokinterp.train.cli import main

    if args[0] == "fashion-omnigrok" and not Path(FASHION_MNIST_DIR).is_dir():
        pytest.skip(f"Fashion-MNIST is not installed ({FASHION_MNIST_DIR}; make install installs it as root)")
    args = [a for a in args if a != "--stop-when-grokked"]
    if "--out" in args:
        j = args.index("--out")
        del args[j:j + 2]
    assert main([*args, "--out", str(tmp_path / "run"), "--set", "train.steps=1", "--no-progress"]) == 0
    assert (tmp_path / "run" / "manifest.json").is_file()


def test_the_command_parser_reads_what_the_docs_write():
    assert command_name(["python", "-m", "grokinterp.train", "mod113"]) == ("train",)
    assert command_name(["grokinterp", "bench", "grok"]) == ("bench", "grok")
    assert command_name(["python", "-m", "grokinterp.bench", "train", "--all"]) == ("bench", "train")
    assert command_name(["grokinterp", "report", "RUN"]) == ("report",)
    assert split_command(["python", "-m", "grokinterp", "train", "s5"]) == (("train",), ["s5"])
    assert slug("3. Where the report goes (`-o`)") == "3-where-the-report-goes--o"


PLANTED = {
    "preset": (test_every_named_preset_and_config_key_exists, "```\npython -m grokinterp.train no-such-preset\n```\n"),
    "key": (test_every_named_preset_and_config_key_exists, "```\ngrokinterp train mod113 --set train.nope=1\n```\n"),
    "option": (test_every_command_option_exists, "Run `grokinterp report RUN --no-such-option`.\n"),
    "command": (test_every_command_option_exists, "Run `grokinterp frobnicate RUN`.\n"),
    "path": (test_every_file_path_exists, "See configs/sweeps/no-such-spec.toml.\n"),
    "link": (test_every_link_and_anchor_resolves, "See [this](no-such-page.md).\n"),
    "anchor": (test_every_link_and_anchor_resolves, "# A title\n\nSee [this](#no-such-heading).\n"),
    "name": (test_every_grokinterp_name_resolves, "Call `grokinterp.progress.no_such_measure`.\n"),
    "import": (test_the_import_lines_of_every_python_snippet_import,
               "```python\nfrom grokinterp.progress import no_such_measure\n```\n"),
}


@pytest.mark.parametrize("kind", PLANTED)
def test_each_check_fails_on_a_planted_mistake(kind, tmp_path):
    check, text = PLANTED[kind]
    doc = tmp_path / "bad.md"
    doc.write_text(text)
    with pytest.raises((AssertionError, ImportError)):
        check(doc)
    doc.write_text("# A title\n\nNothing wrong: `grokinterp report RUN -o FILE`, [a link](#a-title).\n")
    check(doc)
