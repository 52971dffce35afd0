"""The PySide6 desktop client: windows, dialogs, Qt models and the task runner.

Talks to data only through ``salesdesk.services`` (never SQLAlchemy), and only
from the worker thread of :class:`salesdesk.ui.tasks.TaskRunner`.
"""
