"""kt_otel: spans and metrics of real turns, read back from the SDK's in-memory exporters."""

from __future__ import annotations

import pytest

import kt
from kt.testing import ScriptedLLM, ToolCall

pytest.importorskip("opentelemetry.sdk", reason="the tests read spans with opentelemetry-sdk")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402

import kt_otel  # noqa: E402


@kt.tool
def add(a: int, b: int) -> str:
    """Add two numbers."""
    return str(a + b)


@kt.tool
def boom() -> str:
    """Fail."""
    raise RuntimeError("it broke")


@pytest.fixture
def telemetry():
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    plugin = kt_otel.Telemetry(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    return plugin, spans, reader


def metric_points(reader) -> dict[str, list]:
    points: dict[str, list] = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


async def test_a_turn_gives_nested_spans_and_metrics(telemetry):
    plugin, spans, reader = telemetry
    llm = ScriptedLLM(
        [
            kt.testing.ScriptEntry(
                tool_calls=(ToolCall("add", {"a": 2, "b": 3}), ToolCall("boom", {})),
                usage=kt.Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120),
            ),
            "5, and boom failed",
        ]
    )
    async with await kt.Agent.build(
        {"name": "calc"},
        llm=llm,
        kernel=kt.Kernel(plugins=[]),
        tools=[add, boom],
        plugins=[plugin],
    ) as agent:
        await agent.run("add")
    finished = spans.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    [turn] = by_name["kt.turn"]
    assert len(by_name["kt.llm_call"]) == 2
    assert {s.attributes["kt.tool"] for s in by_name["kt.tool_call"]} == {"add", "boom"}
    for child in by_name["kt.llm_call"] + by_name["kt.tool_call"]:
        assert child.parent.span_id == turn.context.span_id
    failed = next(s for s in by_name["kt.tool_call"] if s.attributes["kt.tool"] == "boom")
    assert failed.status.status_code is StatusCode.ERROR
    assert turn.attributes["kt.status"] == "completed"
    assert turn.attributes["kt.iterations"] == 2

    points = metric_points(reader)
    tokens = {p.attributes["kt.direction"]: p.value for p in points["kt.llm.tokens"]}
    assert tokens["input"] >= 100 and tokens["output"] >= 20
    assert sum(p.value for p in points["kt.llm.calls"]) == 2
    statuses = {p.attributes["kt.tool"]: p.attributes["kt.status"] for p in points["kt.tool.calls"]}
    assert statuses == {"add": "ok", "boom": "error"}
    assert sum(p.value for p in points["kt.errors"]) == 1
    assert points["kt.turn.duration"][0].count == 1


async def test_a_failed_model_call_closes_its_spans_as_errors(telemetry):
    plugin, spans, _ = telemetry
    llm = ScriptedLLM([kt.errors.LLMConnectionError("down")])
    async with await kt.Agent.build(
        {"name": "calc"}, llm=llm, kernel=kt.Kernel(plugins=[]), plugins=[plugin]
    ) as agent:
        result = await agent.run("hi")
    assert result.status == "error"
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert finished["kt.llm_call"].status.status_code is StatusCode.ERROR
    assert finished["kt.turn"].status.status_code is StatusCode.ERROR


def test_without_the_api_the_error_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(kt.errors.ConfigError, match=r"kt-terrarium\[otel\]"):
        kt_otel.Telemetry()


def test_the_kt_biome_name_resolves_to_this_plugin():
    aliases = kt.Kernel(plugins=[kt_otel]).module_aliases()
    assert aliases["kt_biome.plugins.otel_metrics:OTelMetricsPlugin"] == "kt_otel:Telemetry"
