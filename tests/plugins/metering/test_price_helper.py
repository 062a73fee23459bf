"""The price catalogue's helper process: the same answers as the catalogue read in this process,
and a helper that ends when the gateway lets it go."""

from __future__ import annotations

import asyncio
import datetime as dt

from plugins.metering import catalogue
from plugins.metering.price_helper import PriceBook, answer

TODAY = dt.date.today()


def test_blocking_answer_equals_the_catalogue_read_here() -> None:
    book = PriceBook()
    key = ("gemini", "", "gemini-2.5-pro", TODAY)           # long-context tiers: floats and thresholds
    got = book.lookup_blocking(key)
    assert got is not None and got.tiers
    assert got == catalogue.lookup(*key)
    assert book.label == catalogue.catalogue_label()
    assert book.lookup_blocking(("openai_compatible", "http://127.0.0.1:9/v1", "my-llama", TODAY)) is None


def test_a_failing_question_is_answered_with_an_error_not_a_dead_helper() -> None:
    assert "error" in answer("openai", "", "gpt-4o-mini", "not-a-date")


async def test_concurrent_first_sights_get_one_answer_and_close_ends_the_helper() -> None:
    book = PriceBook()
    key = ("openai", "", "gpt-4o-mini", TODAY)
    first, second = await asyncio.gather(book.lookup(key), book.lookup(key))
    assert first is not None and first == second == catalogue.lookup(*key)
    asker = book._asker
    assert asker is not None and asker.proc is not None
    proc = asker.proc
    await book.close()
    assert proc.returncode == 0                              # ended at EOF, not killed
