"""The cost ledger as a FOCUS 1.2 CostAndUsage dataset (docs/finops.md).

A plug-in declares how its cost family maps to FOCUS (`mapping.CostMapping`, on its `Plugin`);
`dataset` reads the ledger's daily history (`charges`) from the state file and yields one row
per day and cost series; `writers` turns rows into CSV or Parquet, streaming.
"""
