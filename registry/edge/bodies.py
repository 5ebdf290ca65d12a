"""The request body limit, MAX_CONTENT_LENGTH, held for every body: sized or chunked.

Werkzeug refuses a Content-Length over the limit before reading anything. A chunked body
has no length: the server decodes the chunks and marks the stream as ending on its own
(`wsgi.input_terminated`), and werkzeug then reads it up to the limit and stops there,
as if the body had ended. A 9 MB import was so cut at 8 MiB and reported as a success.
Here the stream looks one byte past the limit: a body that goes on is a 413
(RequestEntityTooLarge, answered in `problems` like any other), whichever reader meets
it first — `get_data`, the form parser, a file field or `request.stream`.
"""

from typing import IO, cast

from flask import Flask, Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream


class _AtMost(LimitedStream):
    """A stream of at most `limit` bytes that refuses, rather than cuts, a longer one."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._ended = False

    def readinto(self, b: bytearray) -> int | None:  # type: ignore[override]
        size = super().readinto(b)
        if self.is_exhausted and not self._ended:
            # The limit reached: the body must end here, or it is too large.
            if self._stream.read(1):
                raise RequestEntityTooLarge()
            self._ended = True
        return size

    def on_exhausted(self) -> None:
        if not self._ended:  # a body of exactly `limit` bytes may be read to its end
            super().on_exhausted()


class BoundedRequest(Request):
    """Flask's request, whose stream refuses a body longer than `max_content_length`."""

    @cached_property
    def stream(self) -> IO[bytes]:
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True'.")
        limit = self.max_content_length
        # werkzeug's own: a Content-Length over the limit is a 413 before any read, and a
        # stream the server does not terminate is read to its Content-Length only.
        stream = get_input_stream(self.environ, max_content_length=limit)
        if limit is None or "wsgi.input_terminated" not in self.environ:
            return stream
        return cast(IO[bytes], _AtMost(self.environ["wsgi.input"], limit))


def init_app(app: Flask) -> None:
    """Make every request of `app` a `BoundedRequest`."""
    app.request_class = BoundedRequest
