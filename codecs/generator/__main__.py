"""Command line: ``python -m rfq.codecs.generator SCHEMA [-o OUT] [--check] [--name NAME]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import GeneratorError, generate


def main(argv: list[str] | None = None) -> int:
    """Generate (or with ``--check``, compare) the codec module; 0 on success, 1 on drift or error."""
    parser = argparse.ArgumentParser(prog="python -m rfq.codecs.generator", description=__doc__)
    parser.add_argument("schema", type=Path, help="the SBE XML schema")
    parser.add_argument("-o", "--output", type=Path, help="the module to write (default: stdout)")
    parser.add_argument("--name", help="how the marker names the schema (default: the path as given)")
    parser.add_argument("--check", action="store_true", help="fail if OUTPUT differs instead of writing it")
    args = parser.parse_args(argv)
    try:
        source = generate(args.schema, args.name)
    except GeneratorError as exc:
        print(f"{args.schema}: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(source)
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != source:
            print(
                f"{args.output} differs from what {args.schema} generates: run `make codecs`", file=sys.stderr
            )
            return 1
        return 0
    if not args.output.exists() or args.output.read_text(encoding="utf-8") != source:
        args.output.write_text(source, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
