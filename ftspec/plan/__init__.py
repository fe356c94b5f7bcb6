"""The planner: cost model (estimate), accelerator catalogue (hardware) and offline architectures."""
