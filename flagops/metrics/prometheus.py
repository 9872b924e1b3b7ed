"""Prometheus as a `MetricsSource`: the profile's PromQL templates over the HTTP API (query_range).

One refresh is two queries (evaluations, errors) for any number of flags: `{flag}` becomes an anchored
regex alternation of the keys, or `.+` for a big batch (then filtered here), and the templates group by
the flag and variant labels. A template with `{variant}` is run once per distinct variant instead.
Template values are per-second rates; a step's count is rate x step, so error rates (errors / evaluations)
are exact ratios of the two rates. Queries are POSTed (form body): no URL length limit for long regexes.

Anything that keeps Prometheus from answering usefully (unreachable, slow, a PromQL error, a result that
is not a vector, NaN/Inf samples) becomes a `MetricsUnavailable` with a message a person can act on, or a
`note` on the series for data that was partly unusable; `health` says since when it has been failing.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from flagops.backends.http import BearerAuth
from flagops.metrics.base import HealthTracker, MetricsUnavailable, SourceHealth
from flagops.metrics.settings import MetricsSettings
from flagops.model import MetricPoint, MetricSeries
from flagops.secrets import Secret

ALL_FLAGS_AT = 300  # a batch at least this big asks for every flag (`.+`) and filters here
NO_VARIANT = "all"  # evaluations whose series carry no variant label
_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def promql_string(text: str) -> str:
    """`text` safe inside a double-quoted PromQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def regex_literal(text: str) -> str:
    """`text` as an RE2 literal (then quoted as a PromQL string)."""
    return _RE2_SPECIAL.sub(r"\\\1", text)


def render(template: str, *, flags: str, environment: str, range_seconds: int, variant: str | None = None) -> str:
    """Fill the placeholders; `flags` is already a regex (alternation of escaped keys, or `.+`)."""
    out = template.replace("{flag}", promql_string(flags))
    out = out.replace("{environment}", promql_string(environment))
    out = out.replace("{range}", f"{range_seconds}s")
    if variant is not None:
        # a variant inside a regex matcher must be a regex literal; elsewhere a plain string
        out = re.sub(r'(=~\s*")\{variant\}', lambda m: m.group(1) + promql_string(regex_literal(variant)), out)
        out = out.replace("{variant}", promql_string(variant))
    return out


Samples = dict[tuple[str, str | None], dict[float, float]]  # (flag, variant or None) -> time -> rate


