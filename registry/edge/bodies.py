"""The request body limit, MAX_CONTENT_LENGTH, held for every body: sized or chunked.

Werkzeug refuses a Content-Length over the limit before reading anything. A chunked body
has no length: the server decodes the chunks and marks the stream as ending on its own
(`wsgi.input_terminated`), and werkzeug then reads it up to the limit and stops there,
as if the body had ended. A 9 MB import was so cut at 8 MiB and reported as a success.
Here the stream looks one byte past the limit: a body that goes on is a 413
(RequestEntityTooLarge, answered in `problems` like any other), whichever reader meets
it first — `get_data`, the form parser, a file field or `request.stream`.

A request that carries a photo (a view marked `uploads`) may be larger, up to
UPLOAD_MAX_BODY: a phone's photo is taken as it is and scaled down, and one too large
for PHOTO_MAX_BYTES is still read past, so that its form comes back with what was typed.
"""

from collections.abc import Callable
from typing import IO, cast

from flask import Flask, Request, current_app, request
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


_UPLOADS: set[Callable] = set()


def uploads(view: Callable) -> Callable:
    """Mark a view as one that takes a photo: its body may be up to UPLOAD_MAX_BODY."""
    _UPLOADS.add(view)
    return view


def _takes_photo() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    while view is not None:
        if view in _UPLOADS:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def init_app(app: Flask) -> None:
    """Make every request of `app` a `BoundedRequest`, and let a request that carries a
    photo be as large as UPLOAD_MAX_BODY."""
    app.request_class = BoundedRequest

    @app.before_request
    def _photo_bodies() -> None:
        if request.method in ("POST", "PUT") and _takes_photo():
            request.max_content_length = current_app.config["UPLOAD_MAX_BODY"]
