"""Bulk Data Access: ``$export`` and ``$import`` as durable, resumable jobs, their files kept in the database."""
