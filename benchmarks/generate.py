"""Generate benchmark artifacts with keel-emit (the harness runs this in a child process,
so that building a 100k-event artifact never inflates the harness's own memory).

    python benchmarks/generate.py artifact --schema-version 3 --events 100000 --text ascii OUT.json
    python benchmarks/generate.py batch --count 1000 OUT_DIR

Every artifact is signed by the demo issuer key and timestamped by the demo test TSA --
the keys ``sample/trust-root.json`` names -- so each one is VERIFIED under that trust root.
The output is deterministic: same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from keel_verify.emit import build_demo_artifact, dump_artifact
from keel_verify.emit.clock import DEMO_START, SteppingClock
from keel_verify.emit.demo import DEFAULT_TEXT
from keel_verify.emit.keys import DEMO_TSA_SEED
from keel_verify.emit.timestamping import LocalTestTimestamper

#: The filler transcript text by kind. v1 embeds it in every padded entry; v3 carries
#: only its hash, so there the kind changes hashes only.
TEXTS = {
    "ascii": DEFAULT_TEXT,
    "nonascii": "Gracias por llamar: su pedido salió esta mañana 📦 y llega el viernes. "
                "ご注文は金曜日に届きます 🙂 Grüße!",
}
#: File layouts: "pretty" is how keel-emit and Keel's public samples write artifacts
#: (indent 2); "compact" has no whitespace (smaller file, so a harder memory ratio).
LAYOUTS = {"pretty": 2, "compact": None}


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def artifact_bytes(schema_version: int, events: int, text: str, layout: str, seed: str) -> bytes:
    artifact = build_demo_artifact(schema_version, tsa="local", seed=seed, events=events,
                                   text=TEXTS[text])
    return dump_artifact(artifact, indent=LAYOUTS[layout])


#: How far apart the sessions of a batch start: 1,000 of them span about 12 days, well
#: inside the test TSA certificate's and the demo issuer key's validity.
BATCH_SESSION_SPACING = timedelta(minutes=17)


def make_batch(out_dir: Path, count: int, distinct: int | None, layout: str) -> None:
    """``count`` small artifacts (the plain demo session), as one deployment would write
    them: each its own session (seeded ids), its own time and so its own RFC 3161 token,
    all from the one test TSA; schema versions alternate 3 and 1. With ``distinct``, only
    that many differ and the rest repeat them round-robin (byte-identical copies)."""
    unique = count if distinct is None else min(distinct, count)
    timestamper = LocalTestTimestamper.from_seed(DEMO_TSA_SEED)  # one TSA, made once
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        originals: list[Path] = []
        for index in range(unique):
            version = 3 if index % 2 == 0 else 1
            clock = SteppingClock(DEMO_START + index * BATCH_SESSION_SPACING)
            artifact = build_demo_artifact(version, tsa=timestamper, seed=f"keel-verify bench batch {index}",
                                           clock=clock)
            path = staging / f"small-{index:05d}.json"
            path.write_bytes(dump_artifact(artifact, indent=LAYOUTS[layout]))
            originals.append(path)
        for index in range(len(originals), count):
            shutil.copyfile(originals[index % len(originals)], staging / f"small-{index:05d}.json")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate benchmark artifacts with keel-emit.")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("artifact", help="one padded demo session")
    one.add_argument("--schema-version", type=int, choices=[1, 3], default=3)
    one.add_argument("--events", type=int, required=True)
    one.add_argument("--text", choices=sorted(TEXTS), default="ascii")
    one.add_argument("--layout", choices=sorted(LAYOUTS), default="pretty")
    one.add_argument("--seed", default="keel-verify bench")
    one.add_argument("out", type=Path)
    many = commands.add_parser("batch", help="a directory of small demo sessions")
    many.add_argument("--count", type=int, required=True)
    many.add_argument("--distinct", type=int,
                      help="only this many different files, the rest copies (default: all differ)")
    many.add_argument("--layout", choices=sorted(LAYOUTS), default="pretty")
    many.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "artifact":
        data = artifact_bytes(args.schema_version, args.events, args.text, args.layout, args.seed)
        write_atomically(args.out, data)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        make_batch(args.out, args.count, args.distinct, args.layout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
