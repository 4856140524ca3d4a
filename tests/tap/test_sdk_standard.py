"""The SDK's standard tap tests, pointed at a simulator started for this module."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_zohocrm.tap import TapZohoCRM
from tests.helpers import tap_config
from zoho_simulator import Simulator

_SIM = Simulator(seed=21, sizes={"Leads": 120, "Contacts": 60, "Accounts": 40}).start(port=0)
atexit.register(_SIM.stop)

TestTapZohoCRM = get_tap_test_class(
    tap_class=TapZohoCRM,
    config=tap_config(_SIM, modules=["Leads", "Contacts", "Accounts", "Shipments", "Price_Books"],
                      attachment_modules=["Leads"]),
    suite_config=SuiteConfig(max_records_limit=100),
    parse_env_config=False,
)
