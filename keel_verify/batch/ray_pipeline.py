"""Verifying a large corpus on Ray Data (``pip install 'keel-verify[ray]'``):

    read_binary_files(inputs, include_paths=True) -> map(RowMapper) -> write JSONL or Parquet

The same rows as ``keel-verify --format jsonl`` (``schemas/row-v1.schema.json``), one per
file, written as a directory of part files. On one machine Ray starts a local instance;
to use a cluster, start it (``ray start --head`` / ``ray up``) and pass ``--address auto``
(or ``ray://HEAD:10001``), with inputs on storage every node reads (a shared mount, or a
``s3://`` / ``gs://`` URI that pyarrow reads) and trust files shipped with
``--working-dir`` (Ray's runtime_env) or given by absolute paths every node has.

    python -m keel_verify.batch.ray_pipeline --trust-root trust-root.json \\
        --output rows/ --format parquet exports/

Exit code: 0 when every row is VERIFIED, else the documented combined code (1 any
FAILED, else 2 any ERROR, else 3 any UNTRUSTED); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from keel_verify.batch import RowMapper
from keel_verify.results import Verdict, combined_exit_code
from keel_verify.trust.sources import TrustSpec

FORMATS = ("jsonl", "parquet")


def verification_dataset(inputs: Sequence[str], mapper: RowMapper, *,
                         file_extensions: Sequence[str] | None = ("json",)) -> Any:
    """A lazy Ray Dataset of verification rows for every file under ``inputs`` (files or
    directories, local paths or URIs pyarrow reads)."""
    import ray.data

    files = ray.data.read_binary_files(list(inputs), include_paths=True,
                                       file_extensions=list(file_extensions) if file_extensions else None)
    return files.map(mapper)


def write_rows(dataset: Any, output: str, output_format: str) -> None:
    """Write ``dataset``'s rows under the directory ``output`` as JSONL or Parquet parts."""
    if output_format == "jsonl":
        dataset.write_json(output)
    elif output_format == "parquet":
        dataset.write_parquet(output)
    else:
        raise ValueError(f"output format must be one of {FORMATS}, not {output_format!r}")


def run_pipeline(inputs: Sequence[str], output: str, mapper: RowMapper, *,
                 output_format: str = "jsonl") -> int:
    """Verify, write, and return the combined exit code of the rows written."""
    dataset = verification_dataset(inputs, mapper).materialize()
    write_rows(dataset, output, output_format)
    verdicts = {Verdict(v) for v in dataset.unique("verdict")}
    return combined_exit_code(sorted(verdicts, key=lambda v: v.exit_code))


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m keel_verify.batch.ray_pipeline",
                                     description="Verify Keel attestations on Ray Data.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or directories (or URIs)")
    parser.add_argument("--output", required=True, metavar="DIR", help="directory for the row parts")
    parser.add_argument("--format", dest="output_format", choices=FORMATS, default="jsonl")
    parser.add_argument("--public-key", dest="public_keys", action="append", default=[])
    parser.add_argument("--trust-root")
    parser.add_argument("--tsa-roots", action="append", default=[])
    parser.add_argument("--self-attested", action="store_true")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--policy", help="gate policy file (schemas/policy-v1)")
    parser.add_argument("--address", help="Ray cluster address (default: a local instance)")
    parser.add_argument("--working-dir", help="ship this directory to the workers (trust files)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    import ray

    from keel_verify.gate import load_gate_policy, with_policy_trust

    gate = load_gate_policy(args.policy)
    spec = with_policy_trust(TrustSpec(tuple(args.public_keys), args.self_attested, args.trust_root,
                                       tuple(args.tsa_roots), args.strict), gate)
    runtime_env = {"working_dir": args.working_dir} if args.working_dir else None
    ray.init(address=args.address, runtime_env=runtime_env, include_dashboard=False,
             log_to_driver=False)
    try:
        return run_pipeline(args.inputs, args.output, RowMapper(spec, gate, datetime.now(UTC)),
                            output_format=args.output_format)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
