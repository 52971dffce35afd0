"""Screenshots of each settings tab, for the README (called by ``scripts/screenshots.py``).

``settings_screenshots(context, folder)`` takes an admin's signed-in context on
a demo floor, opens the dialog at 1280×800, and saves one PNG per tab. Two
tabs are shown mid-edit, because that is where they have something to say:
the Pools tab with a weighted pool's shares not adding up, and the Email
templates tab refusing an unknown merge field.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from salesdesk.ui.context import AppContext
from salesdesk.ui.manager.screenshots import SIZE, grab, settle


def settings_screenshots(context: AppContext, folder: Path) -> list[Path]:
    from salesdesk.ui.settings.settings_dialog import SettingsDialog

    dialog = SettingsDialog(context)
    dialog.resize(*SIZE)
    dialog.show()
    settle(context, lambda: dialog.snapshot is not None)
    paths = [grab(dialog, folder / "settings_rules.png")]

    dialog.tabs.setCurrentWidget(dialog.pools)
    pools = dialog.pools
    weighted = next((i for i, d in enumerate(pools.drafts) if d.routing == "weighted"), 0)
    pools.list.setCurrentRow(weighted)
    draft = pools.current
    if draft is not None and draft.members:
        first = next(iter(draft.members))
        spin = pools.share_spin(first)
        if spin is not None:
            spin.setValue(spin.value() + 10)  # the shares now add up to 110 %
    settle(context)
    paths.append(grab(dialog, folder / "settings_pools.png"))

    dialog.tabs.setCurrentWidget(dialog.users)
    users = dialog.users
    for row, d in enumerate(users.drafts):
        if d.role == "rep":
            users.list.setCurrentRow(row)
            break
    settle(context)
    paths.append(grab(dialog, folder / "settings_users.png"))

    dialog.tabs.setCurrentWidget(dialog.templates)
    templates = dialog.templates
    templates.select("confirmation")
    settle(context)
    paths.append(grab(dialog, folder / "settings_templates.png"))
    cursor = templates.body_text.textCursor()
    cursor.movePosition(cursor.MoveOperation.Start)
    templates.body_text.setTextCursor(cursor)
    templates.body_text.insertPlainText("Dear {{ frist_name }},\n")
    settle(context, lambda: bool(templates.messages["text"].message))
    templates.body_text.setFocus(Qt.FocusReason.OtherFocusReason)
    paths.append(grab(dialog, folder / "settings_templates_unknown_field.png"))

    dialog.tabs.setCurrentWidget(dialog.mail)
    settle(context)
    paths.append(grab(dialog, folder / "settings_mail.png"))
    dialog.reject()
    dialog.deleteLater()
    settle(context)
    return paths
