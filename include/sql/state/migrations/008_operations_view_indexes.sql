-- Migration 008: indexes for the operations view's calendar of the loan report (300 agencies x 365
-- days in one query, include/sql/operations/loan_calendar.sql).
--
-- "Resent after a change": an accepted agency-day for which Bokbasen also accepted a report with
-- another payload. The calendar asks this of every cell; this partial index answers each question
-- from the index alone (accepted events only, the payload hash included), instead of reading
-- every event of the day from the table.
CREATE INDEX submission_event_accepted
    ON pipeline_state.submission_event (isil, report_date) INCLUDE (payload_sha256)
    WHERE event = 'accepted';
COMMENT ON INDEX pipeline_state.submission_event_accepted IS
    'Operations view: accepted reports per agency-day with their payload hash (was a day resent after a change?)';
