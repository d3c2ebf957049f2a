"""Where a host stands for pods of a Kubernetes cluster, in the names Kubernetes accepts.

A namespace is a DNS label (RFC 1123: lower-case letters, digits and ``-``, at most 63); a label
key an optional DNS subdomain prefix and ``/`` before a name of at most 63 letters, digits, ``-``,
``_`` and ``.``; a label value such a name or empty (Kubernetes' "Object Names and IDs" and
"Labels and Selectors").  The API server refuses anything else when the policy is applied, so
the deployment refuses it where it is written.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from portplan.model._types import MODEL_CONFIG, Identifier

__all__ = ["NAMESPACE_PATTERN", "Kubernetes", "is_object_name"]

#: a namespace: an RFC 1123 DNS label
NAMESPACE_PATTERN = r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$"
#: an object's name (a NetworkPolicy's) or a label key's prefix: an RFC 1123 DNS subdomain,
#: labels of lower-case letters, digits and '-' that start and end with a letter or digit,
#: joined by dots (at most 253 characters: :func:`is_object_name`)
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def is_object_name(name: str) -> bool:
    """Whether Kubernetes takes ``name`` as an object's name (a DNS subdomain)."""
    return len(name) <= 253 and _DNS_SUBDOMAIN.match(name) is not None


def _label_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if (slash and not is_object_name(prefix)) or not _LABEL_NAME.match(name):
        raise ValueError(
            f"{key!r} is not a valid Kubernetes label key: a name of at most 63 letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit, "
            "optionally after a DNS subdomain prefix and '/' (example.com/app)"
        )
    return key


def _label_value(value: str) -> str:
    if value and not _LABEL_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes label value: at most 63 letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit"
        )
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]


class Kubernetes(BaseModel):
    """Where a host stands for pods in a Kubernetes cluster (for NetworkPolicy output)."""

    model_config = MODEL_CONFIG

    cluster: Identifier = Field(description="a name for the cluster; one policy file each")
    namespace: str = Field(
        pattern=NAMESPACE_PATTERN,
        description="the pods' namespace: lower-case letters, digits and '-', at most 63",
    )
    pod_labels: dict[LabelKey, LabelValue] = Field(
        min_length=1, description="labels that select the pods"
    )
