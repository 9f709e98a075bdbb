"""One option style for every command line: options spelled with underscores (``--max_epochs``,
``--data.batch_size``, as Lightning and jsonargparse spell them), each spelled out in full (no
abbreviations), and an unknown or bad option reported as one line in one format::

    error: unknown option --max_epoch; did you mean --max_epochs? (see python train.py --help)

with exit status 2. A hyphenated spelling (``--text-model``) is an unknown option whose closest
valid option is the underscored one. ``OptionParser`` is the plain ``argparse`` parser of the
``python -m`` commands; ``parse_options`` checks the names for a jsonargparse parser (train.py,
test.py) before it parses. Light: no torch."""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any, Iterable, NoReturn, Sequence

from infra.cli import one_line
from infra.errors import OptionError

USAGE_ERROR = 2
"""Exit status of a command-line error (argparse's)."""


def option_name(token: str) -> str:
    """The option a command-line token names: ``--a.b=1`` -> ``--a.b``."""
    return token.split("=", 1)[0]


def closest_option(name: str, known: Iterable[str]) -> str | None:
    """The valid option a user most likely meant by ``name``: its underscored spelling if valid
    (``--text-model`` -> ``--text_model``), else the nearest by ``difflib``, else None."""
    known = sorted(k for k in known if k.startswith("--"))
    underscored = "--" + name.lstrip("-").replace("-", "_")
    if underscored in known:
        return underscored
    close = difflib.get_close_matches(underscored, known, n=1, cutoff=0.6)
    return close[0] if close else None


def check_option_names(argv: Sequence[str], known: Iterable[str]) -> None:
    """``OptionError`` for the first ``--option`` of ``argv`` (before a bare ``--``) that is not
    exactly one of ``known``: ``unknown option --x; did you mean --y?``."""
    known = set(known)
    for token in argv:
        if token == "--":
            return
        if not token.startswith("--"):
            continue
        name = option_name(token)
        if name not in known:
            guess = closest_option(name, known)
            raise OptionError(f"unknown option {name}" + (f"; did you mean {guess}?" if guess else ""))


def error_line(message: str | BaseException, command: str) -> str:
    """The one line of a command-line error: ``error: ... (see python COMMAND --help)``."""
    return f"error: {one_line(message)} (see {command} --help)"


class OptionParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the project's option rules: no abbreviations, every
    ``--option`` checked by name first, and any error as one line (``error_line``) with exit 2.
    ``prog`` is the command as typed, e.g. ``python -m data.prepare``."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None):
        argv = sys.argv[1:] if args is None else list(args)
        try:
            check_option_names(argv, self._option_string_actions)
        except OptionError as e:
            self.error(str(e))
        return super().parse_known_args(argv, namespace)

    def error(self, message: str) -> NoReturn:
        print(error_line(message, self.prog), file=sys.stderr)
        sys.exit(USAGE_ERROR)


def parse_options(parser: Any, argv: Sequence[str] | None) -> Any:
    """A jsonargparse ``parser`` (built with ``exit_on_error=False``) parses ``argv`` once every
    option name is checked; ``OptionError`` (one line) for a bad name or value."""
    argv = sys.argv[1:] if argv is None else list(argv)
    check_option_names(argv, parser._option_string_actions)
    try:
        return parser.parse_args(argv)
    except argparse.ArgumentError as e:
        raise OptionError(plain_message(one_line(e))) from None


def plain_message(message: str) -> str:
    """jsonargparse's wording in the options' own terms: ``Parser key "max_epochs": Expected a
    <class 'int'>`` -> ``--max_epochs: expected int``."""
    message = re.sub(r'Parser key "([\w.]+)":', r"--\1:", message)
    message = re.sub(r"Expected a <class '(\w+)'>", r"expected \1", message)
    message = message.replace(". Got value: ", ", got ")
    return re.sub(r"the following arguments are required: (\w+)$", r"--\1 is required", message)
