"""The conventions every command-line script of VideoSSR follows (``pretext_tasks/*.py``, ``eval/*.py``).

* Logging flags: ``--quiet`` (warnings and errors only, no progress bars) and ``--log-level LEVEL``
  (``add_logging_args`` / ``setup_logging``).
* Names given for a choice are case-insensitive: ``--perturbation channelswap`` is ``ChannelSwap``
  (``choice_type``).
* Exit codes: 0 done; 1 some inputs failed (reported, the rest is written); 2 bad usage (a bad flag or value, a
  missing or unusable input, an output folder another run holds). ``run`` maps exceptions to them and prints one line instead of a traceback;
  ``KeyboardInterrupt`` exits 130 after saying how to resume.
* Every script's ``main(argv=None) -> int`` is importable: tests call it directly.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Iterable, Sequence

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_logging_args(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--log-level`` (default INFO)."""
    parser.add_argument("--quiet", action="store_true", help="warnings and errors only, no progress bars")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default="INFO",
                        help="logging level (default INFO; --quiet means WARNING)")


def setup_logging(args: argparse.Namespace) -> bool:
    """Configure logging from the flags; returns whether progress bars should show."""
    level = "WARNING" if getattr(args, "quiet", False) else getattr(args, "log_level", "INFO")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    return not getattr(args, "quiet", False)


def choice_type(choices: Iterable[str]) -> Callable[[str], str]:
    """An argparse ``type`` that accepts any case of the ``choices`` and returns the canonical spelling."""
    canonical = {c.lower(): c for c in choices}

    def convert(value: str) -> str:
        try:
            return canonical[value.strip().lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {value!r} (choose from {', '.join(sorted(canonical.values()))})"
            ) from None

    convert.__name__ = "choice"
    return convert


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers >= ``minimum``."""

    def convert(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {n}")
        return n

    convert.__name__ = "int"
    return convert


positive_int = int_at_least(1)


def float_in(low: float, high: float = math.inf, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` for finite numbers in [low, high] (``(low, high]`` with ``low_open``); rejects nan, inf."""
    if high == math.inf:
        shown = f"a finite number {'>' if low_open else '>='} {low:g}"
    else:
        shown = f"in {'(' if low_open else '['}{low:g}, {high:g}]"

    def convert(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if not ((low < x if low_open else low <= x) and x <= high and math.isfinite(x)):
            raise argparse.ArgumentTypeError(f"must be {shown}, got {x}")
        return x

    convert.__name__ = "float"
    return convert


def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None, *, name: str = "") -> int:
    """Call ``main(argv)`` and turn what it raises into the exit codes above (with one line on stderr)."""
    prog = name or "videossr"
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; what finished is kept: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
            PermissionError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:
        from videossr.procs import OutputLockedError

        if isinstance(e, OutputLockedError):  # another run holds the output folder: refused before any work
            print(f"{prog}: error: {e}", file=sys.stderr)
            return EXIT_USAGE
        raise
