"""Customer questions mined from chat logs, clustered and kept in one question bank across imports."""
