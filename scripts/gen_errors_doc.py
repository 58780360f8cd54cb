"""Render ``docs/errors.md`` from the error catalogue in ``issuer/errors/``.

Usage::

    python scripts/gen_errors_doc.py           # write docs/errors.md
    python scripts/gen_errors_doc.py --check   # exit 1 if docs/errors.md differs

The user manual's error overview (ARCHITECTURE section 2, flow 7) is this
document; generating it from the one catalogue the engine raises from means
the two cannot disagree, and ``--check`` in CI catches a forgotten run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "errors.md"
sys.path.insert(0, str(ROOT))

from issuer.errors import CATALOGUE, DOMAIN  # noqa: E402


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    lines = [
        "# Error overview / Foutoverzicht",
        "",
        "<!-- Generated from issuer/errors.py by scripts/gen_errors_doc.py; do not edit. -->",
        "",
        "Every error the engine returns carries a `google.rpc.Status` in the gRPC status",
        f'trailer with `ErrorInfo{{reason: "<code>", domain: "{DOMAIN}"}}` and a',
        "`LocalizedMessage` in `en` and `nl-NL` (cause and solution below). Codes are",
        "stable: a code is never reused, and a retired code keeps its row. The engine",
        "serves this catalogue too, `zorgid.v1.ErrorCatalogueService.ListErrors` (every",
        "role; `proto/zorgid/v1/errors.proto`), so a portal's error overview uses these texts.",
        "",
        "Elke fout van de engine bevat een `google.rpc.Status` met de code hieronder en",
        "een melding in het Nederlands en Engels (oorzaak en oplossing).",
        "",
        "| code | gRPC status | title |",
        "|---|---|---|",
    ]
    for spec in CATALOGUE.values():
        retired = " (retired)" if spec.retired else ""
        lines.append(
            f"| [{spec.code}](#{spec.code.lower()}) | `{spec.status.name}` | "
            f"{_cell(spec.title)}{retired} |"
        )
    for spec in CATALOGUE.values():
        lines += [
            "",
            f"## {spec.code}",
            "",
            f"**{spec.title}** -- gRPC `{spec.status.name}` ({int(spec.status)})"
            + (" -- *retired, no longer raised*" if spec.retired else ""),
            "",
            "| | English | Nederlands |",
            "|---|---|---|",
            f"| cause / oorzaak | {_cell(spec.cause_en)} | {_cell(spec.cause_nl)} |",
            f"| solution / oplossing | {_cell(spec.solution_en)} | {_cell(spec.solution_nl)} |",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/errors.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text() != text:
            print(
                f"{TARGET.relative_to(ROOT)} is out of date with issuer/errors/; "
                "run: python scripts/gen_errors_doc.py",
                file=sys.stderr,
            )
            return 1
        print(f"{TARGET.relative_to(ROOT)} matches the catalogue ({len(CATALOGUE)} codes)")
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(CATALOGUE)} codes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
