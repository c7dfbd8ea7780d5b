"""Gateway: the only way user SQL reaches an engine. `plan` parses SQL in any dialect, allows only
queries over allowlisted functions and catalog datasets, checks ``select`` per dataset and applies
the user's data policies (masks, row filters) at every table reference, in DuckDB SQL."""
from .model import Dataset, GatewayError, Plan
from .plan import plan
from .policies import DataPolicy, PolicyError, parse_data_policy

__all__ = ["DataPolicy", "Dataset", "GatewayError", "Plan", "PolicyError", "parse_data_policy", "plan"]
