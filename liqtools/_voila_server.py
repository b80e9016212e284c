"""Voila as ``liqtools dashboard`` runs it: ``python -m liqtools._voila_server NOTEBOOK [voila options]``.

Two things plain Voila does not do: it switches jupyter_server's Host-header check back on (Voila turns
``allow_remote_access`` on unconditionally, which leaves a local server open to DNS rebinding), and it caps
the kernels running at once (each open dashboard tab is a Python process of its own), answering 503 past
the cap. Imported only in that subprocess: it needs Voila.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer
from voila.app import Voila

__all__ = ["CappedKernelManager", "LocalVoila", "main"]


class CappedKernelManager(AsyncMappingKernelManager):
    """Refuses to start a kernel while ``max_kernels`` are running (HTTP 503)."""

    max_kernels = Integer(8, config=True, help="most kernels running at once (one per open dashboard page)")

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if len(self.list_kernel_ids()) >= self.max_kernels:
            raise web.HTTPError(503, f"{self.max_kernels} dashboards are open: close one and reload")
        return await super().start_kernel(*args, **kwargs)


class LocalVoila(Voila):
    """Voila with the Host-header check on and a cap on concurrent kernels."""

    max_kernels = Integer(8, config=True, help="most kernels running at once (one per open dashboard page)")

    def init_settings(self) -> dict:
        settings = super().init_settings()
        settings["allow_remote_access"] = False  # check the Host header: only loopback names and addresses
        settings["local_hostnames"] = ["localhost"]
        self.kernel_manager.max_kernels = self.max_kernels
        return settings


def main() -> None:  # pragma: no cover - runs in the dashboard's subprocess
    argv_extra = ["--VoilaConfiguration.multi_kernel_manager_class=liqtools._voila_server.CappedKernelManager"]
    import sys

    LocalVoila.launch_instance(argv=sys.argv[1:] + argv_extra)


if __name__ == "__main__":  # pragma: no cover
    main()
