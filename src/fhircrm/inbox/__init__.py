"""The conversation inbox: one thread per patient and topic, with owner, state and service-level clocks.

A thread is a FHIR Task (code ``conversation``); its messages are Communications with ``partOf`` the thread.
Escalation creates another Task ``partOf`` the thread, so the conversation stays whole.
"""
