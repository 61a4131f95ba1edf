"""NB monthly loan statistics at ISBN level (DAG ``nb_loan_statistics``).

Once a month, for every public library of this library system that consented to automatic
delivery **and** to publication, the number of first-time loans per ISBN (with title,
ordningsord, publication year, skjønn/fag, barn/voksen and borrower category) of one
Europe/Oslo calendar month, aggregated in the database, as one CSV file and a JSON manifest
delivered to Nasjonalbiblioteket over SFTP (or to an object-storage path).

Modules: :mod:`.settings` (``NB_STATISTICS_*``), :mod:`.config` (the file format and the
borrower categories, configuration in ``include/config/nb_*.toml``), :mod:`.source` (the
SQL in ``include/sql/nb_statistics``), :mod:`.fileformat` (file names, manifest, the
independent check of a written file), :mod:`.steps` (plain functions), :mod:`.tasks`
(Airflow glue) and :mod:`.payloads` (typed XCom payloads).
"""
