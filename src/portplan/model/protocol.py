"""The transport protocol of a flow: the one model type the prober needs.

Standard library only, so the prober can be bundled into the Ansible collection
(``scripts/build-collection.py``) and run on a managed host that has nothing but Python.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Protocol"]


class Protocol(StrEnum):
    """Transport protocol of a flow."""

    TCP = "tcp"
    UDP = "udp"
