"""Clients of Bokbasen's APIs, built on the shared HTTP layer :mod:`library_integrations.http`.

=====================  ==================================================================
``errors``             typed errors: retry later vs. the report is wrong vs. configuration
``config``             the connection's settings: endpoint, credentials, audience, extras
``loans``              :class:`BokbasenHook`: POST loan reports to the Library Loans API
=====================  ==================================================================
"""
