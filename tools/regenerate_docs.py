"""Re-run the commands whose output README.md and docs/*.md show, and rewrite the shown output
from what the code prints now; with --check, only say which blocks differ (exit status 1).

A block of shown output is a fenced block of `$ command` lines, each followed by what it
prints, with an HTML comment on the line above the fence saying what to do with it:

    <!-- output: fast -->       re-run by --check and by the tests (seconds)
    <!-- output: long -->       re-run only with --long (or REFNN_LONG_TESTS=1): minutes, or data
                                that may be missing (Fashion-MNIST)
    <!-- output: measured ... -->  never re-run: speeds measured by `python -m refnn bench`,
                                which differ from run to run
    <!-- output: fast, without matplotlib -->   re-run as where the optional extra is not
                                installed (`import matplotlib` fails)

The commands of one block run in order in one bash process, in a fresh empty directory (so one
command may use the file an earlier one wrote), with `python` the interpreter running this
script and the tree's refnn first on the path; stdout and stderr are shown together, as on a
terminal. In the shown output a line starting with `[...` stands for lines left out (any
number), and durations ("1.7 s", "(0.0 s)", "4.1s") are compared as placeholders: they vary
from run to run, so a block that differs only there is left as it is.

    python tools/regenerate_docs.py            rewrite the fast blocks that differ
    python tools/regenerate_docs.py --long     the long ones too
    python tools/regenerate_docs.py --check    list the blocks that differ, with a diff; exit 1
"""
import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

MARK = re.compile(r"^<!-- output: (fast|long|measured)\b(.*)-->\s*$")
FENCE = "```"
PROMPT = "$ "
ELISION = re.compile(r"^\[\.\.\..*\]\s*$")                # [...] or [... the findings ...]
DURATION = re.compile(r"\b\d+(\.\d+)? ?s\b")               # 1.7 s, 0.0 s, 4.1s
SEPARATOR = "@@@ refnn-docs: next command @@@"
TIMEOUT = 1800


@dataclass
class Block:
    """A fenced block of shown output: lines[start:end] are its body (between the fences)."""
    path: Path
    kind: str                   # fast, long or measured
    options: str                # the rest of the mark ("without matplotlib")
    start: int                  # index of the first body line
    end: int                    # index of the closing fence
    body: list

    @property
    def commands(self):
        return [line[len(PROMPT):] for line in self.body if line.startswith(PROMPT)]

    def shown(self):
        """[(command, its shown output lines)] in order."""
        pairs = []
        for line in self.body:
            if line.startswith(PROMPT):
                pairs.append((line[len(PROMPT):], []))
            elif pairs:
                pairs[-1][1].append(line)
        return pairs

    def where(self):
        return f"{_shown_path(self.path)}:{self.start}"