class PrometheusMetrics:
    name = "prometheus"
    has_errors = True

    def __init__(
        self,
        settings: MetricsSettings,
        *,
        token: Secret | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        assert settings.url, "a prometheus source needs a url (checked when the profile is loaded)"
        self.settings = settings
        self.url = settings.url.rstrip("/")
        self._health = HealthTracker()
        self.queries = 0  # sent so far (the benchmark reports queries per refresh)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            verify=settings.verify_tls,
            transport=transport,
            auth=BearerAuth(token) if token is not None else None,
            timeout=httpx.Timeout(settings.timeout, connect=min(3.0, settings.timeout)),
            headers={"User-Agent": "flagops", "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"PrometheusMetrics({self.url!r})"

    @property
    def health(self) -> SourceHealth:
        return self._health.health

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the port ---------------------------------------------------------------------------------

    async def series(
        self,
        key: str,
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 10,
        variants: Sequence[str] = (),
    ) -> MetricSeries:
        found = await self.series_many(
            [key], environment, window_seconds=window_seconds, step_seconds=step_seconds, variants={key: variants}
        )
        return found[key]

    async def series_many(
        self,
        keys: Sequence[str],
        environment: str,
        *,
        window_seconds: int = 300,
        step_seconds: int = 30,
        variants: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, MetricSeries]:
        if not keys:
            return {}
        step = max(1, int(step_seconds))
        count = max(1, math.ceil(window_seconds / step))
        end = float(int(time.time()))  # the last point is now: its rate() window ends here
        times = [end - (count - 1 - i) * step for i in range(count)]
        range_seconds = max(step, math.ceil(self.settings.min_range))
        wanted = set(keys)
        pattern = ".+" if len(keys) >= ALL_FLAGS_AT else "|".join(regex_literal(k) for k in keys)
        single = keys[0] if len(keys) == 1 else None
        evaluations, errors = await asyncio.gather(
            self._collect(
                "evaluations",
                self.settings.evaluations,
                pattern,
                environment,
                range_seconds,
                times,
                step,
                keys,
                variants,
                single,
            ),
            self._collect(
                "errors", self.settings.errors, pattern, environment, range_seconds, times, step, keys, variants, single
            ),
        )
        self._health.ok()  # both queries answered (a failure of either has said so and raised)
        (eval_samples, eval_dropped), (error_samples, error_dropped) = evaluations, errors
        dropped = eval_dropped + error_dropped
        out: dict[str, MetricSeries] = {}
        by_flag_evals: dict[str, dict[str | None, dict[float, float]]] = {}
        by_flag_errors: dict[str, dict[str | None, dict[float, float]]] = {}
        for (flag, variant), values in eval_samples.items():
            if flag in wanted:
                by_flag_evals.setdefault(flag, {})[variant] = values
        for (flag, variant), values in error_samples.items():
            if flag in wanted:
                by_flag_errors.setdefault(flag, {})[variant] = values
        starts = [datetime.fromtimestamp(t - step, UTC) for t in times]  # a point covers the step before t
        for key in keys:  # the hot loop at 5,000 flags: plain loops, no per-point allocations beyond the point
            ev, er = by_flag_evals.get(key, {}), by_flag_errors.get(key, {})
            points = []
            for t, start in zip(times, starts, strict=True):
                evals: dict[str, float] = {}
                for v, s in ev.items():
                    rate = s.get(t)
                    if rate:
                        evals[v if v is not None else NO_VARIANT] = rate * step
                total = 0.0
                split: dict[str, float] = {}
                for v, s in er.items():
                    rate = s.get(t)
                    if rate:
                        total += rate * step
                        if v is not None:
                            split[v] = rate * step
                points.append(MetricPoint(start, evals, total, split))
            note = None
            if not ev and not er and single is not None:
                note = (
                    f"Prometheus has no series for {key} in {environment}: the templates matched nothing "
                    "(check their labels and metric names)"
                )
            elif dropped:
                note = f"{dropped} NaN/Inf sample(s) from Prometheus left out (check the templates)"
            # errors are per variant when their series name one, or (no errors at all) the evaluations do
            by_variant = any(v is not None for v in er) if er else any(v is not None for v in ev)
            out[key] = MetricSeries(
                key, environment, step, tuple(points), has_errors=True, note=note, errors_split=by_variant
            )
        return out

    # --- queries ----------------------------------------------------------------------------------

    async def _collect(
        self,
        which: str,
        template: str,
        pattern: str,
        environment: str,
        range_seconds: int,
        times: list[float],
        step: int,
        keys: Sequence[str],
        variants: Mapping[str, Sequence[str]] | None,
        single: str | None,
    ) -> tuple[Samples, int]:
        if "{variant}" not in template:
            query = render(template, flags=pattern, environment=environment, range_seconds=range_seconds)
            return self._samples(await self._query_range(which, query, times, step), single, None)
        names = sorted({v for k in keys for v in (variants or {}).get(k, ())})
        if not names:
            raise self._fail(f"the {which} template names {{variant}}, but the flags' variants are unknown")
        results = await asyncio.gather(
            *(
                self._query_range(
                    which,
                    render(template, flags=pattern, environment=environment, range_seconds=range_seconds, variant=name),
                    times,
                    step,
                )
                for name in names
            )
        )
        merged: Samples = {}
        dropped = 0
        for name, result in zip(names, results, strict=True):
            samples, lost = self._samples(result, single, name)
            dropped += lost
            merged.update(samples)
        return merged, dropped

    def _samples(self, result: list[dict[str, Any]], single: str | None, variant: str | None) -> tuple[Samples, int]:
        flag_label, variant_label = self.settings.flag_label, self.settings.variant_label
        samples: Samples = {}
        dropped = 0
        for item in result:
            labels = item.get("metric") or {}
            flag = str(labels.get(flag_label) or single or "")  # a one-flag query may aggregate it away
            if not flag:
                continue
            name = variant if variant is not None else (labels.get(variant_label) or None)
            values = samples.setdefault((flag, name), {})
            for pair in item.get("values") or ():
                try:
                    at, raw = float(pair[0]), float(pair[1])
                except (TypeError, ValueError, IndexError):
                    dropped += 1
                    continue
                if math.isnan(raw) or math.isinf(raw):
                    dropped += 1
                    continue
                values[at] = values.get(at, 0.0) + max(0.0, raw)
        return samples, dropped

    def _fail(self, message: str, *, unreachable: bool = False) -> MetricsUnavailable:
        self._health.failed(message, unreachable=unreachable)
        return MetricsUnavailable(message)

    async def _query_range(self, which: str, query: str, times: list[float], step: int) -> list[dict[str, Any]]:
        self.queries += 1
        form = {"query": query, "start": f"{times[0]:.3f}", "end": f"{times[-1]:.3f}", "step": f"{step}s"}
        where = f"Prometheus at {self.url}"
        try:
            response = await self._http.post("/api/v1/query_range", data=form)
        except httpx.TimeoutException:
            raise self._fail(f"{where} did not answer within {self.settings.timeout:g}s", unreachable=True) from None
        except httpx.ConnectError:
            raise self._fail(f"{where} is unreachable (connection refused or no route)", unreachable=True) from None
        except httpx.HTTPError as exc:
            raise self._fail(f"{where} is unreachable ({type(exc).__name__})", unreachable=True) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            raise self._fail(
                f"{where} answered HTTP {response.status_code} without a Prometheus API "
                "response: is the url the Prometheus server (not a dashboard)?"
            )
        if body.get("status") != "success":
            kind = str(body.get("errorType", "error"))[:40]
            detail = str(body.get("error", ""))[:300]
            if response.status_code in (401, 403):
                raise self._fail(f"{where} refused the request (HTTP {response.status_code}): check token_env")
            if kind in ("bad_data", "execution") and response.status_code in (400, 422):
                raise self._fail(
                    f"Prometheus rejected the {which} query ({kind}: {detail}); "
                    f"fix the profile's metrics.{which} template"
                )
            raise self._fail(f"{where} failed the {which} query (HTTP {response.status_code}, {kind}: {detail})")
        data = body.get("data") or {}
        result_type = data.get("resultType")
        if result_type != "matrix":
            raise self._fail(
                f"the {which} template gives a {result_type or 'strange'} result; it must be an instant "
                "vector, like sum by (flag, variant) (rate(...[{range}]))"
            )
        result = data.get("result")
        return result if isinstance(result, list) else []
