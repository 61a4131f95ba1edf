-- Material type codes of the reference data (docs/contracts.md section 2). Extend, don't rename.
INSERT INTO lms.material_type (code, description) VALUES
    ('BOOK', 'Bok'),
    ('LARGE_PRINT', 'Bok med stor skrift'),
    ('AUDIOBOOK_CD', 'Lydbok på CD'),
    ('AUDIOBOOK_CASSETTE', 'Lydbok på kassett'),
    ('AUDIOBOOK_DAISY', 'Lydbok, DAISY'),
    ('AUDIOBOOK_ONLINE', 'Nedlastbar lydbok'),
    ('EBOOK', 'E-bok'),
    ('NEWSPAPER', 'Avis'),
    ('SERIAL', 'Tidsskrift'),
    ('MUSICAL_SCORE', 'Noter'),
    ('MANUSCRIPT', 'Manuskript'),
    ('DVD', 'Film på DVD'),
    ('BLURAY', 'Film på Blu-ray'),
    ('VIDEO_GAME', 'Dataspill'),
    ('MUSIC_CD', 'Musikk på CD'),
    ('BOARD_GAME', 'Brettspill'),
    ('EQUIPMENT', 'Utstyr')
ON CONFLICT (code) DO NOTHING;
