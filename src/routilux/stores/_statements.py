"""The fixed SQL statements of the SQL job stores, for any table prefix and placeholder."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["JOB_COLUMNS", "JOB_ROW", "LEASE_COLUMNS", "LETTER_COLUMNS", "LOG_COUNT", "Statements"]

#: The columns of a job row that :func:`routilux.stores._decode.stored_job` reads.
JOB_COLUMNS = (
    "job_id, flow_id, status, created_at, updated_at, current_routine_id, error, deliveries, "
    "next_seq, owner, flow_document, shared_data, routine_states, extra, deferred_events, "
    "engine_states"
)

#: The count of the job's kept log records (``job_logs``), read after ``JOB_COLUMNS``.
LOG_COUNT = "job_log_count"

#: The columns ``insert_job`` writes, in the order of ``NewJobRows.job``: ``JOB_COLUMNS``,
#: then the update time (microseconds since the epoch) and the history, error, log,
#: output and kept log record counts.
JOB_ROW = (
    *JOB_COLUMNS.split(", "),
    *("updated_us", "history_count", "error_count", "log_count", "output_count", LOG_COUNT),
)

#: The ownership columns of a job row, read after ``JOB_COLUMNS`` (with the store's time):
#: its claim (fencing token) and when its owner's lease expires (seconds since the epoch).
LEASE_COLUMNS = ("claim", "lease_until")

#: The columns of a dead letter row, as :func:`routilux.stores._decode.dead_letter` reads them.
LETTER_COLUMNS = (
    "letter_id, job_id, flow_id, routine_id, slot, data, attempt, error, created_at, replayed_by"
)


@dataclass(frozen=True, slots=True)
class Statements:
    """The fixed statements, with ``?`` placeholders; see :func:`Statements.build`.

    The ownership statements (``claim_job``, ``renew_lease``, ``release_job``)
    and the checkpoint's ``update_job`` are each one compare-and-set: they
    change the job's row only while its claim is the one the caller holds.
    Lease times are taken from the database's clock (``now``), so that
    processes on several machines sharing one database agree on them.
    """

    insert_job: str
    update_job: str
    upsert_pending: str
    delete_pending: str
    clear_pending: str
    insert_history: str
    insert_error: str
    insert_log: str
    insert_output: str
    insert_job_log: str
    upsert_letter: str
    select_job: str
    select_pending: str
    select_history: str
    select_errors: str
    select_log: str
    select_outputs: str
    select_job_logs: str
    select_log_count: str
    delete_job: str
    delete_job_letters: str
    upsert_value: str
    clear_items: str
    upsert_item: str
    select_values: str
    select_items: str
    claim_job: str
    renew_lease: str
    release_job: str
    select_claim: str
    select_letter: str
    mark_replayed: str
    mark_replayed_if: str

    @classmethod
    def build(cls, prefix: str = "", mark: str = "?", *, now: str) -> Statements:
        """The statements for tables named ``{prefix}jobs`` etc., with ``mark`` placeholders.

        Args:
            prefix: Put before every table name.
            mark: The driver's placeholder.
            now: An SQL expression of the database's time, in seconds since the epoch.
        """
        p = prefix
        leased = f"{now} + ?"
        statements = cls(
            insert_job=f"INSERT INTO {p}jobs ({', '.join(JOB_ROW)}, {', '.join(LEASE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(JOB_ROW))}, 1, {leased}) "
            "ON CONFLICT (job_id) DO NOTHING RETURNING job_id",
            update_job=f"UPDATE {p}jobs SET status = ?, updated_at = ?, updated_us = ?, "
            "current_routine_id = ?, error = ?, deliveries = ?, next_seq = ?, "
            "shared_data = COALESCE(?, shared_data), "
            "routine_states = COALESCE(?, routine_states), "
            "deferred_events = COALESCE(?, deferred_events), "
            "engine_states = COALESCE(?, engine_states), "
            "history_count = history_count + ?, error_count = error_count + ?, "
            "log_count = log_count + ?, output_count = output_count + ?, "
            f"{LOG_COUNT} = {LOG_COUNT} + ? "
            "WHERE job_id = ? AND claim = COALESCE(?, claim) "
            f"RETURNING history_count, error_count, log_count, output_count, {LOG_COUNT}",
            upsert_pending=f"INSERT INTO {p}pending_deliveries "
            "(job_id, seq, routine_id, slot, data, attempt, not_before, hops, context) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, seq) DO UPDATE SET "
            "routine_id = excluded.routine_id, slot = excluded.slot, data = excluded.data, "
            "attempt = excluded.attempt, not_before = excluded.not_before, hops = excluded.hops, "
            "context = excluded.context",
            delete_pending=f"DELETE FROM {p}pending_deliveries WHERE job_id = ? AND seq = ?",
            clear_pending=f"DELETE FROM {p}pending_deliveries WHERE job_id = ?",
            insert_history=f"INSERT INTO {p}history (job_id, position, event) VALUES (?, ?, ?)",
            insert_error=f"INSERT INTO {p}errors (job_id, position, record) VALUES (?, ?, ?)",
            insert_log=f"INSERT INTO {p}shared_log (job_id, position, entry) VALUES (?, ?, ?)",
            insert_output=f"INSERT INTO {p}outputs (job_id, position, entry) VALUES (?, ?, ?)",
            insert_job_log=f"INSERT INTO {p}job_logs (job_id, position, record) VALUES (?, ?, ?)",
            upsert_letter=f"INSERT INTO {p}dead_letters ({LETTER_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (letter_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in LETTER_COLUMNS.split(", ")[1:]),
            select_job=f"SELECT {JOB_COLUMNS}, {LOG_COUNT}, {', '.join(LEASE_COLUMNS)}, {now} "
            f"FROM {p}jobs WHERE job_id = ?",
            select_pending="SELECT seq, routine_id, slot, data, attempt, not_before, hops, context "
            f"FROM {p}pending_deliveries WHERE job_id = ? ORDER BY seq",
            select_history=f"SELECT event FROM {p}history WHERE job_id = ? ORDER BY position",
            select_errors=f"SELECT record FROM {p}errors WHERE job_id = ? ORDER BY position",
            select_log=f"SELECT entry FROM {p}shared_log WHERE job_id = ? ORDER BY position",
            select_outputs=f"SELECT entry FROM {p}outputs WHERE job_id = ? ORDER BY position",
            # A limit is added to it when one is asked for.
            select_job_logs=f"SELECT position, record FROM {p}job_logs "
            "WHERE job_id = ? AND position >= ? ORDER BY position",
            select_log_count=f"SELECT {LOG_COUNT} FROM {p}jobs WHERE job_id = ?",
            delete_job=f"DELETE FROM {p}jobs WHERE job_id = ? RETURNING job_id",
            delete_job_letters=f"DELETE FROM {p}dead_letters WHERE job_id = ?",
            upsert_value=f"INSERT INTO {p}job_values (job_id, routine_id, name, value) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (job_id, routine_id, name) DO UPDATE SET "
            "value = excluded.value",
            clear_items=f"DELETE FROM {p}job_value_items "
            "WHERE job_id = ? AND routine_id = ? AND name = ?",
            upsert_item=f"INSERT INTO {p}job_value_items "
            "(job_id, routine_id, name, position, item) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (job_id, routine_id, name, position) DO UPDATE SET item = excluded.item",
            select_values=f"SELECT routine_id, name, value FROM {p}job_values WHERE job_id = ?",
            select_items=f"SELECT routine_id, name, position, item FROM {p}job_value_items "
            "WHERE job_id = ? ORDER BY routine_id, name, position",
            claim_job=f"UPDATE {p}jobs SET owner = ?, claim = claim + 1, lease_until = {leased} "
            "WHERE job_id = ? AND claim = ? RETURNING claim",
            renew_lease=f"UPDATE {p}jobs SET lease_until = {leased} "
            "WHERE job_id = ? AND claim = ? RETURNING claim",
            release_job=f"UPDATE {p}jobs SET lease_until = {now} "
            "WHERE job_id = ? AND claim = ? AND lease_until IS NOT NULL",
            select_claim=f"SELECT owner, claim, lease_until, {now} FROM {p}jobs WHERE job_id = ?",
            select_letter=f"SELECT {LETTER_COLUMNS} FROM {p}dead_letters WHERE letter_id = ?",
            mark_replayed=f"UPDATE {p}dead_letters SET replayed_by = ? WHERE letter_id = ? "
            "RETURNING letter_id",
            mark_replayed_if=f"UPDATE {p}dead_letters SET replayed_by = ? WHERE letter_id = ? "
            "AND (replayed_by = CAST(? AS TEXT) "
            "OR (replayed_by IS NULL AND CAST(? AS TEXT) IS NULL)) RETURNING letter_id",
        )
        if mark == "?":
            return statements
        texts = {f.name: getattr(statements, f.name).replace("?", mark) for f in fields(cls)}
        return cls(**texts)
