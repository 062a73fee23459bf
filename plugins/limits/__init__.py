"""Rate limits and budgets: rules (rules.py), the shared window algorithm in two
backends (windows.py in process, redis_backend.py across replicas) and the
admission hooks (admission.py)."""
