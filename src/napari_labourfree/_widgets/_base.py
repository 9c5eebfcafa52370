"""What every dock widget shares: one job at a time in a worker, progress, cancel, errors,
and result layers that replace only the plugin's own."""

from __future__ import annotations

from collections.abc import Callable

from magicgui.widgets import Container, Label, ProgressBar, PushButton, Select, Widget
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info

from ._help import help_url, tooltip_for

TAG = "napari_labourfree"


def _drive(job):
    """Run a job in the worker thread: its yields become the worker's ``yielded`` signal."""
    return (yield from job)


def show_layer(viewer, data, name: str, kind: str = "image", **kwargs):
    """Add a layer, or refresh the one this plugin made earlier under ``name``.

    Only layers the plugin created (tagged in ``metadata``) are replaced; a user's layer of
    the same name is left alone and the new one gets a unique name from napari. A plugin
    layer whose dimensionality changed is replaced rather than refreshed.
    """
    index = None
    if name in viewer.layers:
        layer = viewer.layers[name]
        if layer.metadata.get(TAG) and layer._type_string == kind:
            if layer.data.ndim == getattr(data, "ndim", None):
                layer.data = data
                for key in ("scale", "translate", "units", "features"):
                    if key in kwargs:
                        setattr(layer, key, kwargs[key])
                return layer
            index = viewer.layers.index(layer)
            viewer.layers.remove(layer)
    add = getattr(viewer, f"add_{kind}")
    metadata = {TAG: True, **kwargs.pop("metadata", {})}
    layer = add(data, name=name, metadata=metadata, **kwargs)
    if index is not None:  # replaced: keep its place in the user's layer order
        viewer.layers.move(viewer.layers.index(layer), index)
    return layer


