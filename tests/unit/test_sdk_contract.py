"""The SDK private APIs the tap relies on, with why, in one place; each is checked against the
pinned singer-sdk, so an upgrade that moves one fails here rather than in a sync.

The tap wraps the SDK's `@final` `Stream.sync` (tap_zohocrm/client.py: a resumable STATE however
a stream ends, refusals that skip it; streams/org.py SettingsStream: org metadata not due is not
read): both rely on it running the stream's sync and raising through, so its source is pinned too.

The tap also replaces `Tap.sync_all` (sync/parallel_modules.py follows it step for step to sync
module streams side by side): a change to the SDK's own `sync_all` must be read and carried
over, so its source is pinned by hash.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect

import pytest
from singer_sdk import RESTStream, Stream, Tap

# (owner, attribute, why the tap uses it)
PRIVATE_APIS = [
    (Tap, "_reset_state_progress_markers", "parallel modules: sync_all's first step"),
    (Tap, "_set_compatible_replication_methods", "parallel modules: sync_all's second step"),
    (Tap, "_state_writer", "parallel modules: the STATE that sync_all writes first"),
    (Tap, "_validate_config", "settings: empty values unset, numbers from text, defaults"),
    (Tap, "_handle_termination", "SIGTERM and SIGINT stop the run (sync/stop.py): the SDK "
     "installs it as the handler of both signals"),
    (Stream, "_increment_stream_state", "state changes under the run's lock; Bulk Read rows "
     "never move the bookmark"),
    (Stream, "_write_state_message", "STATE messages under the run's lock; export progress"),
    (Stream, "_write_starting_replication_value", "under the run's lock"),
    (Stream, "_finalize_state", "under the run's lock"),
    (Stream, "_sync_records", "records for the tap's own BATCH files"),
    (Stream, "_tap", "BATCH output: a STATE is the last one the tap's writer wrote, with the "
     "stream's own entry changed"),
    (Stream, "_generate_record_messages", "record messages without the per-record "
     "deselected-property pass when nothing is deselected"),
    (Stream, "_write_activate_version_message", "ACTIVATE_VERSION after a module's full "
     "read (deleted_id_check_hours)"),
    (RESTStream, "_write_request_duration_log", "the METRIC line of a request the SDK's page "
     "loop sends through ZohoApi"),
    (RESTStream, "_prepare_request", "the module stream's own page loop"),
]
PRIVATE_MODULE_APIS = [
    ("singer_sdk.plugin_base", "_ConfigInput", "--plan builds the tap as invoke() does"),
    ("singer_sdk.helpers._batch", "BatchConfig", "BATCH files written by the tap"),
    ("singer_sdk.helpers._batch", "BaseBatchFileEncoding", "BATCH files written by the tap"),
    ("singer_sdk.helpers._batch", "StorageTarget", "BATCH files written by the tap"),
    ("singer_sdk.helpers._catalog", "pop_deselected_record_properties", "record messages"),
    ("singer_sdk.helpers._util", "utc_now", "record messages"),
]
# sha256 of inspect.getsource(singer_sdk.Stream.sync) in the pinned SDK.
STREAM_SYNC_SHA256 = "6b4262dcdddf22b403b9a06533e1184256199e09fb1bde3cf5bb063e8ae146c4"
# sha256 of inspect.getsource(singer_sdk.Tap.sync_all) in the pinned SDK.
SYNC_ALL_SHA256 = "e4412393757b4cdc422ba4982705b0a06dfaf80ce249160aa9ab2a81cd7c00b5"


@pytest.mark.parametrize(("owner", "name", "why"), PRIVATE_APIS,
                         ids=[f"{o.__name__}.{n}" for o, n, _ in PRIVATE_APIS])
def test_sdk_private_attribute_exists(owner: type, name: str, why: str) -> None:
    assert hasattr(owner, name) or name in inspect.signature(owner.__init__).parameters \
        or name in inspect.getsource(owner), f"{owner.__name__}.{name} is gone ({why})"


@pytest.mark.parametrize(("module", "name", "why"), PRIVATE_MODULE_APIS,
                         ids=[f"{m}.{n}" for m, n, _ in PRIVATE_MODULE_APIS])
def test_sdk_private_module_member_exists(module: str, name: str, why: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone ({why})"


def test_sdk_installs_handle_termination_as_the_stop_signals_handler() -> None:
    source = inspect.getsource(Tap._setup_signal_handlers)
    for name in ("SIGINT", "SIGTERM"):
        assert f"signal.signal(signal.{name}, self._handle_termination)" in source, source


def test_sdk_sync_all_is_the_one_parallel_modules_follows() -> None:
    source = inspect.getsource(Tap.sync_all)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == SYNC_ALL_SHA256, (
        "singer-sdk's Tap.sync_all changed: carry the change over to "
        "tap_zohocrm/sync/parallel_modules.py, then update SYNC_ALL_SHA256.\n" + source)


def test_sdk_stream_sync_is_the_one_the_tap_wraps() -> None:
    source = inspect.getsource(Stream.sync)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == STREAM_SYNC_SHA256, (
        "singer-sdk's Stream.sync changed: check ZohoStream.sync (tap_zohocrm/client.py) and "
        "SettingsStream.sync (streams/org.py) still wrap it right, then update "
        "STREAM_SYNC_SHA256.\n" + source)
