"""The long-running reconciler: triggers wake one loop that applies git to ECS."""
