-- description: The corpus at a glance: articles, sources, dates, mentions, loads and rejects.
-- params:
SELECT * FROM report_overview
