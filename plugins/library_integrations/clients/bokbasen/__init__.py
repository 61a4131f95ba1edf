"""Clients of Bokbasen's APIs.

=====================  ==================================================================
``errors``             typed errors: retry later vs. the report is wrong vs. configuration
``loans``              :class:`BokbasenHook`: POST loan reports to the Library Loans API
=====================  ==================================================================
"""
