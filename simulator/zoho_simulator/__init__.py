"""Zoho CRM REST API simulator (OAuth, metadata, Get Records, Bulk Read) for testing
tap-zohocrm."""

from .simulator import Simulator

__all__ = ["Simulator"]
