"""python -m refnn, and the refnn script: the command line (refnn.cli).

The commands need the compiled extensions; where they are missing (a source tree that was never
built, or is shadowing the installed package), that is said on one line with what to run, not in
a traceback from deep inside an import."""
import sys

from . import MissingExtensionError


def run():
    try:
        from .cli import main
    except MissingExtensionError as error:
        sys.stderr.write(f"refnn: error: {error}\n")
        return 1
    return main()


if __name__ == "__main__":
    sys.exit(run())
