"""Plain-Python events for the explorer's models (napari style, no Qt): `events.<name>` is an
Event; `connect(callback)`, `disconnect(callback)`, `emit(*args)`."""


class Event:
    """A list of callbacks."""

    def __init__(self):
        self._callbacks = []

    def connect(self, callback):
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback):
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args):
        for callback in list(self._callbacks):
            callback(*args)


class Events:
    """A model's events, by name."""

    def __init__(self, *names):
        self.names = tuple(names)
        for name in names:
            setattr(self, name, Event())
