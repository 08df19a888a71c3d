"""The job store protocol, kept in the model (``routilux._model.store``) and re-exported here."""

from routilux._model.store import FINISHED_STATUSES, JobStore, check_store

__all__ = ["FINISHED_STATUSES", "JobStore", "check_store"]