def _shown_path(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def find_blocks(path):
    """The marked blocks of a markdown file, and the unmarked fenced blocks that show a command's
    output (`$ python -m refnn ...` with lines after it): those should be marked."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks, unmarked = [], []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(FENCE):
            i += 1
            continue
        close = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(FENCE))
        body = lines[i + 1:close]
        mark = MARK.match(lines[i - 1]) if i > 0 else None
        if mark:
            blocks.append(Block(path, mark.group(1), mark.group(2), i + 1, close, body))
        elif lines[i] == FENCE and any(line.startswith(PROMPT + "python -m refnn")
                                       for line in body):
            unmarked.append(f"{_shown_path(path)}:{i + 1}")
        i = close + 1
    return blocks, unmarked


def run(block):
    """[output lines of each command], from running the block's commands in a fresh folder."""
    script = [f'python() {{ "{sys.executable}" "$@"; }}']
    for command in block.commands:
        # the status is kept across the separator, so that `echo $?` reports the command before
        script += [command, "__status=$?", f"echo '{SEPARATOR}'", "(exit $__status)"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
        MPLBACKEND="Agg", NO_COLOR="1", TERM="dumb", COLUMNS="100", PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory() as folder:
        if "without matplotlib" in block.options:
            # a package of that name first on the path, whose import fails as a missing one does
            shadow = Path(folder, ".shadow", "matplotlib")
            shadow.mkdir(parents=True)
            (shadow / "__init__.py").write_text(
                "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n")
            env["PYTHONPATH"] = os.pathsep.join([str(shadow.parent), env["PYTHONPATH"]])
        out = subprocess.run(["bash", "-c", "\n".join(script)], cwd=folder, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=TIMEOUT)
    parts = out.stdout.split(SEPARATOR + "\n")
    return [part.rstrip("\n").split("\n") if part.strip("\n") else [] for part in parts[:-1]]


def _trailing_blanks(lines):
    n = 0
    while n < len(lines) and not lines[len(lines) - 1 - n].strip():
        n += 1
    return n


def _normal(line):
    return DURATION.sub("<duration>", line.rstrip())


def matches(shown, actual):
    """The shown lines stand for the actual ones: equal up to durations and trailing spaces,
    each elision line standing for any run of lines."""
    pattern = "".join(".*?" if ELISION.match(line) else re.escape(_normal(line) + "\n")
                      for line in shown)
    return re.fullmatch(pattern, "".join(_normal(line) + "\n" for line in actual),
                        re.DOTALL) is not None


def rewrite(shown, actual):
    """The shown lines brought up to date: the actual output, keeping the shown elisions (the
    lines before the first one come from the start of the output, those after the last one
    from its end; several elisions become one)."""
    marks = [i for i, line in enumerate(shown) if ELISION.match(line)]
    if not marks:
        return list(actual)
    head, tail = marks[0], len(shown) - 1 - marks[-1]
    if head + tail > len(actual):
        return list(actual)
    return actual[:head] + [shown[marks[0]]] + actual[len(actual) - tail:]


def keep_durations(shown, new):
    """new, with each line that differs from a shown one only in its durations kept as shown
    (so that a rewritten block changes where the output changed, not the timings)."""
    matcher = difflib.SequenceMatcher(a=[_normal(line) for line in shown],
                                      b=[_normal(line) for line in new], autojunk=False)
    kept = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        kept += shown[i1:i2] if tag == "equal" else new[j1:j2]
    return kept


def refresh(block):
    """(new body lines, [differences as text]) for a block."""
    outputs = run(block)
    body, differences = [], []
    for (command, shown), actual in zip(block.shown(), outputs):
        blanks = _trailing_blanks(shown)
        shown = shown[:len(shown) - blanks]
        body.append(PROMPT + command)
        if matches(shown, actual):
            body += shown
        else:
            new = keep_durations(shown, rewrite(shown, actual))
            body += new
            diff = difflib.unified_diff(shown, new, "shown", "printed now", lineterm="", n=1)
            differences.append(f"$ {command}\n" + "\n".join(diff))
        body += [""] * blanks
    return body, differences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the blocks that differ and exit with 1")
    parser.add_argument("--long", action="store_true",
                        default=os.environ.get("REFNN_LONG_TESTS") == "1",
                        help="re-run the long blocks too (default: REFNN_LONG_TESTS=1)")
    parser.add_argument("files", nargs="*", type=Path, default=DOCS,
                        help="markdown files (default: README.md and docs/*.md)")
    args = parser.parse_args(argv)
    kinds = {"fast", "long"} if args.long else {"fast"}
    failed = []
    for path in args.files:
        path = path.resolve()
        blocks, unmarked = find_blocks(path)
        failed += [f"{where}: a block showing a command's output has no <!-- output: ... --> "
                   f"mark" for where in unmarked]
        lines = path.read_text(encoding="utf-8").split("\n")
        for block in reversed(blocks):              # from the end: earlier indices stay valid
            if block.kind not in kinds:
                continue
            body, differences = refresh(block)
            if differences:
                failed.append(f"{block.where()}: the shown output differs from what the "
                              f"code prints now\n" + "\n".join(differences))
                lines[block.start:block.end] = body
        if not args.check:
            path.write_text("\n".join(lines), encoding="utf-8")
    for message in failed:
        print(message, end="\n\n")
    if args.check:
        print(f"{len(failed)} block(s) differ" if failed else "every checked block is up to date")
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
