"""Client of Norway's national patron registry (*Nasjonalt lånerregister*, the *Bibliotekkortet*).

Everything protocol-specific lives here, behind the small interface
:class:`~.interface.PatronRegistry` (search, changes since, create, update, remove relation,
check card number), so the REST API the operator also documents can replace SOAP later:

=====================  ==================================================================
``interface``          :class:`PatronRegistry`: what the pipelines call
``models``             :class:`RegistryPatron` (the registry's ``Laaner``) and the typed
                       replies: :class:`Lookup`, :class:`WriteReply`, :class:`ChangesPage`,
                       :class:`CardCheck`; ``repr`` never shows personal data
``soap``               :class:`SoapPatronRegistry`: SOAP 1.1 RPC over ``requests`` + ``lxml``
``config``             the connection ``patron_registry`` resolved for one library:
                       endpoint, Basic-auth credentials, vendor PIN key, timeouts, retries
``pin``                AES-128-ECB/PKCS#5 hex PIN encryption with the vendor's key
``cards``              national card numbers (``N`` + 9 digits) and reserved series
``privacy``            the registry's ``melding`` scrubbed of personal data
``errors``             typed errors (transport, refused credentials, configuration)
=====================  ==================================================================

What a per-patron answer means is a value, not an exception: ``status`` true is done,
``status`` false with ``ingen treff`` is a miss, any other ``status`` false is a refusal
carrying the registry's (scrubbed) ``melding``. Exceptions are for what concerns the whole
library: the registry unreachable after the retry budget, credentials refused, a broken
configuration.
"""
