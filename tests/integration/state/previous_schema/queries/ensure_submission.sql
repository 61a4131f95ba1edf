-- Create the agency-day row if it does not exist yet (status pending).
INSERT INTO bokbasen_reporting.submission (isil, report_date)
VALUES (%(isil)s, %(report_date)s)
ON CONFLICT (isil, report_date) DO NOTHING
