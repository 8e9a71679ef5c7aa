from eda_lake.shared import trace_context
from eda_lake.shared.trace_context import (
    FILE_SOURCE,
    TraceContext,
    child_context,
    file_context,
    parse,
    root_context,
)


def test_a_root_context_is_derived_from_the_event_and_reads_back():
    first = root_context("/teams/customer", "e-1")
    assert first == root_context("/teams/customer", "e-1")  # sent again: the same context
    assert first.parent_span_id is None and first.tracestate() is None
    assert parse(first.traceparent()) == first
    assert first.traceparent() == f"00-{first.trace_id}-{first.span_id}-01"
    assert first != root_context("/teams/customer", "e-2")


def test_a_reaction_continues_its_causes_trace_with_the_cause_as_parent():
    cause = root_context("/teams/customer", "e-1")
    reaction = child_context(cause, "/teams/conversions", "r-1")
    assert reaction.trace_id == cause.trace_id
    assert reaction.span_id not in (cause.span_id, None)
    assert reaction.parent_span_id == cause.span_id
    assert parse(reaction.traceparent(), reaction.tracestate()) == reaction
    # A cause with no context (a foreign producer's event) starts a trace of its own.
    assert child_context(None, "/teams/conversions", "r-1") == root_context(
        "/teams/conversions", "r-1"
    )


def test_foreign_and_malformed_headers_give_no_context_and_never_raise():
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    assert parse(f"00-{trace}-{span}-01") == TraceContext(trace, span)
    assert parse(f"00-{trace.upper()}-{span}-00", "vendor=x,edalake=0123456789abcdef") == (
        TraceContext(trace, span, "0123456789abcdef")
    )
    assert parse(f"01-{trace}-{span}-01-future") == TraceContext(trace, span)  # newer version
    bad = [None, "", "garbage", f"00-{'0' * 32}-{span}-01", f"00-{trace}-{'0' * 16}-01"]
    bad += [f"ff-{trace}-{span}-01", f"00-{trace}-{span}-01-extra", f"00-{trace[:-1]}-{span}-01"]
    for header in bad:
        assert parse(header) is None
    context = parse(f"00-{trace}-{span}-01", "edalake=not-a-span")
    assert context is not None and context.parent_span_id is None


def test_an_all_zero_digest_is_never_produced():
    assert trace_context._hex("span", "s", "e", 16).strip("0")


def test_a_file_has_a_root_context_of_its_own_by_name() -> None:
    context = file_context("p1-00001-20261101.csv")
    assert context == root_context(FILE_SOURCE, "p1-00001-20261101.csv")
    assert context.parent_span_id is None
    assert context != file_context("p1-00002-20261101.csv")
