"""The formula engine: a formula parsed, its design as arrays, the sampling policy, the
compiled log density and the result it completes (see ARCHITECTURE.md)."""
