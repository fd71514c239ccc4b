"""Statements as PostgreSQL reads them: splitting and classification, utility statements,
statement limits, parameter types, session settings, result column names and origins,
CTE scopes. Pure functions over parse trees."""
