"""What the commands say about a job and its dead letters: :mod:`routilux.reports`."""

from routilux.reports import error_dict, iso_time, job_report, letter_dict

__all__ = ["error_dict", "iso_time", "job_report", "letter_dict"]
