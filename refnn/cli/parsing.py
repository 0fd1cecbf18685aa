"""The command line's parser: argparse that reports a wrong command line on one line, and flag
types that are refnn._validate's checks.

A flag and the API argument it feeds are checked by the same function of refnn._validate and
say the same thing: `--epochs 0` ends in "--epochs must be > 0, got 0" as
`BackpropNetwork.fit(epochs=0)` ends in "epochs must be > 0, got 0". `Checked` is the one
adapter: it parses the flag's text (int, float or a comma-separated list), hands the value to the
check under the flag's name, and turns the check's ValueError or TypeError into argparse's error.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .. import _validate
from ..kernels.threads import MAX_THREADS

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction["Parser"]     # what register(subparsers) is given

T = TypeVar("T")

PROG = "python -m refnn"
# a value, not a flag: -1, -0.5, -1e-3, and lists such as -1,0.5
NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?(,-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?)*",
                    re.IGNORECASE)


class UsageError(Exception):
    """A command line that cannot run: reported on one line, exit status 2."""


def one_line(message: object) -> str:
    return " ".join(str(message).split())


# --------------------------------------------------------------------------- flag types
class Checked:
    """An argparse type made of a parser of the flag's text and a check of refnn._validate.

    Text that does not parse is handed to the check as it is, so that the check's own
    message says what was expected and what was received. The flag's name is bound when the
    flag is added (Parser.add_argument)."""

    def __init__(self, parse: Callable[[str], Any], check: Callable[..., Any],
                 name: str = "value", **options: Any) -> None:
        self.parse, self.check, self.name, self.options = parse, check, name, options
        self.__name__ = check.__name__

    def named(self, name: str) -> Checked:
        return Checked(self.parse, self.check, name, **self.options)

    def __call__(self, text: str) -> Any:
        try:
            value = self.parse(text)
        except ValueError:
            value = text
        try:
            return self.check(self.name, value, **self.options)
        except (ValueError, TypeError) as e:
            raise argparse.ArgumentTypeError(one_line(e)) from None


def _list_of(parse: Callable[[str], T]) -> Callable[[str], list[T]]:
    """'128,64' -> [128, 64]; '' or 'none' -> [] (no hidden layer)."""
    def parse_list(text: str) -> list[T]:
        text = text.strip()
        if not text or text.lower() == "none":
            return []
        return [parse(part) for part in text.split(",")]
    return parse_list


positive_int = Checked(int, _validate.positive_int)
nonnegative_int = Checked(int, _validate.positive_int, allow_zero=True)
positive_float = Checked(float, _validate.positive_number)
nonnegative_float = Checked(float, _validate.positive_number, allow_zero=True)
rate = Checked(float, _validate.rate)                      # 0 <= rate < 1: dropout
fraction = Checked(float, _validate.fraction)              # 0 < fraction < 1: a held-out part
sizes = Checked(_list_of(int), _validate.sizes)            # layer sizes, '' for none
numbers = Checked(_list_of(float), _validate.finite_numbers)
thread_count = Checked(int, _validate.int_between, low=1, high=MAX_THREADS)   # refnn's threads
drawing_width = Checked(int, _validate.int_between, low=2, high=1000)   # characters
drawing_height = Checked(int, _validate.int_between, low=2, high=500)   # lines


# --------------------------------------------------------------------------- the parser
class Parser(argparse.ArgumentParser):
    """argparse that reports a wrong command line on one line (exit status 2), and takes
    flags only as spelled (no abbreviations: --layer is an error, not --layers)."""

    commands: dict[str, Parser]     # the program's parser: each command's (make_parser)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # `--x -1,0.5` takes -1,0.5 as the value (argparse alone knows only -1 and -0.5)
        self._negative_number_matcher = NUMBER

    def add_argument(self, *names: str, **kwargs: Any) -> argparse.Action:
        """As argparse's; a Checked type gets the flag's name for its messages."""
        kind = kwargs.get("type")
        if isinstance(kind, Checked):
            flags = [n for n in names if n.startswith("-")]
            kwargs["type"] = kind.named(max(flags, key=len) if flags
                                        else kwargs.get("metavar", names[0]))
        return super().add_argument(*names, **kwargs)

    def error(self, message: str) -> NoReturn:
        # "argument --epochs: --epochs must be > 0, got 0" -> "--epochs must be > 0, got 0"
        message = re.sub(r"^argument (\S+): (?=\1)", "", one_line(message))
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written (see wrap); a flag's default shown unless its
    help already says it or it has none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" not in text and action.option_strings
                and not any(action.default is v for v in (None, False, argparse.SUPPRESS))):
            text += " (default: %(default)s)"
        return text


def wrap(text: str, width: int = 88) -> str:
    """Paragraphs (separated by blank lines) filled to `width` columns."""
    return "\n\n".join(textwrap.fill(" ".join(par.split()), width)
                       for par in text.split("\n\n"))


def add_command(subparsers: Subparsers, name: str, help: str, description: str,
                examples: Iterable[str]) -> Parser:
    """A subcommand's parser: its one-line help, a description (wrapped) and examples, each
    the text after `python -m refnn ` on its line."""
    return subparsers.add_parser(
        name, formatter_class=Formatter, help=help, description=wrap(description),
        epilog="examples:\n" + "\n".join(f"  {PROG} {example}" for example in examples))


def check_flags(parser: Parser, argv: Sequence[str]) -> None:
    """Name an unknown flag before argparse would take its value for a positional argument
    (`train --layer 128` is about --layer, not about a data set called 128)."""
    target = parser
    for token in argv:
        if token == "--":
            return
        if target is parser and token in parser.commands:
            target = parser.commands[token]
            continue
        if not token.startswith("-") or NUMBER.fullmatch(token) or token in ("-h", "--help"):
            continue
        flag = token.split("=", 1)[0]
        if flag not in target._option_string_actions:
            close = difflib.get_close_matches(flag, list(target._option_string_actions), n=1)
            target.error(f"unrecognized argument {flag}"
                         + (f": did you mean {close[0]}?" if close else ""))
