"""`make bench`: build a large organisation in a throw-away PostgreSQL database and measure it.

    .venv/bin/python tests/bench/run.py                 # scale 0.01, then 1; prints the growth
    .venv/bin/python tests/bench/run.py --scale 0.01    # one scale (SCALE=0.01 make bench)

Each scale runs in its own process against its own database: created, migrated,
filled (tests/bench/dataset.py), measured (tests/bench/measures.py), dropped.
The database is BENCH_DATABASE_URL, or postgres://postgres@127.0.0.1:5432/bench_<pid>.

Writes bench-results.json: {"scale", "measures": {name: {queries, median_ms, p95_ms,
floor_median_ms, ratio, ...}}} for the last scale run; with two scales also
bench-results-<scale>.json for each, and a "growth" key in bench-results.json
comparing the last scale with the first (see README, "Performance").
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
NAMES = (
    "admin_incident_changelist",
    "api_incident_list",
    "api_incident_detail",
    "ack_compliance",
    "training_compliance_page",
    "training_compliance_csv",
    "incident_save_history",
)
# Floor-ratio targets of the issue; the others have the growth target only.
RATIO_TARGETS = {
    "api_incident_list": 4.0,
    "ack_compliance": 2.0,
    "training_compliance_page": 2.0,
    "training_compliance_csv": 2.0,
    "incident_save_history": 1.5,
}
GROWTH_TARGET = 1.3
MEMORY_TARGET_MB = 50
# Reads whose output is every row (not a page): their work is proportional to the data by
# definition, so their growth is judged per row of output (see README).
PER_ROW = ("ack_compliance", "training_compliance_csv")


def default_url():
    return os.environ.get("BENCH_DATABASE_URL") or (
        f"postgres://postgres@127.0.0.1:5432/bench_{os.getpid()}"
    )


def _admin_dsn(url):
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    return admin, name


def _admin(url, statement):
    import psycopg

    admin, _ = _admin_dsn(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(statement)


def _quoted(name):
    return '"' + name.replace('"', '""') + '"'


# -- one scale, in its own process --------------------------------------------------


def run_one(scale, url, out):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["TASK_BACKEND"] = "dummy"  # publication notices would email the audience
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["API_THROTTLE_USER"] = "1000000/minute"
    sys.path.insert(0, str(ROOT))
    _, name = _admin_dsn(url)
    print(f"== scale {scale}: database {name} ==", flush=True)
    _admin(url, f"CREATE DATABASE {_quoted(name)}")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from tests.bench import dataset, measures

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        print(f"  migrated in {time.perf_counter() - started:.1f} s", flush=True)
        data = dataset.build(dataset.Spec(scale=scale), log=lambda m: print(m, flush=True))
        print(f"  dataset built in {data.build_seconds:.1f} s: {data.counts}", flush=True)
        # The full CSV export reads every row: 20 samples at 1/100, 3 at full scale (its first
        # call, which counts the queries, warms it up).
        big = scale > 0.1
        results = measures.run_all(
            data,
            heavy_repeat=3 if big else 20,
            heavy_warmup=0 if big else 1,
            log=lambda m: print(m, flush=True),
        )
        payload = {
            "scale": scale,
            "database": connection.vendor,
            "dataset": data.counts,
            "build_seconds": round(data.build_seconds, 1),
            "measures": {r.name: r.as_json() for r in results},
        }
        connection.close()
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001
            pass
        _admin(url, f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
    Path(out).write_text(json.dumps(payload, indent=2) + "\n")
    return payload


# -- the table -------------------------------------------------------------------


def _status(ok):
    return "OK" if ok else "MISSED"


def judge(payload):
    """Per measure of one scale: (target text, ok) from the floor ratio and memory targets."""
    verdicts = {}
    for name in NAMES:
        m = payload["measures"][name]
        parts, ok = [], True
        if name in RATIO_TARGETS:
            parts.append(f"ratio<={RATIO_TARGETS[name]:g}")
            ok &= m["ratio"] is not None and m["ratio"] <= RATIO_TARGETS[name]
        if "streamed_memory_mb" in m:
            parts.append(f"mem<{MEMORY_TARGET_MB}MB ({m['streamed_memory_mb']:.1f})")
            ok &= m["streamed_memory_mb"] < MEMORY_TARGET_MB
        verdicts[name] = (", ".join(parts) or "growth only", ok)
    return verdicts


def print_table(payload):
    verdicts = judge(payload)
    print(f"\nScale {payload['scale']} on {payload['database']}: {payload['dataset']}")
    header = f"{'name':<27} {'queries':>7} {'median ms':>10} {'p95 ms':>9} {'floor ms':>9} {'ratio':>6}  {'target':<30} result"
    print(header)
    print("-" * len(header))
    for name in NAMES:
        m = payload["measures"][name]
        target, ok = verdicts[name]
        ratio = "-" if m["ratio"] is None else f"{m['ratio']:.2f}"
        print(
            f"{name:<27} {m['queries']:>7} {m['median_ms']:>10.1f} {m['p95_ms']:>9.1f} "
            f"{m['floor_median_ms'] or 0:>9.1f} {ratio:>6}  {target:<30} {_status(ok)}"
        )


def growth(small, large):
    """How each figure grew from the small scale to the large one, and the growth targets."""
    out = {"from_scale": small["scale"], "to_scale": large["scale"], "measures": {}}
    for name in NAMES:
        a, b = small["measures"][name], large["measures"][name]
        median_x = b["median_ms"] / a["median_ms"]
        p95_x = b["p95_ms"] / a["p95_ms"]
        floor_x = (
            b["floor_median_ms"] / a["floor_median_ms"]
            if a["floor_median_ms"] and b["floor_median_ms"]
            else None
        )
        rows_x = b.get("rows", 1) / max(1, a.get("rows", 1))
        judged = median_x / rows_x if name in PER_ROW else median_x
        entry = {
            "queries": [a["queries"], b["queries"]],
            "queries_equal": a["queries"] == b["queries"],
            "median_x": round(median_x, 3),
            "p95_x": round(p95_x, 3),
            "floor_x": None if floor_x is None else round(floor_x, 3),
            "ratio": [a["ratio"], b["ratio"]],
            "rows_x": round(rows_x, 2),
            "judged_x": round(judged, 3),
            "judged_on": "median per output row" if name in PER_ROW else "median",
        }
        entry["ok"] = entry["queries_equal"] and judged <= GROWTH_TARGET
        out["measures"][name] = entry
    return out


def print_growth(g):
    print(
        f"\nGrowth from scale {g['from_scale']} to scale {g['to_scale']} (target <= {GROWTH_TARGET}x, same queries)"
    )
    header = f"{'name':<27} {'queries':>9} {'median x':>9} {'p95 x':>8} {'floor x':>8} {'rows x':>8} {'judged x':>9}  result"
    print(header)
    print("-" * len(header))
    for name in NAMES:
        e = g["measures"][name]
        q = f"{e['queries'][0]}->{e['queries'][1]}"
        floor_x = "-" if e["floor_x"] is None else f"{e['floor_x']:.2f}"
        print(
            f"{name:<27} {q:>9} {e['median_x']:>9.2f} {e['p95_x']:>8.2f} {floor_x:>8} "
            f"{e['rows_x']:>8.0f} {e['judged_x']:>9.2f}  {_status(e['ok'])}"
            + ("  (per row)" if e["judged_on"] != "median" else "")
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, action="append", help="scale (repeatable)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scales = args.scale or [0.01, 1.0]
    url = default_url()
    if args.one:
        run_one(scales[0], url, args.out)
        return 0
    payloads = []
    for scale in scales:
        out = ROOT / f"bench-results-{scale:g}.json"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--one", "--scale", str(scale), "--out", str(out)],
            check=True,
            cwd=ROOT,
        )
        print(f"  scale {scale:g} done in {time.perf_counter() - started:.0f} s")
        payloads.append(json.loads(out.read_text()))
        print_table(payloads[-1])
    result = dict(payloads[-1])
    if len(payloads) > 1:
        for payload in payloads:
            print_table(payload)
        result["growth"] = growth(payloads[0], payloads[-1])
        print_growth(result["growth"])
    else:
        (ROOT / f"bench-results-{scales[0]:g}.json").unlink(missing_ok=True)
    (ROOT / "bench-results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        "\nWrote bench-results.json"
        + (" and bench-results-<scale>.json" if len(payloads) > 1 else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
