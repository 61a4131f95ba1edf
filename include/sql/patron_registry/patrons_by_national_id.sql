SELECT id FROM lms.patron WHERE national_id = %(national_id)s ORDER BY id;
