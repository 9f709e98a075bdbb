"""What the command lines share, light enough to run before torch loads: one-line errors, the
Lightning trainer options they check up front, and the check of YAML configuration files."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from infra.errors import OptionError

PRECISIONS = ("bf16-mixed", "32-true", "16-mixed", "bf16-true", "16-true", "64-true", "transformer-engine",
              "transformer-engine-float16", "bf16", "32", "16", "64")
"""The precisions Lightning accepts."""

CPU_HINT = "--accelerator cpu --devices 1 --strategy auto --precision 32-true (or bf16-mixed)"
"""The trainer options that run on a machine without a GPU."""


def one_line(error: BaseException | str, limit: int = 500) -> str:
    """An error message on one line (jsonargparse's span several), at most ``limit`` characters."""
    return " ".join(str(error).split())[:limit]


def gpu_visible() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: call it only when the answer matters)."""
    import torch

    return torch.cuda.is_available()


MAX_CONFIG_BYTES = 1 << 20
"""Largest YAML configuration file read (the presets take a few kB)."""
MAX_CONFIG_VALUES = 100_000
"""Most values a configuration may expand to, every use of an alias counted (a preset has ~100)."""


def _expanded_values(root: Any) -> int:
    """Values under a composed YAML node, aliases counted at each use; ``ValueError`` for an alias
    to itself. Iterative, each node counted once (a memo), so a bomb is measured, not expanded."""
    counts: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else
                    node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            open_nodes.discard(id(node))
            counts[id(node)] = min(1 + sum(counts[id(c)] for c in children), MAX_CONFIG_VALUES + 1)
        elif id(node) not in counts:
            if id(node) in open_nodes:
                raise ValueError("an alias refers to the value that contains it")
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children)
    return counts[id(root)]


def check_config_files(argv: Sequence[str], option: str = "--config",
                       sections: Sequence[str] = ("model", "data")) -> None:
    """Check every YAML file that ``argv`` passes to ``option`` before the parser reads it: at most
    ``MAX_CONFIG_BYTES``, UTF-8, one YAML document of plain values (no tags that build objects),
    at most ``MAX_CONFIG_VALUES`` values once aliases are expanded, a mapping whose ``sections``
    are mappings. ``OptionError`` names the file and the problem in one line."""
    paths = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == option]
    paths += [a[len(option) + 1:] for a in argv if a.startswith(option + "=")]
    for name in paths:
        path = Path(name)
        if not path.is_file():
            continue  # the parser says it is missing
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise OptionError(f"config {path} has {size} bytes; a configuration is at most {MAX_CONFIG_BYTES}")
        try:
            text = path.read_bytes().decode("utf-8")
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)  # libyaml: linear in nesting
            try:
                node = loader.get_single_node()
                if node is not None and _expanded_values(node) > MAX_CONFIG_VALUES:
                    raise ValueError(f"expands to more than {MAX_CONFIG_VALUES} values (aliases)")
                value = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except RecursionError:
            raise OptionError(f"config {path}: values nested too deeply") from None
        except (UnicodeDecodeError, yaml.YAMLError, ValueError) as e:
            raise OptionError(f"config {path}: {one_line(e, 300)}") from None
        if value is not None and not isinstance(value, dict):
            raise OptionError(f"config {path} is not a mapping of options ({type(value).__name__})")
        for section in sections:
            if isinstance(value, dict) and not isinstance(value.get(section, {}), (dict, type(None))):
                raise OptionError(f"config {path}: {section} is not a mapping of options "
                                 f"({type(value[section]).__name__})")
