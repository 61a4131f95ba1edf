"""The HTTP client layer shared by every API client (Bokbasen's loans API and Export Service, NB).

Small modules, after dlt's ``rest_client``; a client composes them (see
:mod:`library_integrations.clients.bokbasen.loans`):

==================  ======================================================================
``errors``          typed errors (retry later / request rejected / auth / forbidden /
                    configuration) and :class:`ErrorTypes`, a client's own subclasses
``results``         :class:`SendResult`: what happened when a request was accepted
``retry``           :class:`RetryPolicy`, the budget, ``Retry-After`` parsing, and the
                    one retry loop :func:`send_with_retries`
``auth``            :class:`OAuth2ClientCredentials` (a ``requests`` auth object) and the
                    :class:`TokenStore` protocol it keeps tokens in
``redaction``       secrets and tokens replaced by ``***``, long texts clipped
``messages``        the API's own error message from a JSON, XML or text body
``session``         a clean ``requests`` session (no .netrc, no stray headers)
``options``         per-connection extras: timeouts, attempts, retry budget
``pagination``      the next page from ``Link``/``Next`` headers
==================  ======================================================================

This package imports nothing from ``clients``, ``state`` or ``pipelines``: a token cache in
the database is handed in by the client, as any object satisfying :class:`TokenStore`.
"""
