"""Singer message output: msgspec encoding, one flush per STATE instead of per record.

The SDK's writers flush stdout after every message (a syscall per record). Records need no
flush of their own: every STATE flushes all that came before it, so a killed run never emits a
STATE that covers records it did not write out.
"""

from __future__ import annotations

import sys
import threading

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

    @override
    def write_message(self, message: Message) -> None:
        out = sys.stdout.buffer
        with self._lock:
            out.write(self.format_message(message))
            if message.type != SingerMessageType.RECORD:
                out.flush()
