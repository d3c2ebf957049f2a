"""Whether a host ran this portplan's engine: the collection's modules report the portplan
version of the engine they carry, and the results of any other engine decide nothing here
(an older collection installed with ansible-galaxy still returns records that parse)."""

from __future__ import annotations

from portplan._version import __version__

__all__ = ["ENGINE_VERSION", "INSTALL", "other_engine"]

#: the key the modules report their engine's version under (probe's result, listen's ready
#: file)
ENGINE_VERSION = "engine_version"
#: how to put this portplan's collection where Ansible finds it
INSTALL = (
    f"install portplan {__version__}'s own collection on the controller: ansible-galaxy "
    "collection install --force ./ansible_collections/portplan/portplan, from portplan "
    f"{__version__}'s source (docs/ansible.md)"
)
#: characters of a reported version that are shown
_SHOWN = 40


def other_engine(reported: object) -> str | None:
    """Why an engine that reported ``reported`` as its version is not this portplan's
    (naming both versions), or None when it is."""
    if reported == __version__:
        return None
    ours = f"this is portplan {__version__}"
    if reported is None:
        return (
            "ran a collection portplan.portplan too old to say which portplan's engine it "
            f"carries, and {ours}"
        )
    shown = str(reported) if isinstance(reported, str) else repr(reported)
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    return f"ran the collection portplan.portplan of portplan {shown}, and {ours}"
