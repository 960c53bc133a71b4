"""The ``dlbook`` command.

    dlbook list                       chapters with stored profile, runtime and freshness
    dlbook execute [PATH ...]         run chapters at the book profile and store their outputs
                                      (--stale-only: changed ones; --jobs N: N at a time)
    dlbook bench [--models ...]       train the reference models; write benchmarks/<kind>.json/.md
    dlbook new PATH --title TITLE     start a chapter from the template that meets the contract
    dlbook report [-o FILE]           the execution-report page for the site
    dlbook data list | info NAME | fetch NAME
    dlbook doctor                     versions, backend, device, datasets available offline
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from dlbook import chapters as ch


def _root(args: argparse.Namespace) -> Path:
    return ch.project_root(args.root)


def cmd_list(args: argparse.Namespace) -> int:
    root = _root(args)
    rows = ch.chapters(root)
    if not rows:
        print("no notebooks under notebooks/ yet; start one with `dlbook new`")
        return 0
    width = max(len(str(c.path.relative_to(root))) for c in rows)
    print(f"{'chapter':<{width}}  {'profile':<7}  {'test':>6}  {'book':>6}  status")
    for c in rows:
        t = c.runtime_s.get("test")
        b = c.runtime_s.get("book")
        status = "ok" if not c.stale else "STALE: " + "; ".join(c.stale)
        print(f"{str(c.path.relative_to(root)):<{width}}  {c.profile or '-':<7}  "
              f"{(f'{t:.0f}s' if t else '-'):>6}  {(f'{b:.0f}s' if b else '-'):>6}  {status}")
    return 1 if args.check and any(c.stale for c in rows) else 0


def cmd_execute(args: argparse.Namespace) -> int:
    from dlbook.execute import execute_many, report_outcome

    root = _root(args)
    paths = [Path(p).resolve() for p in args.paths] or ch.notebooks(root)
    missing = [str(p) for p in paths if not p.is_file() or p.suffix != ".ipynb"]
    if missing:
        print(f"error: not a notebook file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.stale_only:
        paths = [p for p in paths if ch.stale_reasons(ch.read(p))]
        if not paths:
            print("every chapter's stored outputs are current; nothing to run")
            return 0
    if args.jobs > 1 and len(paths) > 1:
        print(f"running {len(paths)} chapters, {min(args.jobs, len(paths))} at a time "
              "(runtimes measured in parallel are inflated; each notebook records how many ran "
              "at once)", flush=True)
    failed = 0
    for outcome in execute_many(paths, jobs=args.jobs, time_test=not args.no_test_timing,
                                timeout=args.timeout):
        failed += not outcome.ok
        report_outcome(outcome, root, lambda line: print(line, flush=True),
                       lambda line: print(line, file=sys.stderr, flush=True))
    if failed:
        print(f"error: {failed} of {len(paths)} chapters failed", file=sys.stderr)
    return 1 if failed else 0


def _positive(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value!r}")
    return jobs


def cmd_bench(args: argparse.Namespace) -> int:
    from dlbook import benchmark

    root = _root(args)
    if args.kind and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.kind):
        raise ValueError(f"--kind names a file: use lower-case letters, digits and '-', "
                         f"e.g. cpu-laptop-8core, not {args.kind!r}")
    out = Path(args.out) if args.out else root / "benchmarks"
    if not out.is_absolute():
        out = Path.cwd() / out
    page = None if args.no_page else root / "book" / "benchmarks.md"
    if page is not None and not page.is_file():
        page = None
    result = benchmark.run_benchmark(args.models, steps=args.steps, warmup=args.warmup,
                                     matmul_n=args.matmul_size,
                                     progress=lambda line: print(line, flush=True))
    if args.kind:
        result["kind"] = args.kind
    json_path, md_path = benchmark.write_results(result, out, page)
    print()
    print(benchmark.to_markdown(result))
    where = ", ".join(str(p) for p in (json_path, md_path, page) if p is not None)
    print(f"\nwrote {where}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from dlbook.template import new_chapter

    root = _root(args)
    path = new_chapter(root, Path(args.path), args.title)
    rel = path.relative_to(root).with_suffix("").as_posix()
    print(f"created {path.relative_to(root)}; add `- file: {rel}` to _toc.yml, write it, then "
          f"`dlbook execute {path.relative_to(root)}`")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    text = ch.execution_report(_root(args))
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from dlbook import data

    if args.data_cmd == "list":
        for entry in data.catalog():
            ok, where = data.availability(entry.name)
            mark = "offline: " + where if ok else "NOT AVAILABLE: " + where
            print(f"{entry.name:<15} {entry.task:<45} {entry.size}\n{'':<15} {entry.license} · {mark}")
        return 0
    if args.data_cmd == "info":
        entry = data.info(args.name)
        print(f"{entry.title} ({entry.name})\n{entry.description}\n")
        for label in ("task", "shape", "size", "license", "source", "citation"):
            print(f"{label:>9}: {getattr(entry, label)}")
        print("  sources: " + "\n           ".join(s.describe() for s in entry.sources))
        return 0
    if args.data_cmd == "fetch":
        from dlbook.data._core import fetch

        print(f"cached in {fetch(args.name)}")
        return 0
    return 2


def cmd_doctor(args: argparse.Namespace) -> int:
    from dlbook import config, data
    from dlbook.execute import versions

    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(config.describe())
    print(f"data cache: {data.cache_dir()}")
    missing = 0
    for entry in data.catalog():
        ok, where = data.availability(entry.name)
        missing += not ok
        print(f"  {'ok ' if ok else 'MISSING'} {entry.name:<15} {where}")
    return 1 if missing else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlbook", description="Tools for the dlbook notebooks.")
    parser.add_argument("--root", help="the book's root folder (default: found from the working directory)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="chapters with stored profile, runtime and freshness")
    p.add_argument("--check", action="store_true", help="exit 1 if any chapter is stale")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("execute", help="run chapters at the book profile and store outputs")
    p.add_argument("paths", nargs="*", help="notebooks (default: all)")
    p.add_argument("--stale-only", action="store_true", help="only chapters whose outputs are stale")
    p.add_argument("--no-test-timing", action="store_true", help="skip the timed test-profile run")
    p.add_argument("--timeout", type=int, default=900, help="per-cell timeout in seconds")
    p.add_argument("--jobs", "-j", type=_positive, default=1,
                   help="chapters run at once, each in its own kernel (default 1; runtimes "
                        "measured in parallel are inflated, and each notebook records N)")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("bench", help="benchmark training speed on the reference models")
    p.add_argument("--models", nargs="+", metavar="NAME",
                   help="reference models to run: mlp cnn lstm transformer vit (default: all)")
    p.add_argument("--steps", type=_positive, default=30, help="timed training steps per model")
    p.add_argument("--warmup", type=_positive, default=3, help="untimed steps first (>= 1: it traces)")
    p.add_argument("--matmul-size", type=_positive, default=None,
                   help="n of the n x n matmul probe (default 2048 on CPU, 8192 on GPU)")
    p.add_argument("--out", help="folder for <kind>.json and <kind>.md (default: benchmarks/)")
    p.add_argument("--kind", help="the machine-kind name to store under (default: derived)")
    p.add_argument("--no-page", action="store_true",
                   help="leave book/benchmarks.md's include list as it is")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("new", help="start a chapter from the template")
    p.add_argument("path", help="e.g. notebooks/02-classic/cnn.ipynb")
    p.add_argument("--title", required=True)
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("report", help="write the execution-report page")
    p.add_argument("-o", "--output", help="file to write (default: print)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("data", help="the dataset registry")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    dsub.add_parser("list", help="datasets and whether they load offline here")
    dsub.add_parser("info", help="one dataset in full").add_argument("name")
    dsub.add_parser("fetch", help="download a dataset into the cache (checksummed)").add_argument("name")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("doctor", help="versions, backend, device and offline datasets")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from dlbook.chapters import ProjectNotFound
    from dlbook.config import ProfileError
    from dlbook.data import DataError

    try:
        return int(args.func(args) or 0)
    except (ProjectNotFound, ProfileError, DataError, FileExistsError, ValueError) as why:
        print(f"error: {why}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
