"""The model an app serves now, and how it changes between requests.

:meth:`ModelSlot.install` starts the new model's engine, makes it the one new requests get, and
retires the old one: requests already running finish on it, then its engine stops. No request
sees two models. :class:`ModelFollower` polls a registry reference (``models:/NAME@champion``)
and installs the version it comes to name, loading it in the background.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kedro_gpt.model.bundle import ModelBundle
from kedro_gpt.serving.metrics import Metrics
from kedro_gpt.serving.served import Served, model_version
from kedro_gpt.serving.settings import ServerSettings

logger = logging.getLogger(__name__)


class ModelSlot:
    """Hands each request the current :class:`Served`; swaps it atomically."""

    def __init__(self, bundle: ModelBundle, settings: ServerSettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._lock = threading.Lock()
        self.current = Served(bundle, settings, metrics)
        metrics.model_info.labels(self.current.version).set(1)

    def start(self) -> None:
        self.current.engine.start()

    def stop(self) -> None:
        self.current.engine.stop()

    def acquire(self) -> Served:
        with self._lock:
            served = self.current
            served.acquire()
        return served

    def install(self, bundle: ModelBundle) -> Served:
        """Serve ``bundle`` from the next request on; returns the new :class:`Served`."""
        new = Served(bundle, self.settings, self.metrics)
        new.engine.start()
        with self._lock:
            old, self.current = self.current, new
        old.retire()
        if old.version != new.version:
            self.metrics.model_info.remove(old.version)
        self.metrics.model_info.labels(new.version).set(1)
        self.metrics.model_switches.inc()
        logger.info("now serving version %r (was %r)", new.version, old.version)
        return new


@dataclass
class ModelFollower:
    """Keeps ``slot`` on the model ``load`` returns whenever ``version`` (cheap: one registry
    query) names another version than the one served; checks every ``interval_s`` seconds in a
    background thread, and on demand (:meth:`check`, the admin reload)."""

    slot: ModelSlot
    load: Callable[[], ModelBundle]
    version: Callable[[], str] | None = None  # None: load to find out (a catalog reference)
    interval_s: float = 30.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # one load at a time
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def check(self, force: bool = False) -> dict[str, object]:
        """Install the reference's model if it changed (or ``force``); what happened."""
        with self._lock:
            served = self.slot.current.version
            wanted = self.version() if self.version is not None and not force else None
            if wanted is not None and wanted == served:
                return {"version": served, "changed": False}
            bundle = self.load()
            found = model_version(bundle)
            if found == served and not force:
                return {"version": served, "changed": False}
            self.slot.install(bundle)
            return {"version": found, "changed": True, "previous": served}

    def start(self) -> None:
        if self.version is None or self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._poll, name="kedro-gpt-follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stopping.wait(self.interval_s):
            try:
                self.check()
                self.last_error = None
            except Exception as err:  # a registry or model error: keep serving the old one
                error = f"{type(err).__name__}: {err}"
                if error != self.last_error:  # once per new error, not every interval
                    logger.warning("could not follow the model reference: %s", error)
                self.last_error = error
