"""Benchmark harness: time a read (median, p95, queries) against its one-SQL floor."""

import json
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection


@dataclass
class Result:
    name: str
    queries: int
    median_ms: float
    p95_ms: float
    floor_median_ms: float | None = None
    extra: dict = field(default_factory=dict)
    samples: list = field(default_factory=list, repr=False)
    floor_samples: list = field(default_factory=list, repr=False)

    @classmethod
    def pooled(cls, name, rounds):
        """One Result from several rounds' raw() of the same measure: their samples pooled."""
        samples = [x for r in rounds for x in r["samples"]]
        floor_samples = [x for r in rounds for x in r["floor_samples"]]
        queries = sorted({r["queries"] for r in rounds})
        result = cls(
            name=name,
            queries=queries[-1],
            median_ms=statistics.median(samples),
            p95_ms=p95(samples),
            floor_median_ms=statistics.median(floor_samples) if floor_samples else None,
            samples=samples,
            floor_samples=floor_samples,
        )
        for r in rounds:
            result.extra = {**r["extra"], **result.extra}
        result.extra["rounds"] = len(rounds)
        if len(queries) > 1:
            result.extra["queries_differ_between_rounds"] = queries
        return result

    def raw(self):
        return {
            "queries": self.queries,
            "samples": self.samples,
            "floor_samples": self.floor_samples,
            "extra": self.extra,
        }

    @property
    def ratio(self):
        if not self.floor_median_ms:
            return None
        return self.median_ms / self.floor_median_ms

    def as_json(self):
        data = {
            "queries": self.queries,
            "median_ms": round(self.median_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "floor_median_ms": None
            if self.floor_median_ms is None
            else round(self.floor_median_ms, 3),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
        }
        data.update(self.extra)
        return data


def _ms(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def p95(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


class QueryCounter:
    """Counts the queries run on `connection` inside the block.

    Unlike CaptureQueriesContext it survives django.test.Client requests, whose
    request_started signal empties the connection's query log."""

    def __init__(self, conn=connection):
        self.connection = conn
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self._wrapper = self.connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        return self._wrapper.__exit__(*exc)


def measure(name, fn, floor=None, *, repeat=40, warmup=3):
    """Run `fn` (a request) `repeat` times after `warmup`, alternating with `floor` (one SQL +
    json.dumps), so both are timed over the same seconds: on a shared machine the speed drifts,
    and back-to-back blocks would put the drift into the ratio. The query count is that of
    the first call of `fn`."""
    with QueryCounter() as counter:
        fn()
    for _ in range(warmup):
        fn()
        if floor:
            floor()
    samples, floor_samples = [], []
    for _ in range(repeat):
        samples.append(_ms(fn))
        if floor:
            floor_samples.append(_ms(floor))
    return Result(
        name=name,
        queries=counter.count,
        median_ms=statistics.median(samples),
        p95_ms=p95(samples),
        floor_median_ms=statistics.median(floor_samples) if floor_samples else None,
        samples=samples,
        floor_samples=floor_samples,
    )


def sql_floor(sql, params=()):
    """The floor of a read: the same rows fetched by one hand-written query, serialised."""

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            columns = [c[0] for c in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return json.dumps(rows, cls=DjangoJSONEncoder)

    return run


def streamed_memory_mb(response_factory):
    """Peak Python memory (MB) while consuming a streamed response to the end."""
    tracemalloc.start()
    try:
        response = response_factory()
        size = 0
        for chunk in response.streaming_content:
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / (1024 * 1024), size
