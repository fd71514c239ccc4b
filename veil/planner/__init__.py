"""Where a statement runs: table resolution and whole-statement pushdown, cross-source
plans (``federation``), the plan cache's keys, and the verifier that proves each
planned SQL reads only what policies allow."""
