"""The audit trail is tamper-evident (ASVS 4.0.3 V7.3.3: logs protected from modification):
each row is chained to the one before with an HMAC the database cannot compute."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from monitoring import signatures
from tests import factories
from tests.helpers import add_vas, change_vas, rotate_audit_key
from trialsite.audit import chain
from trialsite.audit.models import AuditEvent


def test_sealing_chains_every_row_once_and_verify_walks_the_chain(coordinator, visit):
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    first = chain.seal()
    assert first.position == AuditEvent.objects.count() > 0
    assert chain.seal() == first  # nothing new, nothing sealed twice
    change_vas(vas, coordinator, score=30)
    second = chain.seal()
    assert second.position == AuditEvent.objects.count() > first.position
    verdict = chain.verify()
    assert (verdict.ok, verdict.checked, verdict.unsealed) == (True, second.position, 0)


def test_a_link_depends_on_the_key(coordinator, visit, settings):
    add_vas(visit.participant, visit.code, 40, coordinator)
    chain.seal()
    settings.AUDIT_HMAC_KEY = "another key"
    verdict = chain.verify()
    assert not verdict.ok and verdict.broken_at == 1


def _as_owner(owner_connection, sql, params=()):
    owner_connection.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_immutable")
    owner_connection.execute(sql, params)
    owner_connection.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_immutable")
    owner_connection.commit()


@pytest.mark.django_db(transaction=True)
def test_an_owners_edit_of_an_audit_row_breaks_the_chain_there(
    owner_connection, coordinator, visit
):
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    chain.seal()
    call_command("verify_audit")  # intact
    event = AuditEvent.objects.filter(table_name="outcomes_vaspain", row_pk=str(vas.pk)).first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT position FROM audit_chain WHERE event_id = %s", [event.pk])
        position = cursor.fetchone()[0]
    edit = "UPDATE audit_event SET new_values = jsonb_set(new_values, '{score_mm}', %s::jsonb) "
    _as_owner(owner_connection, edit + "WHERE id = %s", ["90", event.pk])
    try:
        verdict = chain.verify()
        assert (verdict.ok, verdict.event_id, verdict.broken_at) == (False, event.pk, position)
        with pytest.raises(CommandError, match=f"position {position} .audit row {event.pk}"):
            call_command("verify_audit")
    finally:  # the trail outlives this test's data: put the row back as it was
        _as_owner(owner_connection, edit + "WHERE id = %s", ["40", event.pk])
    assert chain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_rows_of_concurrent_transactions_are_chained_without_gaps(owner_connection, lahore):
    """A row of a transaction still open while a seal runs is sealed by the next seal, after
    rows with higher ids that committed first: none is skipped, none sealed twice."""
    chain.seal()
    last_id = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    owner_connection.execute(
        "UPDATE sites_site SET name = 'Lahore (open)' WHERE id = %s", [lahore.pk]
    )
    factories.SiteFactory(code="KHI", name="Karachi")  # a later id, committed first
    sealed_first = chain.seal()
    open_row = AuditEvent.objects.filter(
        table_name="sites_site", action="UPDATE", row_pk=str(lahore.pk), pk__gt=last_id
    )
    assert not open_row.exists()  # not yet committed, so not yet sealed
    owner_connection.commit()
    sealed_second = chain.seal()
    assert sealed_second.position == sealed_first.position + 1
    assert sealed_second.position == AuditEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT event_id FROM audit_chain ORDER BY position DESC LIMIT 1")
        assert cursor.fetchone()[0] == open_row.get().pk < AuditEvent.objects.last().pk
    verdict = chain.verify()
    assert (verdict.ok, verdict.unsealed) == (True, 0), verdict


def test_a_signature_is_an_hmac_of_the_signed_data(investigator, coordinator, visit, settings):
    add_vas(visit.participant, visit.code, 40, coordinator)
    signature = signatures.sign(
        participant=visit.participant, visit=visit, password=factories.PASSWORD, by=investigator
    )
    assert signature.hash_version == 4 and signatures.is_valid(signature)
    # A plain hash of the data, which anyone with database access could recompute, is not it.
    assert signature.data_hash != signatures.data_hash(visit.participant, visit, version=2)
    settings.AUDIT_HMAC_KEY = "a key someone guessed"
    assert not signatures.is_valid(signature)


def test_verify_reports_rows_not_yet_sealed(coordinator, visit):
    chain.seal()
    add_vas(visit.participant, visit.code, 40, coordinator)
    verdict = chain.verify()
    assert verdict.ok and verdict.unsealed == AuditEvent.objects.count() - verdict.checked > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_chain")
        assert cursor.fetchone()[0] == verdict.checked


@pytest.mark.django_db(transaction=True)
def test_beat_seals_the_trail_in_a_real_worker(worker, coordinator, visit, settings):
    from trialsite.audit.tasks import seal_audit_trail

    assert settings.CELERY_BEAT_SCHEDULE["audit-seal"]["task"] == seal_audit_trail.name
    add_vas(visit.participant, visit.code, 40, coordinator)
    position = seal_audit_trail.delay().get(timeout=30)
    assert position == chain.head().position and chain.verify().unsealed == 0


def _key_ids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_id FROM audit_chain ORDER BY position")
        return [row[0] for row in cursor.fetchall()]


def test_links_keep_the_key_they_were_sealed_under_across_a_rotation(coordinator, visit, settings):
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    before = chain.seal()
    rotate_audit_key(settings)
    change_vas(vas, coordinator, score=30)
    after = chain.seal()
    keys = _key_ids()
    assert set(keys[: before.position]) == {1} and set(keys[before.position :]) == {2}
    assert after.position > before.position
    verdict = chain.verify()
    assert (verdict.ok, verdict.checked) == (True, after.position)
    # Without the retired key the links made under it cannot be checked, and it says so.
    settings.AUDIT_HMAC_RETIRED_KEYS = {}
    verdict = chain.verify()
    assert (verdict.ok, verdict.broken_at) == (False, 1)
    assert verdict.problem == "it was sealed under key 1, which is not configured"


@pytest.mark.django_db(transaction=True)
def test_a_leaked_retired_key_cannot_hide_a_change_made_before_the_rotation(
    owner_connection, coordinator, visit, settings
):
    """Someone who holds the retired key and the database edits an audit row sealed under it
    and recomputes every link sealed under that key: the first link under the new key breaks."""
    vas = add_vas(visit.participant, visit.code, 40, coordinator)
    old_head = chain.seal()
    event = AuditEvent.objects.filter(table_name="outcomes_vaspain", row_pk=str(vas.pk)).first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT position FROM audit_chain WHERE event_id = %s", [event.pk])
        position = cursor.fetchone()[0]
    old_key = rotate_audit_key(settings).encode()
    change_vas(vas, coordinator, score=30)
    new_head = chain.seal()
    assert new_head.position > old_head.position
    owner_connection.execute("SET TimeZone = 'UTC'")
    saved_links = owner_connection.execute(
        "SELECT position, link FROM audit_chain WHERE position BETWEEN %s AND %s",
        [position, old_head.position],
    ).fetchall()
    edit = "UPDATE audit_event SET new_values = jsonb_set(new_values, '{score_mm}', %s::jsonb) "
    try:
        _as_owner(owner_connection, edit + "WHERE id = %s", ["90", event.pk])
        (previous,) = owner_connection.execute(
            "SELECT link FROM audit_chain WHERE position = %s", [position - 1]
        ).fetchone() or (chain.GENESIS,)
        forged = []
        for at, content in owner_connection.execute(
            "SELECT c.position, to_jsonb(e)::text FROM audit_chain c "
            "JOIN audit_event e ON e.id = c.event_id WHERE c.position BETWEEN %s AND %s "
            "ORDER BY c.position",
            [position, old_head.position],
        ).fetchall():
            previous = chain.link(previous.strip(), at, content, old_key)
            forged.append((previous, at))
        _relink(owner_connection, forged)
        verdict = chain.verify()
        assert (verdict.ok, verdict.broken_at) == (False, old_head.position + 1)
    finally:  # the trail outlives this test's data: put it back as it was
        _as_owner(owner_connection, edit + "WHERE id = %s", ["40", event.pk])
        _relink(owner_connection, [(link, at) for at, link in saved_links])
        # The links under key 2 go: later tests seal those rows again under their key.
        owner_connection.execute("ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_immutable")
        owner_connection.execute("DELETE FROM audit_chain WHERE position > %s", [old_head.position])
        owner_connection.execute("ALTER TABLE audit_chain ENABLE TRIGGER audit_chain_immutable")
        owner_connection.commit()
    settings.AUDIT_HMAC_KEY_ID, settings.AUDIT_HMAC_RETIRED_KEYS = 1, {}
    settings.AUDIT_HMAC_KEY = old_key.decode()
    assert chain.verify().ok


def _relink(owner_connection, links) -> None:
    owner_connection.execute("ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_immutable")
    owner_connection.cursor().executemany(
        "UPDATE audit_chain SET link = %s WHERE position = %s", links
    )
    owner_connection.execute("ALTER TABLE audit_chain ENABLE TRIGGER audit_chain_immutable")
    owner_connection.commit()


def test_verify_audit_names_a_missing_retired_key(coordinator, visit, settings):
    add_vas(visit.participant, visit.code, 40, coordinator)
    chain.seal()
    rotate_audit_key(settings)
    call_command("verify_audit")
    settings.AUDIT_HMAC_RETIRED_KEYS = {}
    with pytest.raises(CommandError, match="sealed under key 1; list it in AUDIT_HMAC_RETIRED"):
        call_command("verify_audit")
