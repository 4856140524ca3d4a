"""Singer message output: msgspec encoding, one flush per STATE instead of per record.

The SDK's writers flush stdout after every message (a syscall per record). Records need no
flush of their own: every STATE flushes all that came before it, so a killed run never emits a
STATE that covers records it did not write out.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.encoding.base import SingerMessageType
from singer_sdk.singerlib.encoding.simple import Message
from typing_extensions import override


class BufferedMsgSpecWriter(MsgSpecWriter):
    """MsgSpecWriter that flushes on every message but RECORD.

    One message at a time: the encoder reuses one buffer, and module streams may write from
    several threads (parallel_modules).
    """

    _lock = threading.Lock()
    _closed = False
    _last_state: bytes | None = None  # the last STATE message written, as written

    @override
    def write_message(self, message: Message) -> None:
        out = sys.stdout.buffer
        with self._lock:
            if self._closed:
                return
            line = self.format_message(message)
            out.write(line)
            if message.type != SingerMessageType.RECORD:
                out.flush()
            if message.type == SingerMessageType.STATE:
                self._last_state = bytes(line)  # the encoder reuses its buffer

    def last_state(self) -> dict[str, Any] | None:
        """The value of the last STATE message written (a copy), None before the first."""
        line = self._last_state
        return None if line is None else json.loads(line)["value"]

    def write_last(self, message: Message | None, timeout: float) -> None:
        """Write `message` (if any) and flush; every message after it is dropped, so the
        output of a stopped run ends with whole lines and its last STATE. Gives up on the
        message after `timeout` seconds waiting for a thread writing one of its own."""
        if not self._lock.acquire(timeout=timeout):
            self._closed = True
            return
        try:
            if message is not None and not self._closed:
                sys.stdout.buffer.write(self.format_message(message))
            sys.stdout.buffer.flush()
            self._closed = True
        finally:
            self._lock.release()
