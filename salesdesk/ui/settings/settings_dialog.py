"""The admins' settings: Rules, Pools, Users, Email templates, Mail server.

Everything is read when the dialog opens and edited as a plan; nothing is
written until Save. Save checks every tab first (each message next to its
field), then applies the plan on the worker in one ordered run and announces
what changed — rules are read fresh by every service call, so every client
follows on its next click, without a restart. Cancel changes nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import jobs
from salesdesk.ui.context import LEADS, RULES, TEAM, AppContext
from salesdesk.ui.message_bar import ERROR, WARNING, MessageBar
from salesdesk.ui.settings import settings_work
from salesdesk.ui.settings.mail_tab import MailTab
from salesdesk.ui.settings.pools_tab import PoolsTab
from salesdesk.ui.settings.rules_tab import RulesTab
from salesdesk.ui.settings.settings_work import (
    ApplyResult,
    SettingsPlan,
    SettingsSnapshot,
    apply_settings,
    load_settings,
)
from salesdesk.ui.settings.templates_tab import TemplatesTab
from salesdesk.ui.settings.users_tab import UsersTab
from salesdesk.ui.tasks import TaskFailure


class SettingsDialog(QDialog):
    """Five tabs, Save and Cancel.

    Signals:
        loaded(): the settings were read and are on screen.
        saved(object): Save finished; the :class:`ApplyResult`.
    """

    loaded = Signal()
    saved = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.setWindowTitle("Settings")
        self.resize(1100, 720)
        self.snapshot: SettingsSnapshot | None = None
        self.discard_question: QMessageBox | None = None
        self.release_question: QMessageBox | None = None
        self.messages = MessageBar()
        self.rules = RulesTab()
        self.pools = PoolsTab(
            lambda: (int(self.rules.value("idle_days")), int(self.rules.value("keep_days")))
        )
        self.rules.working_days_changed.connect(self.pools.name_the_days)
        self.users = UsersTab(context.actor)
        self.templates = TemplatesTab(context, lambda: str(self.rules.value("company_name")))
        self.mail = MailTab(context)
        self.tabs = QTabWidget()
        for tab, title in (
            (self.rules, "Rules"),
            (self.pools, "Pools"),
            (self.users, "Users"),
            (self.templates, "Email templates"),
            (self.mail, "Mail server"),
        ):
            self.tabs.addTab(tab, title)
            tab.edited.connect(self._on_edited)
        self.tabs.setEnabled(False)
        self.state = QLabel("Reading the settings…")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.setEnabled(False)
        self.save_button.setToolTip("Apply every change, for everyone on the floor")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        bottom = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(self.tabs, 1)
        bottom.addWidget(self.state)
        layout.addLayout(bottom)
        layout.addWidget(self.buttons)
        self.reload()

    # --- loading ---

    def reload(self) -> None:
        self._context.run(
            load_settings,
            self._context.secrets,
            on_done=self._on_loaded,
            on_error=self._on_load_failed,
            key="settings.load",
        )

    def _on_loaded(self, snapshot: SettingsSnapshot) -> None:
        self.snapshot = snapshot
        self.rules.load(snapshot.rules, snapshot.rule_help)
        self.pools.load(snapshot.pools, snapshot.users, snapshot.pool_leads)
        held = dict(snapshot.held_leads)
        self.users.load(snapshot.users, held, snapshot.rules.cap)
        emails = {u.id: u.email or "" for u in snapshot.users}
        self.templates.load(snapshot.templates, snapshot.preview_leads, emails)
        self.mail.load(snapshot.rules, snapshot.mail_password_saved, snapshot.keychain_message)
        self.tabs.setEnabled(True)
        self.state.setText("No changes yet.")
        self.save_button.setEnabled(False)
        self.loaded.emit()

    def _on_load_failed(self, failure: TaskFailure) -> None:
        self.state.setText("The settings could not be read.")
        self.messages.show_message(failure.message, ERROR)

    # --- editing ---

    def plan(self) -> SettingsPlan:
        """Every staged change, as Save would apply it."""
        pools, deletes = self.pools.changes()
        users, deactivations, reactivations = self.users.changes()
        return SettingsPlan(
            rules={**self.rules.changes(), **self.mail.changes()},
            templates=self.templates.changes(),
            pools=pools,
            pool_deletes=deletes,
            users=users,
            deactivations=deactivations,
            reactivations=reactivations,
            mail_password=self.mail.new_password,
        )

    def _on_edited(self) -> None:
        if self.snapshot is None:
            return
        empty = self.plan().empty
        self.save_button.setEnabled(not empty)
        self.state.setText("No changes yet." if empty else "Unsaved changes: Save applies them.")

    def reject(self) -> None:
        """Cancel, Esc or the window's close: ask before unsaved changes are thrown away."""
        if self.snapshot is None or self.plan().empty:
            super().reject()
            return
        question = QMessageBox(
            QMessageBox.Icon.Question,
            "Discard changes?",
            "You have changes that are not saved. Close the settings and discard them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        question.button(QMessageBox.StandardButton.Cancel).setText("Keep editing")
        question.setDefaultButton(QMessageBox.StandardButton.Cancel)
        question.finished.connect(question.deleteLater)
        question.finished.connect(self._on_discard_answered)
        self.discard_question = question
        question.open()

    def _on_discard_answered(self, answer: int) -> None:
        self.discard_question = None
        if answer == QMessageBox.StandardButton.Discard:
            super().reject()

    # --- saving ---

    def check_all(self) -> list[str]:
        """Check every tab; show the first tab with a problem. Returns every message."""
        found: list[str] = []
        first = None
        for tab in (self.rules, self.pools, self.users, self.templates, self.mail):
            problems = tab.check_all()
            if problems and first is None:
                first = tab
            found += problems
        if first is not None:
            self.tabs.setCurrentWidget(first)
        return found

    def save(self) -> None:
        if self.snapshot is None:
            return
        problems = self.check_all()
        if problems:
            n = len(problems)
            self.messages.show_message(
                f"Nothing was saved: {n} field{'s need' if n != 1 else ' needs'} fixing "
                f"(shown under each field). First: {problems[0]}",
                WARNING,
            )
            return
        plan = self.plan()
        if plan.empty:
            self.accept()
            return
        released = {k: v for k, v in plan.rules.items() if k in jobs.RELEASE_RULES}
        if released:
            # A shorter keep period or idle limit can take many leads off the reps
            # at the next clock round: count them first, and ask.
            self.state.setText("Checking what the new rules would do…")
            self._context.run(
                jobs.leads_due_back,
                released,
                on_done=lambda n: self._confirm_release(n, plan),
                on_error=self._on_save_failed,
                busy=[self.save_button, self.cancel_button, self.tabs],
                key="settings.save",
            )
            return
        self._apply(plan)

    def _confirm_release(self, count: int, plan: SettingsPlan) -> None:
        if count == 0:
            self._apply(plan)
            return
        leads_word = "1 lead" if count == 1 else f"{count:,} leads"
        question = QMessageBox(
            QMessageBox.Icon.Warning,
            "Leads will go back to the pool",
            f"With these rules, {leads_word} held by reps now go back to the pool at the "
            "next clock round, within a minute: they are past the new keep period or "
            "have been without action longer than it allows. Their reps are told.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        save = question.addButton(
            f"Save and return {leads_word}", QMessageBox.ButtonRole.AcceptRole
        )
        question.setDefaultButton(QMessageBox.StandardButton.Cancel)
        question.finished.connect(question.deleteLater)
        question.buttonClicked.connect(
            lambda button: self._apply(plan) if button is save else self._not_saved()
        )
        self.release_question = question
        question.open()

    def _not_saved(self) -> None:
        self.release_question = None
        self._on_edited()  # "Unsaved changes: …" again

    def _apply(self, plan: SettingsPlan) -> None:
        self.release_question = None
        self.state.setText("Saving…")
        self._context.run(
            apply_settings,
            plan,
            self._context.secrets,
            on_done=self._on_applied,
            on_error=self._on_save_failed,
            busy=[self.save_button, self.cancel_button, self.tabs],
            key="settings.save",
        )

    def _on_applied(self, result: ApplyResult) -> None:
        self.saved.emit(result)
        if result.done:
            self._context.announce(RULES, TEAM, LEADS)
        if result.ok:
            self.accept()
            return
        tabs = {
            settings_work.RULES: self.rules,
            settings_work.POOLS: self.pools,
            settings_work.USERS: self.users,
            settings_work.TEMPLATES: self.templates,
            settings_work.MAIL: self.mail,
        }
        tab = tabs.get(result.tab, self.rules)
        self.tabs.setCurrentWidget(tab)
        if tab is self.rules and result.field.startswith("mail_"):
            tab = self.mail
            self.tabs.setCurrentWidget(tab)
        if tab is self.rules:
            self.rules.show_refusal(result.field, result.error)
        elif tab is self.mail:
            self.mail.show_refusal(result.field, result.error)
        else:
            tab.show_refusal(result.key, result.field, result.error)  # type: ignore[attr-defined]
        saved = (
            " Saved before it: " + ", ".join(result.done) + "; reopen Settings to see them."
            if result.done
            else " Nothing was saved."
        )
        self.messages.show_message(result.error + saved, ERROR)
        self.state.setText("Not saved." if not result.done else "Partly saved.")

    def _on_save_failed(self, failure: TaskFailure) -> None:
        self.messages.show_message(failure.message, ERROR)
        self.state.setText("Not saved.")
