-- The import's update: the registry's values over the local ones.
UPDATE lms.patron
SET national_id = %(national_id)s,
    name = %(name)s,
    birth_date = %(birth_date)s,
    gender = %(gender)s,
    address_line1 = %(address_line1)s,
    address_line2 = %(address_line2)s,
    postal_code = %(postal_code)s,
    city = %(city)s,
    country = %(country)s,
    email = %(email)s,
    phone = %(phone)s,
    pin_encrypted = %(pin_encrypted)s,
    pin_must_change = %(pin_must_change)s
WHERE id = %(id)s;
