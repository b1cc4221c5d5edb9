"""People's views of the stored day results: the daily HTML report, the period report and their figures.

Every view renders `DayResult`s (today's, and the stored `result.json` of earlier days) and reads nothing else.
"""
