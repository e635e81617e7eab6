"""OpenTelemetry traces and metrics for creatures.

:class:`Telemetry` is a creature plugin. Through the OpenTelemetry API it records

* **spans**: ``kt.turn`` for each turn, with a child ``kt.llm_call`` for each model call,
  ``kt.tool_call`` for each tool call and ``kt.subagent`` for each sub-agent run; each carries
  the creature, the model or tool name, token counts and status, and failed steps set the
  span's status to error;
* **metrics**: counters ``kt.llm.tokens`` (attribute ``kt.direction``: ``input``, ``output``,
  ``cached``), ``kt.llm.calls``, ``kt.tool.calls`` (``kt.status``), ``kt.errors`` and
  ``kt.turns``, and histograms ``kt.llm.duration``, ``kt.tool.duration`` and
  ``kt.turn.duration`` in seconds.

Where they go is the application's choice, as OpenTelemetry intends: an application that set
global tracer and meter providers gets the data there. When none is set and an OTLP endpoint
is configured (the ``endpoint`` option, or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
variable), the plugin sets up the SDK with OTLP/HTTP exporters itself (the
``opentelemetry-exporter-otlp-proto-http`` package). Without either, the API's no-op
providers make every call free.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import kt
from kt.llm import LLMRequest, LLMResult, ToolCall
from kt.results import TurnResult
from kt.tools import ToolResult

__all__ = ["Telemetry"]

INSTRUMENTATION = "kt_otel"
_turn_span = kt.StashKey[Any]()
_turn_started = kt.StashKey[float]()
_llm_span = kt.StashKey[Any]()
_llm_started = kt.StashKey[float]()
_tool_spans = kt.StashKey[dict]()
_subagent_spans = kt.StashKey[dict]()


class Telemetry:
    """A creature plugin recording OpenTelemetry spans and metrics.

    Args:
        service_name: ``service.name`` of the resource, when this plugin sets up the SDK.
        endpoint: An OTLP/HTTP endpoint (``http://collector:4318``); default: the
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` variable.
        tracer_provider: Use this provider (tests and applications); default: the global one.
        meter_provider: Use this provider; default: the global one.
    """

    def __init__(
        self,
        service_name: str = "kt-terrarium",
        endpoint: str | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:  # the plugin loads without it, so packs naming it resolve
            raise kt.errors.ConfigError(
                f"the telemetry plugin needs the OpenTelemetry API ({exc}); install it with "
                "pip install 'kt-terrarium[otel]', or leave the plugin out"
            ) from exc
        endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if tracer_provider is None and meter_provider is None and endpoint:
            tracer_provider, meter_provider = _otlp_providers(service_name, endpoint)
        self.tracer = trace.get_tracer(INSTRUMENTATION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(INSTRUMENTATION, meter_provider=meter_provider)
        self.tokens = meter.create_counter("kt.llm.tokens", unit="{token}")
        self.llm_calls = meter.create_counter("kt.llm.calls", unit="{call}")
        self.tool_calls = meter.create_counter("kt.tool.calls", unit="{call}")
        self.errors = meter.create_counter("kt.errors", unit="{error}")
        self.turns = meter.create_counter("kt.turns", unit="{turn}")
        self.llm_duration = meter.create_histogram("kt.llm.duration", unit="s")
        self.tool_duration = meter.create_histogram("kt.tool.duration", unit="s")
        self.turn_duration = meter.create_histogram("kt.turn.duration", unit="s")

    # -- Turns ---------------------------------------------------------------------------------

    @kt.hookimpl
    def kt_turn_started(self, ctx: kt.TurnContext) -> None:
        """Open the turn span."""
        span = self.tracer.start_span(
            "kt.turn",
            attributes={"kt.creature": ctx.creature.name, "kt.turn_index": ctx.turn_index},
        )
        ctx.stash[_turn_span] = span
        ctx.stash[_turn_started] = time.monotonic()

    @kt.hookimpl
    def kt_turn_ended(self, ctx: kt.TurnContext, result: TurnResult) -> None:
        """Close the turn span (and any step the turn left open); count the turn."""
        attributes = {"kt.creature": ctx.creature.name, "kt.status": result.status}
        for spans in (
            ctx.stash.setdefault(_tool_spans, {}),
            ctx.stash.setdefault(_subagent_spans, {}),
        ):
            for span, _ in spans.values():  # steps the turn ended without finishing
                _end(span, error="the turn ended before this step finished")
        llm_span = ctx.stash.get(_llm_span, None)
        if llm_span is not None:
            _end(llm_span, error="the turn ended before this model call finished")
        span = ctx.stash.get(_turn_span, None)
        if span is None:
            return
        span.set_attributes(
            {
                "kt.status": result.status,
                "kt.iterations": result.iterations,
                "kt.tokens.input": result.usage.prompt_tokens,
                "kt.tokens.output": result.usage.completion_tokens,
            }
        )
        failed = result.status not in ("completed", "max_iterations", "terminated")
        if failed:
            self.errors.add(1, {**attributes, "kt.step": "turn"})
        _end(span, error=str(result.error or result.status) if failed else None)
        self.turns.add(1, attributes)
        self.turn_duration.record(time.monotonic() - ctx.stash[_turn_started], attributes)

    # -- Model calls ---------------------------------------------------------------------------

    @kt.hookimpl
    def kt_pre_llm_call(self, request: LLMRequest, ctx: kt.TurnContext) -> None:
        """Open a model-call span under the turn."""
        ctx.stash[_llm_span] = self.tracer.start_span(
            "kt.llm_call",
            context=_parent(ctx),
            attributes={"kt.creature": ctx.creature.name, "kt.model": _model(request, ctx)},
        )
        ctx.stash[_llm_started] = time.monotonic()

    @kt.hookimpl
    def kt_post_llm_call(self, result: LLMResult, ctx: kt.TurnContext) -> None:
        """Close the model-call span; count calls and tokens."""
        span = ctx.stash.get(_llm_span, None)
        if span is None:
            return
        del ctx.stash[_llm_span]
        model = ctx.creature.llm_name
        attributes = {"kt.creature": ctx.creature.name, "kt.model": model}
        usage = result.usage
        span.set_attributes(
            {
                "kt.tokens.input": usage.prompt_tokens,
                "kt.tokens.output": usage.completion_tokens,
                "kt.tokens.cached": usage.cached_tokens,
                "kt.finish_reason": result.finish_reason,
                "kt.tool_calls": len(result.tool_calls),
            }
        )
        _end(span)
        for direction, count in (
            ("input", usage.prompt_tokens),
            ("output", usage.completion_tokens),
            ("cached", usage.cached_tokens),
        ):
            if count:
                self.tokens.add(count, {**attributes, "kt.direction": direction})
        self.llm_calls.add(1, attributes)
        self.llm_duration.record(time.monotonic() - ctx.stash[_llm_started], attributes)

    # -- Tool calls ----------------------------------------------------------------------------

    @kt.hookimpl
    def kt_pre_tool_call(self, call: ToolCall, ctx: kt.TurnContext) -> None:
        """Open a tool-call span under the turn."""
        span = self.tracer.start_span(
            "kt.tool_call",
            context=_parent(ctx),
            attributes={"kt.creature": ctx.creature.name, "kt.tool": call.name},
        )
        ctx.stash.setdefault(_tool_spans, {})[call.id] = (span, time.monotonic())

    @kt.hookimpl
    def kt_post_tool_call(self, call: ToolCall, result: ToolResult, ctx: kt.TurnContext) -> None:
        """Close the tool-call span; count the call and any error."""
        span, started = ctx.stash.setdefault(_tool_spans, {}).pop(call.id, (None, 0.0))
        if span is None:
            return
        status = "ok" if result.error is None else "error"
        attributes = {"kt.creature": ctx.creature.name, "kt.tool": call.name, "kt.status": status}
        span.set_attribute("kt.status", status)
        _end(span, error=result.error)
        if result.error is not None:
            self.errors.add(1, {**attributes, "kt.step": "tool"})
        self.tool_calls.add(1, attributes)
        self.tool_duration.record(time.monotonic() - started, attributes)

    # -- Sub-agents ----------------------------------------------------------------------------

    @kt.hookimpl
    def kt_pre_subagent(self, name: str, task: str, ctx: kt.TurnContext) -> None:
        """Open a sub-agent span under the turn."""
        span = self.tracer.start_span(
            "kt.subagent",
            context=_parent(ctx),
            attributes={"kt.creature": ctx.creature.name, "kt.subagent": name},
        )
        ctx.stash.setdefault(_subagent_spans, {}).setdefault(name, (span, time.monotonic()))

    @kt.hookimpl
    def kt_post_subagent(self, name: str, result: TurnResult, ctx: kt.TurnContext) -> None:
        """Close the sub-agent span."""
        span, _ = ctx.stash.setdefault(_subagent_spans, {}).pop(name, (None, 0.0))
        if span is None:
            return
        span.set_attributes({"kt.status": result.status, "kt.iterations": result.iterations})
        failed = result.status != "completed"
        _end(span, error=str(result.error or result.status) if failed else None)


def _parent(ctx: kt.TurnContext) -> Any:
    from opentelemetry import trace

    span = ctx.stash.get(_turn_span, None)
    return trace.set_span_in_context(span) if span is not None else None


def _model(request: LLMRequest, ctx: kt.TurnContext) -> str:
    return request.model or ctx.creature.llm_name


def _end(span: Any, *, error: str | None = None) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, error) if error else Status(StatusCode.OK))
    span.end()


def _otlp_providers(service_name: str, endpoint: str) -> tuple[Any, Any]:
    """SDK providers exporting to *endpoint* over OTLP/HTTP."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise kt.errors.ConfigError(
            f"an OTLP endpoint is configured ({endpoint}) but the exporter is not installed "
            f"({exc}); install it with pip install 'kt-terrarium[otel]'"
        ) from exc
    base = endpoint.rstrip("/")
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics"))
    return tracer_provider, MeterProvider(resource=resource, metric_readers=[reader])


@kt.hookimpl
def kt_module_aliases() -> Mapping[str, str]:
    return {"kt_biome.plugins.otel_metrics:OTelMetricsPlugin": "kt_otel:Telemetry"}
