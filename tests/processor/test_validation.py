"""Heart rate's usual samples are validated without the model (processor/validation.py): the
shortcut must only ever take what the model takes, with the same values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from myhealth.oura import models
from myhealth.processor.validation import usual_sample
from tests import fuzzing

_offsets = st.sampled_from(["Z", "+00:00", "-00:00", "+02:00", "-06:00", "+05:45", "+23:59",
                            "Z", "+00:00", "+24:00", "", "+0200", "+02:00:30"])  # fmt: skip
_fractions = st.sampled_from(["", "", "", ".5", ".123", ".123456", ".1234567", "."])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """Mostly valid ISO 8601 instants, and every way of being a little off."""
    year = draw(st.sampled_from([2021, 2024, 2000, 2100, 1999, 2101, 1970, 9999]))
    month = draw(st.sampled_from([1, 2, 6, 12, 12, 0, 13]))
    day = draw(st.sampled_from([1, 15, 28, 29, 30, 31, 0, 32]))
    hour = draw(st.sampled_from([0, 5, 12, 23, 23, 24]))
    minute = draw(st.sampled_from([0, 30, 59, 59, 60]))
    second = draw(st.sampled_from([0, 30, 59, 59, 60]))
    separator = draw(st.sampled_from(["T", "T", "T", "T", " ", "t"]))
    text = (
        f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
        f"{draw(_fractions)}{draw(_offsets)}"
    )
    return draw(st.sampled_from([text] * 6 + [text.lower(), " " + text, text + "x"]))


@st.composite
def usual_timestamps(draw: st.DrawFn) -> str:
    """Valid instants, at the edges of the accepted years too (2100-12-31 at -06:00 is 2101 in
    UTC, which the model refuses)."""
    moment = draw(st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 12, 31, 23, 59, 59)))
    fraction = draw(st.sampled_from(["", ".5", ".123", ".123456"]))
    offset = draw(st.sampled_from(["Z", "+00:00", "-00:00", "+02:00", "-06:00", "+05:45"]))
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + offset


_values = st.one_of(
    st.integers(-(2**40), 2**40), st.booleans(), st.floats(allow_nan=False), st.none(), st.text()
)


@st.composite
def samples(draw: st.DrawFn) -> Any:
    usual = draw(st.integers(0, 3)) > 0  # three in four: every field of the usual type
    sample: dict[str, Any] = {
        "timestamp": draw(usual_timestamps() if usual else timestamps() | _values),
        "bpm": draw(st.integers(30, 220) if usual else st.integers(-(2**33), 2**33) | _values),
        "source": draw(
            st.sampled_from(["rest", "awake", "workout", ""])
            if usual
            else st.sampled_from(["rest", ""]) | _values
        ),
    }
    if draw(st.booleans()):
        sample["timestamp_unix"] = draw(
            st.integers(0, 2**40) if usual else st.integers(0, 2**40) | _values
        )
    if draw(st.integers(0, 9)) == 0:
        sample[draw(st.sampled_from(["id", "extra", "day"]))] = draw(_values)
    if draw(st.integers(0, 9)) == 0:
        del sample[draw(st.sampled_from(sorted(sample)))]
    return draw(st.sampled_from([sample] * 6 + [[sample], "sample"]))


def model_answer(value: Any) -> tuple[dt.datetime, str, int] | None:
    try:
        sample = models.parse("heartrate", value)
    except models.InvalidDocument:
        return None
    assert isinstance(sample, models.Heartrate)
    return sample.timestamp, sample.source, sample.bpm


@settings(max_examples=fuzzing.examples(default=400, fuzz=20_000))
@given(samples())
def test_the_shortcut_takes_only_what_the_model_takes(value: Any) -> None:
    usual = usual_sample(value)
    if usual is None:
        return  # the model decides, as for every other document
    instant, row = usual
    assert model_answer(value) == (instant, row["source"], row["bpm"])
    assert dt.datetime.fromisoformat(row["timestamp"]) == instant
    assert -(2**31) <= row["bpm"] < 2**31


def test_the_shortcut_takes_the_usual_samples() -> None:
    usual = {"timestamp": "2024-05-01T10:05:00+00:00", "bpm": 61, "source": "awake"}
    taken = usual_sample({**usual, "timestamp_unix": 1714557900})
    assert taken is not None
    assert taken[0] == dt.datetime(2024, 5, 1, 10, 5, tzinfo=dt.UTC)
    assert usual_sample({**usual, "timestamp": "2024-05-01T10:05:00"}) is None  # naive: model
    assert usual_sample({**usual, "bpm": 61.0}) is None  # a float: the model decides