class JobWidget(Container):
    """A magicgui Container with a progress bar, a status line and a Cancel button.

    Subclasses pass their own widgets (attached as attributes by name) and list the buttons
    that start jobs in ``action_buttons``; those are disabled while a job runs, so two jobs
    of one widget never run at once.
    """

    title = "napari-labourfree"

    def __init__(self, viewer, parts: dict[str, Widget], action_buttons: list[str],
                 sections: dict[str, list[str]] | None = None):
        object.__setattr__(self, "_viewer", viewer)  # layer choices may ask for it early
        for name, part in parts.items():  # every field explains itself
            if not getattr(part, "tooltip", None) and tooltip_for(self.title, name):
                part.tooltip = tooltip_for(self.title, name)
        parts = {**parts, "cancel": PushButton(text="Cancel", enabled=False),
                 "progress": ProgressBar(value=0, min=0, max=1, label="progress"),
                 "status": Label(value=""),
                 "help": PushButton(text="Help", tooltip=f"open the {self.title} page of "
                                    "the documentation in a browser")}
        sections = sections or {}
        folded = {name for names in sections.values() for name in names}
        # Cancel and Help share one row under the progress bar
        row = Container(widgets=[parts["cancel"], parts["help"]], layout="horizontal",
                        labels=False)
        row.native.layout().setContentsMargins(0, 0, 0, 0)
        shown = [p for n, p in parts.items() if n not in folded and n not in ("cancel", "help")]
        super().__init__(widgets=[*shown[:-2], row, *shown[-2:]])  # ..., row, progress, status
        # magicgui containers own names such as `width`/`height`: attach after __init__.
        for name, part in parts.items():
            object.__setattr__(self, name, part)
        object.__setattr__(self, "fields", dict(parts))  # every part, folded or not
        for part in parts.values():  # layer lists: a few rows, not half the screen
            if isinstance(part, Select):
                part.native.setMaximumHeight(72)
        self._sections = self._fold(parts, sections)
        self._worker = None
        self._closed = False
        self.native.destroyed.connect(self._on_destroyed)
        self._action_buttons = action_buttons
        self.cancel.changed.connect(self._cancel)
        self.help.changed.connect(self._open_help)
        # Layer pickers follow the viewer (napari does this too once the widget is docked).
        for event in ("inserted", "removed", "reordered"):
            getattr(viewer.layers.events, event).connect(self.reset_choices)
        Container.reset_choices(self)  # the subclass may not be fully built yet

    def _fold(self, parts: dict, sections: dict[str, list[str]]) -> list[Container]:
        """Put each section's parts in a collapsed box where its first part would be, so
        the dock stays short: advanced options are one click away."""
        from superqt import QCollapsible

        order = list(parts)
        folded = {name for names in sections.values() for name in names}
        boxes = []
        for title, names in sections.items():
            inner = Container(widgets=[parts[n] for n in names])
            inner.native.layout().setContentsMargins(0, 0, 0, 0)
            box = QCollapsible(title)
            box.layout().setContentsMargins(0, 0, 0, 0)
            box.content().layout().setContentsMargins(12, 0, 0, 0)  # indented under its title
            box.addWidget(inner.native)
            box.collapse(animate=False)
            first = order.index(names[0])
            before = sum(1 for n in order[:first] if n not in folded)
            before += sum(1 for t, ns in sections.items()
                          if t != title and order.index(ns[0]) < first)
            self.native.layout().insertWidget(before, box)
            object.__setattr__(inner, "box", box)
            boxes.append(inner)
        return boxes

    def reset_choices(self, *args) -> None:
        super().reset_choices(*args)
        for inner in self.__dict__.get("_sections", []):
            inner.reset_choices(*args)

    def layers_of(self, kind: str):
        """A magicgui ``choices`` callable: the viewer's layers of ``kind`` ("image", ...)."""
        def choices(_widget):
            viewer = self.__dict__.get("_viewer")  # may run before __init__ has finished
            if viewer is None:
                return []
            return [(layer.name, layer) for layer in viewer.layers
                    if layer._type_string == kind]

        return choices

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def error(self, message) -> None:
        show_error(f"{self.title}: {message}")

    def _open_help(self) -> None:
        import webbrowser

        webbrowser.open(help_url(self.title))

    def _while_open(self, slot: Callable) -> Callable:
        """``slot``, skipped once the dock is closed (a job may end after napari closes
        the widget; its Qt parts are gone by then)."""
        def guarded(*args):
            if not self._closed:
                return slot(*args)
            return None

        return guarded

    def _on_destroyed(self, *_) -> None:
        self._closed = True
        if self._worker is not None:
            self._worker.quit()

    def run_job(self, job, on_done: Callable, message: str,
                on_event: Callable | None = None) -> None:
        """Start ``job`` in a worker; ``on_done(result)`` runs in the GUI thread."""
        # Errors are shown once, as a plain message (no re-raise, no traceback dialog).
        worker = thread_worker(_drive, start_thread=False, ignore_errors=True)(job)
        try:  # napari's own relay would show the same error a second time, with a traceback
            worker.errored.disconnect(worker._relay_error)
        except (AttributeError, TypeError, RuntimeError):
            pass
        alive = self._while_open
        worker.yielded.connect(alive(self._on_progress))
        if on_event is not None:
            worker.yielded.connect(alive(on_event))
        worker.returned.connect(alive(on_done))
        worker.errored.connect(alive(self.error))
        worker.errored.connect(alive(lambda err: self._ended(f"failed: {err}")))
        # The worker stops iterating on quit() but does not close the job; closing it lets
        # a training job save its checkpoint (this runs in the worker thread, between steps).
        worker.aborted.connect(job.close)
        worker.aborted.connect(alive(lambda: show_info(f"{self.title}: cancelled")))
        worker.aborted.connect(alive(lambda: self._ended("cancelled")))
        worker.finished.connect(alive(self._on_finished))
        self._worker = worker
        self._set_running(True)
        self.status.value = message
        worker.start()

    def _cancel(self) -> None:
        if self._worker is not None:
            self.status.value = "cancelling after the current step..."
            self._worker.quit()

    def _set_running(self, running: bool) -> None:
        for name in self._action_buttons:
            getattr(self, name).enabled = not running
        self.cancel.enabled = running
        if running:
            self.progress.max, self.progress.value = 1, 0
        else:
            self.update_buttons()

    def update_buttons(self) -> None:
        """Subclasses disable actions whose inputs are missing (called when idle)."""

    def _on_progress(self, event) -> None:
        self.progress.max = max(event.total, 1)
        self.progress.value = min(event.step, self.progress.max)
        text = event.message
        if event.losses:
            text += "  " + "  ".join(f"{k} {v:.3g}" for k, v in event.losses.items())
        self.status.value = text

    def _ended(self, message: str) -> None:
        """A job that did not finish: the status says so and the progress goes back to 0."""
        self.status.value = message
        self.progress.max, self.progress.value = 1, 0

    def _on_finished(self) -> None:
        self._worker = None
        self._set_running(False)
