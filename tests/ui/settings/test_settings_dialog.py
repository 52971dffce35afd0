"""The settings dialog against a real database: each tab, its messages, Save and Cancel."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from salesdesk.services import (
    allocation,
    auth,
    lead_table,
    leads,
    mail,
    mail_server,
    rules,
    sender,
    team,
)
from salesdesk.services.errors import AuthenticationError, CapReachedError
from salesdesk.services.records import Actor
from salesdesk.ui.message_bar import WARNING
from salesdesk.ui.settings import settings_work
from salesdesk.ui.settings.deactivate_dialog import DeactivateDialog
from salesdesk.ui.settings.delete_pool_dialog import DeletePoolDialog
from salesdesk.ui.settings.pools_tab import percentages
from salesdesk.ui.settings.settings_dialog import SettingsDialog
from salesdesk.ui.timefmt import format_datetime
from tests.conftest import Floor
from tests.services._smtp import SmtpServer, free_port, memory_keychain
from tests.ui.conftest import wait_idle


@dataclass
class Scene:
    floor: Floor
    dialog: SettingsDialog
    alice: Actor
    bob: Actor
    qtbot: object
    tasks: object

    @property
    def db(self):
        return self.floor.db

    def settle(self) -> None:
        wait_idle(self.qtbot, self.tasks)
        self.qtbot.wait(30)
        wait_idle(self.qtbot, self.tasks)

    def save(self) -> None:
        with self.qtbot.waitSignal(self.dialog.finished, timeout=10_000):
            self.dialog.save_button.click()
        self.settle()

    def save_refused(self) -> str:
        self.dialog.save_button.click()
        self.settle()
        assert self.dialog.isVisible(), "Save should have been refused"
        assert self.dialog.messages.level == WARNING
        return self.dialog.messages.text


@pytest.fixture
def keychain():
    yield from memory_keychain()


@pytest.fixture
def scene(qtbot, ui_floor, make_context, tasks, keychain):
    alice, bob = ui_floor.rep("alice"), ui_floor.rep("bob")
    inbound = ui_floor.pool("Inbound", members=[alice, bob])
    ui_floor.pool("Partners", routing="weighted", members={alice: 5, bob: 3})
    ui_floor.leads(inbound, 4, company="Acme Ltd")
    allocation.claim_next_lead(ui_floor.db, alice)
    dialog = SettingsDialog(make_context(ui_floor.admin))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        pass
    s = Scene(ui_floor, dialog, alice, bob, qtbot, tasks)
    s.settle()
    return s


# --- Rules -----------------------------------------------------------------------------------


def test_cancel_without_changes_closes_at_once(scene):
    scene.dialog.cancel_button.click()
    scene.settle()
    assert not scene.dialog.isVisible() and scene.dialog.discard_question is None


def test_rules_load_save_and_apply_to_every_client(scene):
    tab = scene.dialog.rules
    assert tab.value("cap") == 25 and tab.value("pool_order") == "newest_first"
    assert "Days a rep keeps a lead" in tab._helps["keep_days"].text()
    assert not scene.dialog.save_button.isEnabled()
    tab.editors["cap"].setValue(1)
    tab.editors["admin_emails"].setText("team@example.com, boss@example.com")
    tab.editors["one_at_a_time"].setChecked(True)
    assert tab.editors["working_days_only"].isChecked()  # the default: weekends don't count
    assert "skip Saturdays and Sundays" in tab._helps["working_days_only"].text()
    assert tab._labels["keep_days"].text() == "Keep period (working days)"
    assert scene.dialog.pools.follow_up.suffix() == " working days"
    tab.editors["working_days_only"].setChecked(False)
    assert tab._labels["keep_days"].text() == "Keep period (days)"
    assert tab._labels["idle_days"].text() == "Reallocate after days without action"
    assert scene.dialog.pools.follow_up.suffix() == " days"
    assert scene.dialog.save_button.isEnabled()
    scene.save()
    saved = rules.get_rules(scene.db)
    assert (saved.cap, saved.one_at_a_time, saved.working_days_only) == (1, True, False)
    assert saved.admin_emails == ("team@example.com", "boss@example.com")
    # Every client reads the rules in its next transaction: Alice's next Next is refused.
    with pytest.raises(CapReachedError):
        allocation.claim_next_lead(scene.db, scene.alice)


def test_a_shorter_idle_limit_says_how_many_leads_go_back_before_saving(scene, clock):
    clock.advance(days=2)  # Alice has held her lead two working days without action
    scene.dialog.rules.editors["idle_days"].setValue(1)
    scene.dialog.save_button.click()
    scene.settle()
    question = scene.dialog.release_question
    assert question is not None and question.isVisible()
    assert "1 lead held by reps now go back to the pool" in question.text()
    question.button(QMessageBox.StandardButton.Cancel).click()
    scene.settle()
    assert scene.dialog.isVisible() and rules.get_rules(scene.db).idle_days == 3
    assert scene.dialog.state.text() == "Unsaved changes: Save applies them."

    scene.dialog.save_button.click()
    scene.settle()
    save = next(
        b for b in scene.dialog.release_question.buttons() if b.text() == "Save and return 1 lead"
    )
    with scene.qtbot.waitSignal(scene.dialog.finished, timeout=10_000):
        save.click()
    assert rules.get_rules(scene.db).idle_days == 1


def test_a_bad_rule_is_refused_next_to_its_field_and_nothing_is_saved(scene):
    tab = scene.dialog.rules
    tab.editors["admin_emails"].setText("team@example.com, not-an-address")
    assert tab.messages["admin_emails"].message == "Not an email address: not-an-address"
    tab.editors["dead_tag"].setText("dead, gone")
    assert "without commas" in tab.messages["dead_tag"].message
    tab.editors["company_name"].setText("   ")
    assert "1 to 120 characters" in tab.messages["company_name"].message
    tab.editors["cap"].setValue(40)
    text = scene.save_refused()
    assert text.startswith("Nothing was saved: 3 fields need fixing")
    assert rules.get_rules(scene.db).cap == 25
    tab.editors["admin_emails"].setText("team@example.com")
    assert tab.messages["admin_emails"].message == ""


def test_cancel_changes_nothing(scene):
    d = scene.dialog
    d.rules.editors["cap"].setValue(3)
    d.pools.add_pool()
    d.users.add_person()
    d.templates.subject.setText("Changed")
    d.templates.subject.textEdited.emit("Changed")
    d.mail.host.setText("smtp.example.com")
    d.mail.host.textEdited.emit("smtp.example.com")
    before_pools = team.list_pools(scene.db, scene.floor.admin)
    before_users = team.list_users(scene.db, scene.floor.admin)
    d.cancel_button.click()  # unsaved changes: asked first
    scene.settle()
    question = d.discard_question
    assert d.isVisible() and question is not None and question.isVisible()
    assert "not saved" in question.text()
    question.button(QMessageBox.StandardButton.Cancel).click()  # "Keep editing"
    scene.settle()
    assert d.isVisible() and d.rules.editors["cap"].value() == 3
    d.cancel_button.click()
    scene.settle()
    d.discard_question.button(QMessageBox.StandardButton.Discard).click()
    scene.settle()
    assert not d.isVisible()
    assert rules.get_rules(scene.db).cap == 25
    assert rules.get_rules(scene.db).mail_host == ""
    assert team.list_pools(scene.db, scene.floor.admin) == before_pools
    assert team.list_users(scene.db, scene.floor.admin) == before_users
    assert mail.list_templates(scene.db, scene.floor.admin)[0].subject != "Changed"


# --- Pools -----------------------------------------------------------------------------------


def _pool_row(tab, name):
    return next(i for i, d in enumerate(tab.drafts) if d.name == name)


def test_shares_are_percentages_checked_live_and_zero_is_a_choice(scene):
    tab = scene.dialog.pools
    scene.dialog.tabs.setCurrentWidget(tab)
    tab.list.setCurrentRow(_pool_row(tab, "Partners"))
    assert tab.current.members == {scene.alice.id: 63, scene.bob.id: 37}  # 5:3
    tab.share_spin(scene.alice.id).setValue(80)
    assert tab.share_message.message == "The shares add up to 117 %; they must add up to 100 %."
    assert scene.save_refused().endswith("they must add up to 100 %.")
    tab.share_spin(scene.alice.id).setValue(100)
    tab.share_spin(scene.bob.id).setValue(0)
    assert tab.share_message.message == ""
    assert "Bob: 0 % — stays a member, is pushed no leads." in tab.share_note.text()
    scene.save()
    partners = next(p for p in team.list_pools(scene.db, scene.floor.admin) if p.name == "Partners")
    assert {m.user_id: m.weight for m in partners.members} == {scene.alice.id: 100, scene.bob.id: 0}


def test_a_pool_left_without_members_says_its_leads_are_out_of_reach(scene):
    tab = scene.dialog.pools
    scene.dialog.tabs.setCurrentWidget(tab)
    tab.list.setCurrentRow(_pool_row(tab, "Inbound"))
    assert tab.share_note.text().startswith("Every member may press Next")
    for rep in (scene.alice, scene.bob):
        tab.member_item(rep.id).setCheckState(Qt.CheckState.Unchecked)
    assert tab.share_note.text().startswith(
        "No members: nobody can take leads from this pool (4 in it)."
    )


def test_create_a_weighted_pool_with_members(scene):
    tab = scene.dialog.pools
    tab.add_pool()
    tab.name.setText("")
    tab.name.textEdited.emit("")
    assert tab.name_message.message == "Give the pool a name."
    tab.name.setText("inbound")
    tab.name.textEdited.emit("inbound")
    assert tab.name_message.message == "There is already a pool called 'inbound'."
    tab.name.setText("Trade show")
    tab.name.textEdited.emit("Trade show")
    assert tab.name_message.message == ""
    tab.routing.setCurrentIndex(tab.routing.findData("weighted"))
    tab.member_item(scene.alice.id).setCheckState(Qt.CheckState.Checked)
    tab.member_item(scene.bob.id).setCheckState(Qt.CheckState.Checked)
    tab.share_spin(scene.alice.id).setValue(70)
    assert "must add up to 100" in tab.share_message.message
    tab.share_spin(scene.bob.id).setValue(30)
    tab.follow_up.setValue(2)
    scene.save()
    pool = team.find_pool(scene.db, "Trade show")
    assert (pool.routing, pool.follow_up_days) == ("weighted", 2)
    assert {m.user_id: m.weight for m in pool.members} == {scene.alice.id: 70, scene.bob.id: 30}


def test_rename_deactivate_and_delete_a_pool_saying_where_its_leads_go(scene):
    tab = scene.dialog.pools
    tab.list.setCurrentRow(_pool_row(tab, "Partners"))
    tab.name.setText("Partner referrals")
    tab.name.textEdited.emit("Partner referrals")
    tab.active.setChecked(False)
    tab.list.setCurrentRow(_pool_row(tab, "Inbound"))
    assert "4 leads" in tab.list.currentItem().text()
    tab.delete_button.click()
    dialog = tab.open_dialog
    assert isinstance(dialog, DeletePoolDialog)
    texts = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "“Inbound” holds 4 leads" in texts
    dialog.target.setCurrentIndex(dialog.target.findText("Partner referrals"))
    dialog.accept()
    assert "its 4 leads move to Partner referrals" in tab.deleted_note.text()
    scene.save()
    pools = {p.name: p for p in team.list_pools(scene.db, scene.floor.admin)}
    assert set(pools) == {"Partner referrals"}
    assert not pools["Partner referrals"].active
    moved = lead_table.list_leads(scene.db, scene.floor.admin).rows
    assert {r.pool_name for r in moved} == {"Partner referrals"}


FOLLOW_UP_4 = (
    "Follow-up after 4 days can never happen: leads go back to the pool after 3 days without "
    "action. Choose fewer than 3 days, or allow more days without action in Rules."
)


def test_a_follow_up_the_idle_limit_beats_is_refused_under_its_field_as_typed(scene):
    tab = scene.dialog.pools
    scene.dialog.tabs.setCurrentWidget(tab)
    tab.list.setCurrentRow(_pool_row(tab, "Inbound"))
    tab.follow_up.setValue(4)
    assert tab.follow_up_message.message == FOLLOW_UP_4
    assert scene.save_refused().endswith(FOLLOW_UP_4)
    assert team.find_pool(scene.db, "Inbound").follow_up_days is None
    scene.dialog.tabs.setCurrentWidget(scene.dialog.rules)  # allow 5 days without action
    scene.dialog.rules.editors["idle_days"].setValue(5)
    scene.dialog.tabs.setCurrentWidget(tab)
    tab.list.setCurrentRow(_pool_row(tab, "Partners"))
    tab.list.setCurrentRow(_pool_row(tab, "Inbound"))
    assert tab.follow_up_message.message == ""
    scene.save()  # the idle limit is saved first, then the follow-up it allows
    assert team.find_pool(scene.db, "Inbound").follow_up_days == 4
    assert rules.get_rules(scene.db).idle_days == 5


def test_an_idle_limit_below_a_pools_follow_up_is_refused_next_to_it(scene):
    inbound = team.find_pool(scene.db, "Inbound")
    team.update_pool(scene.db, scene.floor.admin, inbound.id, follow_up_days=2)
    with scene.qtbot.waitSignal(scene.dialog.loaded, timeout=10_000):
        scene.dialog.reload()
    rules_tab = scene.dialog.rules
    rules_tab.editors["idle_days"].setValue(2)
    scene.dialog.save_button.click()
    scene.settle()

    message = (
        "Leads would go back to the pool after 2 days without action, so the Inbound pool's "
        "follow-up after 2 days could never happen. Choose more than 2 days (or Never), or "
        "shorten that pool's follow-up in Pools first."
    )
    assert scene.dialog.isVisible()
    assert scene.dialog.tabs.currentWidget() is rules_tab
    assert rules_tab.messages["idle_days"].message == message
    assert scene.dialog.messages.text == message + " Nothing was saved."
    assert rules.get_rules(scene.db).idle_days == 3


def test_lowering_the_idle_limit_and_a_follow_up_together_saves_both(scene):
    inbound = team.find_pool(scene.db, "Inbound")
    team.update_pool(scene.db, scene.floor.admin, inbound.id, follow_up_days=2)
    with scene.qtbot.waitSignal(scene.dialog.loaded, timeout=10_000):
        scene.dialog.reload()
    scene.dialog.rules.editors["idle_days"].setValue(2)
    tab = scene.dialog.pools
    tab.list.setCurrentRow(_pool_row(tab, "Inbound"))
    tab.follow_up.setValue(1)
    assert tab.follow_up_message.message == ""
    scene.save()
    assert rules.get_rules(scene.db).idle_days == 2
    assert team.find_pool(scene.db, "Inbound").follow_up_days == 1


def test_percentages_add_up_to_exactly_100():
    assert percentages({1: 1, 2: 1, 3: 1}) == {1: 34, 2: 33, 3: 33}
    assert percentages({1: 5, 2: 3, 3: 2}) == {1: 50, 2: 30, 3: 20}
    assert percentages({1: 0, 2: 0}) == {1: 0, 2: 0}


# --- Users -----------------------------------------------------------------------------------


def _user_row(tab, username):
    return next(i for i, d in enumerate(tab.drafts) if d.username == username)


def _type(line, text):
    line.setText(text)
    line.textEdited.emit(text)


def test_add_a_person_with_messages_for_each_bad_field(scene):
    tab = scene.dialog.users
    tab.add_person()
    _type(tab.username, "Bad Name!")
    assert tab.messages["username"].message.startswith("A user name is 2 to 63 characters")
    _type(tab.username, "alice")
    assert tab.messages["username"].message == "The user name 'alice' is taken."
    _type(tab.username, "erin")
    _type(tab.email, "erin-at-example")
    assert tab.messages["email"].message == "Not an email address: erin-at-example"
    _type(tab.password, "short")
    assert tab.messages["password"].message == "A password needs at least 8 characters."
    assert tab.messages["display_name"].message == "Enter the person's name."
    assert "3 fields need fixing" in scene.save_refused()
    _type(tab.display_name, "Erin Example")
    _type(tab.email, "erin@example.com")
    _type(tab.password, "erin-pass-1")
    tab.role.setCurrentIndex(tab.role.findData("manager"))
    tab.cap.setValue(10)
    scene.save()
    erin = auth.login(scene.db, "erin", "erin-pass-1")
    assert (erin.display_name, erin.role) == ("Erin Example", "manager")


def test_change_role_cap_and_reset_a_password(scene):
    tab = scene.dialog.users
    tab.list.setCurrentRow(_user_row(tab, "bob"))
    tab.role.setCurrentIndex(tab.role.findData("manager"))
    tab.cap.setValue(7)
    _type(tab.password, "new-bob-pass")
    scene.save()
    bob = next(u for u in team.list_users(scene.db, scene.floor.admin) if u.username == "bob")
    assert (bob.role, bob.cap) == ("manager", 7)
    assert auth.login(scene.db, "bob", "new-bob-pass").id == bob.id


def test_an_admin_cannot_demote_or_deactivate_themselves(scene):
    tab = scene.dialog.users
    tab.list.setCurrentRow(_user_row(tab, "admin"))
    assert not tab.deactivate_button.isEnabled()
    tab.role.setCurrentIndex(tab.role.findData("rep"))
    assert tab.messages["role"].message == "You cannot remove your own admin role."


def test_deactivate_a_rep_and_give_their_leads_to_another(scene):
    tab = scene.dialog.users
    tab.list.setCurrentRow(_user_row(tab, "alice"))
    assert tab.state.text() == "Active · holds 1 lead"
    tab.deactivate_button.click()
    dialog = tab.open_dialog
    assert isinstance(dialog, DeactivateDialog)
    labels = [dialog.person.itemText(i) for i in range(dialog.person.count())]
    assert labels == ["Bob — holds 0 of 25", "Admin (admin)"]  # reps first, with their load
    dialog.to_person.setChecked(True)
    dialog.person.setCurrentIndex(dialog.person.findData(scene.bob.id))
    dialog.accept()
    assert tab.state.text() == "Deactivated when you save; their leads go to Bob."
    scene.save()
    with pytest.raises(AuthenticationError, match="deactivated"):
        auth.login(scene.db, "alice", "password1")
    assert len(leads.my_current_leads(scene.db, scene.bob)) == 1


def test_reactivate(scene):
    team.deactivate_user(scene.db, scene.floor.admin, scene.bob.id)
    scene.dialog.reload()
    scene.settle()
    tab = scene.dialog.users
    tab.list.setCurrentRow(_user_row(tab, "bob"))
    assert tab.state.text() == "Deactivated: cannot sign in."
    tab.reactivate_button.click()
    scene.save()
    assert auth.login(scene.db, "bob", "password1").id == scene.bob.id


# --- Email templates -----------------------------------------------------------------------------


def test_live_preview_is_rendered_with_a_real_lead(scene):
    tab = scene.dialog.templates
    tab.select("confirmation")
    with scene.qtbot.waitSignal(tab.previewed, timeout=10_000):
        tab.refresh_preview()
    lead = next(r for r in lead_table.list_leads(scene.db, scene.floor.admin).rows if r.owner_id)
    tab.preview_lead.setCurrentIndex(tab.preview_lead.findData(lead.id))
    scene.qtbot.waitUntil(lambda: lead.first_name in tab.preview_text.toPlainText(), timeout=10_000)
    assert "Alice" in tab.preview_text.toPlainText()  # the owner signs it
    _type(tab.subject, "Hello {{ first_name }} from {{ company_name }}")
    scene.qtbot.waitUntil(
        lambda: tab.preview_subject.text() == f"Hello {lead.first_name} from Our company",
        timeout=10_000,
    )
    scene.dialog.rules.editors["company_name"].setText("Northstar")
    tab.refresh_preview()
    scene.qtbot.waitUntil(
        lambda: tab.preview_subject.text().endswith("from Northstar"), timeout=10_000
    )


def test_an_unknown_field_is_refused_with_its_name_and_a_good_edit_is_saved(scene):
    tab = scene.dialog.templates
    tab.select("confirmation")
    tab.body_text.setPlainText("Dear {{ frist_name }},\nthanks.")
    scene.qtbot.waitUntil(lambda: bool(tab.messages["text"].message), timeout=10_000)
    assert "unknown field {{ frist_name }}" in tab.messages["text"].message
    assert "unknown field {{ frist_name }}" in scene.save_refused()
    tab.body_text.setPlainText("Dear {{ first_name }},\nthanks.")
    scene.qtbot.waitUntil(lambda: tab.messages["text"].message == "", timeout=10_000)
    scene.save()
    saved = {t.name: t for t in mail.list_templates(scene.db, scene.floor.admin)}
    assert saved["confirmation"].body_text == "Dear {{ first_name }},\nthanks."


def test_save_refuses_an_unknown_field_even_before_the_preview_caught_it(scene):
    plan = settings_work.SettingsPlan(
        rules={"cap": 9},
        templates=[mail.TemplateDetail("confirmation", "Hi {{ nme }}", "x", "", ("first_name",))],
    )
    result = settings_work.apply_settings(
        scene.db, scene.floor.admin, plan, scene.dialog._context.secrets
    )
    assert result.done == ("rules",)
    assert (result.tab, result.key, result.field) == ("templates", "confirmation", "subject")
    assert "unknown field {{ nme }}" in result.error
    scene.dialog._on_applied(result)
    assert scene.dialog.tabs.currentWidget() is scene.dialog.templates
    assert "unknown field {{ nme }}" in scene.dialog.templates.messages["subject"].message


# --- Mail server --------------------------------------------------------------------------------


def test_mail_settings_are_checked_saved_and_the_password_goes_to_the_keychain(scene, keychain):
    tab = scene.dialog.mail
    scene.dialog.tabs.setCurrentWidget(tab)
    _type(tab.host, "smtp example com")
    assert tab.messages["mail_host"].message.startswith("The mail server must be a host name")
    _type(tab.host, "smtp.example.com")
    _type(tab.user, "sales")
    tab.security.setCurrentIndex(tab.security.findData("none"))
    assert tab.port.value() == 25  # follows the security's usual port
    _type(tab.password, "s3cret-pass")
    problems = scene.save_refused()
    assert "From address" in problems
    assert "in the clear" in tab.messages["mail_security"].message
    tab.security.setCurrentIndex(tab.security.findData("starttls"))
    assert tab.port.value() == 587
    _type(tab.from_address, "sales@example.com")
    scene.save()
    saved = rules.get_rules(scene.db)
    assert (saved.mail_host, saved.mail_user, saved.mail_security, saved.mail_port) == (
        "smtp.example.com",
        "sales",
        "starttls",
        587,
    )
    assert keychain.get_password(
        "salesdesk", mail_server.password_account("sales", "smtp.example.com")
    ) == ("s3cret-pass")
    assert "s3cret-pass" not in str(rules.get_rules(scene.db))


def test_mail_queued_without_a_server_is_counted_with_its_age(scene, clock):
    from salesdesk.services import actions

    panel = scene.dialog.mail.failed_mail
    panel.refresh()
    scene.settle()
    assert panel.status.text() == "No mail is stuck: everything written has gone out."
    written = clock.now
    (lead,) = leads.my_current_leads(scene.db, scene.alice)
    actions.confirm_email(scene.db, scene.alice, lead.id)  # no mail server: it waits
    clock.advance(days=3)
    panel.refresh()
    scene.settle()
    assert panel.status.text() == (
        f"No mail is stuck. 1 email waits to go out, the oldest written "
        f"{format_datetime(written)}: they go at the next delivery round once a mail "
        "server is saved."
    )


def test_the_test_button_reports_success_or_the_servers_own_words(scene):
    server = SmtpServer().start()
    try:
        rules.update_rules(
            scene.db,
            scene.floor.admin,
            {
                "mail_host": "127.0.0.1",
                "mail_port": server.port,
                "mail_security": "none",
                "mail_from_address": "sales@example.com",
            },
        )
        scene.dialog.reload()
        scene.settle()
        tab = scene.dialog.mail
        assert tab.test_button.isEnabled()
        with scene.qtbot.waitSignal(tab.tested, timeout=15_000) as tested:
            tab.test_button.click()
        assert tested.args[1] is True
        assert f"127.0.0.1:{server.port}" in tested.args[0]
        # An unsaved change is what the test tries: a wrong port fails in words...
        wrong = free_port()
        tab.port.setValue(wrong)
        assert tab.test_button.isEnabled() and "not saved yet" in tab.test_hint.text()
        with scene.qtbot.waitSignal(tab.tested, timeout=20_000) as tested:
            tab.test_button.click()
        assert tested.args[1] is False and f"127.0.0.1:{wrong}" in tested.args[0]
        # ... and the right one, still unsaved, works: no save-reopen-test round.
        tab.port.setValue(server.port)
        _type(tab.from_name, "Northstar Sales")
        with scene.qtbot.waitSignal(tab.tested, timeout=15_000) as tested:
            tab.test_button.click()
        assert tested.args[1] is True
        assert rules.get_rules(scene.db).mail_from_name == "SalesDesk"  # nothing was saved
    finally:
        server.stop()
    with scene.qtbot.waitSignal(tab.tested, timeout=20_000) as tested:
        tab.test_button.click()
    assert tested.args[1] is False
    assert tested.args[0]  # the connection failure, in words


def test_stuck_mail_is_listed_with_the_servers_reason_and_can_be_retried(scene, keychain):
    from salesdesk.models import OutboxMessage
    from tests.services._smtp import free_port

    rules.update_rules(
        scene.db,
        scene.floor.admin,
        {
            "mail_host": "127.0.0.1",
            "mail_port": free_port(),  # nothing listens: the server is down
            "mail_security": "none",
            "mail_from_address": "sales@example.com",
        },
    )
    (lead,) = leads.my_current_leads(scene.db, scene.alice)
    from salesdesk.services import actions

    actions.confirm_email(scene.db, scene.alice, lead.id)
    sender.deliver_due(scene.db)

    panel = scene.dialog.mail.failed_mail
    panel.refresh()
    scene.settle()
    assert len(panel.rows) == 1
    assert panel.table.item(0, 0).text() == lead.email
    reason = panel.table.item(0, 4).text()
    assert "127.0.0.1" in reason  # the sender's own words about the connection
    assert not panel.retry_button.isEnabled()  # nothing selected yet

    panel.table.selectRow(0)
    assert panel.retry_button.isEnabled()
    with scene.qtbot.waitSignal(panel.retried, timeout=5000) as retried:
        panel.retry_button.click()
    scene.settle()
    assert retried.args == [1]
    with scene.db.read() as session:
        [message] = session.query(OutboxMessage).all()
    assert message.status == "pending"
    assert message.next_attempt_at <= scene.db.now()
