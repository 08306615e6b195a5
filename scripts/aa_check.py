"""How often `lrperf compare` cries wolf, and how often it finds a planted change.

Give it two results folders of `lrperf study` (one grid each, e.g.
``/tmp/a1/tiny``): runs of the same commit for the false-alarm rate, or a run of
a commit with a planted slowdown for the detection rate.  Run B is copied, in
a temporary folder, beside run A under the machine name ``<machine>-b`` (a
compare needs two runs in one folder, and two runs of one commit on one
machine would be one run), then compared with ``lrperf.report.compare``::

    lrperf study --grid tiny --results /tmp/a1 --out /tmp/r1
    lrperf study --grid tiny --results /tmp/a2 --out /tmp/r2
    python scripts/aa_check.py /tmp/a1/tiny /tmp/a2/tiny

    # planted: a checkout whose python_loops step spins 0.3x its own time more,
    # studied with its source first on asv's path (asv drops PYTHONPATH):
    cd /tmp/planted && ASV_PYTHONPATH=$PWD/src PYTHONPATH=$PWD/src \
        lrperf study --grid tiny --results /tmp/p --out /tmp/rp
    python scripts/aa_check.py /tmp/a1/tiny /tmp/p/tiny --strategy python_loops

Prints the drift, the points marked, and for ``--strategy`` the share of its
points of at least ``--min-ms`` (run A's time) marked slower.
"""
import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from lrperf.machine import cpu_summary
from lrperf.report.compare import compare


def _machine_folder(results):
    found = [p for p in Path(results).iterdir()
             if p.is_dir() and (p / "machine.json").is_file()]
    if len(found) != 1:
        raise SystemExit(f"{results}: expected one machine folder, found {len(found)}")
    return found[0]


def merged(a, b, into):
    """A copy of results folder ``a`` with ``b``'s machine beside it as '<name>-b'."""
    shutil.copytree(a, into, dirs_exist_ok=True)
    src = _machine_folder(b)
    name = f"{src.name}-b"
    dst = Path(into) / name
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix == ".json":
            data = json.loads(f.read_text())
            if f.name == "machine.json":
                data["machine"] = name
            else:
                data["params"]["machine"] = name
            (dst / f.name).write_text(json.dumps(data))
        else:
            shutil.copy(f, dst / f.name)
    return _machine_folder(a).name, name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="results folder of run A (lrperf study's <root>/<grid>)")
    parser.add_argument("b", help="results folder of run B")
    parser.add_argument("--strategy", help="the strategy a slowdown was planted in")
    parser.add_argument("--min-ms", type=float, default=1.0,
                        help="count the planted strategy's points of at least this (run A)")
    parser.add_argument("--no-drift", action="store_true", help="do not divide out the drift")
    parser.add_argument("--no-reference", action="store_true",
                        help="judge each process as measured, without its reference time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lrperf-aa-") as tmp:
        a, b = merged(args.a, args.b, Path(tmp) / "results")
        lines, _ = compare(Path(tmp) / "results", a, b, out=None,
                           judge_drift=not args.no_drift,
                           judge_reference=not args.no_reference)
    rows = [line.split() for line in lines if line.split()[:1] and line.split()[0] in (
        "same", "slower", "faster", "unconfirmed")]
    print(f"CPU: {cpu_summary()}")
    print(next(line for line in lines if line.startswith("reference")))
    print(next(line for line in lines if line.startswith("drift")))
    marked = [r for r in rows if r[0] in ("slower", "faster")]
    print(f"marked: {len(marked)} of {len(rows)} points ({100 * len(marked) / len(rows):.1f}%)")
    if args.strategy:
        def ms(text, unit):
            return float(text) * {"s": 1e3, "ms": 1.0, "µs": 1e-3, "ns": 1e-6}[unit]
        # verdict ratio judged p A unit B unit strategy ...
        mine = [r for r in rows if r[8] == args.strategy and ms(r[4], r[5]) >= args.min_ms]
        hits = [r for r in mine if r[0] == "slower"]
        others = [r for r in marked if r[8] != args.strategy]
        print(f"{args.strategy}, points of {args.min_ms:g} ms or more: {len(hits)} of "
              f"{len(mine)} marked slower; other strategies: {len(others)} marked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
