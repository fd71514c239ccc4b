"""Cross-source plans: fragments cut out of a statement, subqueries one source
answers alone, pre-aggregation, dynamic filters."""
